//! LTTng-modules 2.13's layout of the kernel events that kernel analyses read
//! (scheduler, interrupts, block I/O, network, memory, high-resolution timers), for
//! the kernel running here (Linux ≥ 6.8): each event's LTTng name and its fields in
//! LTTng's order and types, and which ftrace field each is read from. Written from
//! lttng-modules' `include/instrumentation/events/{sched,irq,block,net,kmem,timer}.h`
//! (stable-2.13).
//!
//! Where the kernel's record lacks what LTTng records, the field is there with an
//! empty value: `kmem_mm_page_*`'s `page` (the `struct page` address; ftrace gives
//! the frame number, in `pfn`) is 0. A field whose ftrace source is missing from an
//! older kernel's format (`group_dead`, `vruntime`) is left out, as LTTng-modules
//! leaves it out on those kernels. `rwbs` is LTTng's bit set, made from ftrace's
//! letters (`WS` → write | sync).

use proto::event::{Base, FieldType, IntType};

/// A field's CTF type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Out {
    Int {
        bits: u8,
        signed: bool,
        hex: bool,
    },
    /// `char[16]` shown as text (`ctf_array_text`: the task's `comm`).
    Text16,
    /// A NUL-terminated string.
    Str,
}

impl Out {
    pub(super) fn field_type(self) -> FieldType {
        match self {
            Out::Int { bits, signed, hex } => FieldType::Integer(IntType::new(
                bits,
                signed,
                if hex { Base::Hex } else { Base::Dec },
            )),
            Out::Text16 => FieldType::Array {
                elem: IntType {
                    text: true,
                    ..IntType::new(8, true, Base::Dec)
                },
                len: 16,
            },
            Out::Str => FieldType::String,
        }
    }
}

/// Where a field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// The ftrace field of this name.
    Field(&'static str),
    /// A priority, less 100 (LTTng records `prio - MAX_RT_PRIO`).
    Prio(&'static str),
    /// ftrace's `rwbs` letters as LTTng's `RWBS_FLAG_*` bits.
    Rwbs(&'static str),
    /// The thread that made the record (`common_pid`: LTTng's `current->pid`).
    Tid,
    /// Nothing the kernel's record holds: 0.
    Zero,
}

/// One event's layout: ftrace name, LTTng name, fields.
pub(super) struct Layout {
    pub ftrace: &'static str,
    pub lttng: &'static str,
    pub fields: &'static [(&'static str, Out, Source)],
}

const I32: Out = Out::Int {
    bits: 32,
    signed: true,
    hex: false,
};
const U32: Out = Out::Int {
    bits: 32,
    signed: false,
    hex: false,
};
const I64: Out = Out::Int {
    bits: 64,
    signed: true,
    hex: false,
};
const U64: Out = Out::Int {
    bits: 64,
    signed: false,
    hex: false,
};
const X64: Out = Out::Int {
    bits: 64,
    signed: false,
    hex: true,
};
const U8: Out = Out::Int {
    bits: 8,
    signed: false,
    hex: false,
};
const T16: Out = Out::Text16;
const STR: Out = Out::Str;

use Source::{Field as F, Prio, Rwbs, Tid, Zero};

const WAKEUP: &[(&str, Out, Source)] = &[
    ("comm", T16, F("comm")),
    ("tid", I32, F("pid")),
    ("prio", I32, Prio("prio")),
    ("target_cpu", I32, F("target_cpu")),
];
const PROCESS: &[(&str, Out, Source)] = &[
    ("comm", T16, F("comm")),
    ("tid", I32, F("pid")),
    ("prio", I32, Prio("prio")),
];
const STAT: &[(&str, Out, Source)] = &[
    ("comm", T16, F("comm")),
    ("tid", I32, F("pid")),
    ("delay", U64, F("delay")),
];
const SOFTIRQ: &[(&str, Out, Source)] = &[("vec", U32, F("vec"))];
const HRTIMER: &[(&str, Out, Source)] = &[("hrtimer", X64, F("hrtimer"))];
const NET_DEV: &[(&str, Out, Source)] = &[
    ("skbaddr", X64, F("skbaddr")),
    ("len", U32, F("len")),
    ("name", STR, F("name")),
];
const BLOCK_RQ: &[(&str, Out, Source)] = &[
    ("dev", U32, F("dev")),
    ("sector", U64, F("sector")),
    ("nr_sector", U32, F("nr_sector")),
    ("bytes", U32, F("bytes")),
    ("tid", I32, Tid),
    ("rwbs", U32, Rwbs("rwbs")),
    ("comm", T16, F("comm")),
];
const BLOCK_DONE: &[(&str, Out, Source)] = &[
    ("dev", U32, F("dev")),
    ("sector", U64, F("sector")),
    ("nr_sector", U32, F("nr_sector")),
    ("error", I32, F("error")),
    ("rwbs", U32, Rwbs("rwbs")),
];
const BLOCK_BIO: &[(&str, Out, Source)] = &[
    ("dev", U32, F("dev")),
    ("sector", U64, F("sector")),
    ("nr_sector", U32, F("nr_sector")),
    ("rwbs", U32, Rwbs("rwbs")),
    ("tid", I32, Tid),
    ("comm", T16, F("comm")),
];

/// The layouts, by ftrace event name.
pub(super) const LAYOUTS: &[Layout] = &[
    Layout {
        ftrace: "sched_switch",
        lttng: "sched_switch",
        fields: &[
            ("prev_comm", T16, F("prev_comm")),
            ("prev_tid", I32, F("prev_pid")),
            ("prev_prio", I32, Prio("prev_prio")),
            ("prev_state", I64, F("prev_state")),
            ("next_comm", T16, F("next_comm")),
            ("next_tid", I32, F("next_pid")),
            ("next_prio", I32, Prio("next_prio")),
        ],
    },
    Layout {
        ftrace: "sched_wakeup",
        lttng: "sched_wakeup",
        fields: WAKEUP,
    },
    Layout {
        ftrace: "sched_waking",
        lttng: "sched_waking",
        fields: WAKEUP,
    },
    Layout {
        ftrace: "sched_wakeup_new",
        lttng: "sched_wakeup_new",
        fields: WAKEUP,
    },
    Layout {
        ftrace: "sched_process_exec",
        lttng: "sched_process_exec",
        fields: &[
            ("filename", STR, F("filename")),
            ("tid", I32, F("pid")),
            ("old_tid", I32, F("old_pid")),
        ],
    },
    Layout {
        ftrace: "sched_process_exit",
        lttng: "sched_process_exit",
        fields: &[
            ("comm", T16, F("comm")),
            ("tid", I32, F("pid")),
            ("prio", I32, Prio("prio")),
            ("group_dead", U8, F("group_dead")),
        ],
    },
    Layout {
        ftrace: "sched_process_free",
        lttng: "sched_process_free",
        fields: PROCESS,
    },
    Layout {
        ftrace: "sched_wait_task",
        lttng: "sched_wait_task",
        fields: PROCESS,
    },
    Layout {
        ftrace: "sched_process_wait",
        lttng: "sched_process_wait",
        fields: PROCESS,
    },
    Layout {
        ftrace: "sched_migrate_task",
        lttng: "sched_migrate_task",
        fields: &[
            ("comm", T16, F("comm")),
            ("tid", I32, F("pid")),
            ("prio", I32, Prio("prio")),
            ("orig_cpu", I32, F("orig_cpu")),
            ("dest_cpu", I32, F("dest_cpu")),
        ],
    },
    Layout {
        ftrace: "sched_stat_runtime",
        lttng: "sched_stat_runtime",
        fields: &[
            ("comm", T16, F("comm")),
            ("tid", I32, F("pid")),
            ("runtime", U64, F("runtime")),
            ("vruntime", U64, F("vruntime")),
        ],
    },
    Layout {
        ftrace: "sched_stat_wait",
        lttng: "sched_stat_wait",
        fields: STAT,
    },
    Layout {
        ftrace: "sched_stat_sleep",
        lttng: "sched_stat_sleep",
        fields: STAT,
    },
    Layout {
        ftrace: "sched_stat_iowait",
        lttng: "sched_stat_iowait",
        fields: STAT,
    },
    Layout {
        ftrace: "sched_stat_blocked",
        lttng: "sched_stat_blocked",
        fields: STAT,
    },
    Layout {
        ftrace: "sched_pi_setprio",
        lttng: "sched_pi_setprio",
        fields: &[
            ("comm", T16, F("comm")),
            ("tid", I32, F("pid")),
            ("oldprio", I32, Prio("oldprio")),
            ("newprio", I32, Prio("newprio")),
        ],
    },
    Layout {
        ftrace: "sched_kthread_stop",
        lttng: "sched_kthread_stop",
        fields: &[("comm", T16, F("comm")), ("tid", I32, F("pid"))],
    },
    Layout {
        ftrace: "sched_kthread_stop_ret",
        lttng: "sched_kthread_stop_ret",
        fields: &[("ret", I32, F("ret"))],
    },
    Layout {
        ftrace: "irq_handler_entry",
        lttng: "irq_handler_entry",
        fields: &[("irq", I32, F("irq")), ("name", STR, F("name"))],
    },
    Layout {
        ftrace: "irq_handler_exit",
        lttng: "irq_handler_exit",
        fields: &[("irq", I32, F("irq")), ("ret", I32, F("ret"))],
    },
    Layout {
        ftrace: "softirq_entry",
        lttng: "irq_softirq_entry",
        fields: SOFTIRQ,
    },
    Layout {
        ftrace: "softirq_exit",
        lttng: "irq_softirq_exit",
        fields: SOFTIRQ,
    },
    Layout {
        ftrace: "softirq_raise",
        lttng: "irq_softirq_raise",
        fields: SOFTIRQ,
    },
    Layout {
        ftrace: "hrtimer_init",
        lttng: "timer_hrtimer_init",
        fields: &[
            ("hrtimer", X64, F("hrtimer")),
            ("clockid", I32, F("clockid")),
            ("mode", U32, F("mode")),
        ],
    },
    // Linux 6.15 renamed hrtimer_init hrtimer_setup; the event is the same.
    Layout {
        ftrace: "hrtimer_setup",
        lttng: "timer_hrtimer_init",
        fields: &[
            ("hrtimer", X64, F("hrtimer")),
            ("clockid", I32, F("clockid")),
            ("mode", U32, F("mode")),
        ],
    },
    Layout {
        ftrace: "hrtimer_start",
        lttng: "timer_hrtimer_start",
        fields: &[
            ("hrtimer", X64, F("hrtimer")),
            ("function", X64, F("function")),
            ("expires", I64, F("expires")),
            ("softexpires", I64, F("softexpires")),
            ("mode", U32, F("mode")),
        ],
    },
    Layout {
        ftrace: "hrtimer_expire_entry",
        lttng: "timer_hrtimer_expire_entry",
        fields: &[
            ("hrtimer", X64, F("hrtimer")),
            ("now", I64, F("now")),
            ("function", X64, F("function")),
        ],
    },
    Layout {
        ftrace: "hrtimer_expire_exit",
        lttng: "timer_hrtimer_expire_exit",
        fields: HRTIMER,
    },
    Layout {
        ftrace: "hrtimer_cancel",
        lttng: "timer_hrtimer_cancel",
        fields: HRTIMER,
    },
    Layout {
        ftrace: "mm_page_alloc",
        lttng: "kmem_mm_page_alloc",
        fields: &[
            ("page", X64, Zero),
            ("pfn", U64, F("pfn")),
            ("order", U32, F("order")),
            ("gfp_flags", U32, F("gfp_flags")),
            ("migratetype", I32, F("migratetype")),
        ],
    },
    Layout {
        ftrace: "mm_page_free",
        lttng: "kmem_mm_page_free",
        fields: &[
            ("page", X64, Zero),
            ("pfn", U64, F("pfn")),
            ("order", U32, F("order")),
        ],
    },
    Layout {
        ftrace: "net_dev_xmit",
        lttng: "net_dev_xmit",
        fields: &[
            ("skbaddr", X64, F("skbaddr")),
            ("rc", I32, F("rc")),
            ("len", U32, F("len")),
            ("name", STR, F("name")),
        ],
    },
    Layout {
        ftrace: "net_dev_queue",
        lttng: "net_dev_queue",
        fields: NET_DEV,
    },
    Layout {
        ftrace: "netif_receive_skb",
        lttng: "net_if_receive_skb",
        fields: NET_DEV,
    },
    Layout {
        ftrace: "netif_rx",
        lttng: "net_if_rx",
        fields: NET_DEV,
    },
    Layout {
        ftrace: "block_rq_issue",
        lttng: "block_rq_issue",
        fields: BLOCK_RQ,
    },
    Layout {
        ftrace: "block_rq_insert",
        lttng: "block_rq_insert",
        fields: BLOCK_RQ,
    },
    Layout {
        ftrace: "block_rq_complete",
        lttng: "block_rq_complete",
        fields: BLOCK_DONE,
    },
    Layout {
        ftrace: "block_rq_requeue",
        lttng: "block_rq_requeue",
        fields: &[
            ("dev", U32, F("dev")),
            ("sector", U64, F("sector")),
            ("nr_sector", U32, F("nr_sector")),
            ("rwbs", U32, Rwbs("rwbs")),
        ],
    },
    Layout {
        ftrace: "block_bio_complete",
        lttng: "block_bio_complete",
        fields: BLOCK_DONE,
    },
    Layout {
        ftrace: "block_bio_queue",
        lttng: "block_bio_queue",
        fields: BLOCK_BIO,
    },
    Layout {
        ftrace: "block_bio_backmerge",
        lttng: "block_bio_backmerge",
        fields: BLOCK_BIO,
    },
    Layout {
        ftrace: "block_bio_frontmerge",
        lttng: "block_bio_frontmerge",
        fields: BLOCK_BIO,
    },
    Layout {
        ftrace: "block_bio_bounce",
        lttng: "block_bio_bounce",
        fields: BLOCK_BIO,
    },
    Layout {
        ftrace: "block_bio_remap",
        lttng: "block_bio_remap",
        fields: &[
            ("dev", U32, F("dev")),
            ("sector", U64, F("sector")),
            ("nr_sector", U32, F("nr_sector")),
            ("rwbs", U32, Rwbs("rwbs")),
            ("old_dev", U32, F("old_dev")),
            ("old_sector", U64, F("old_sector")),
        ],
    },
];

/// The layout of ftrace event `name`, if LTTng-modules instruments it here.
pub(super) fn of(name: &str) -> Option<&'static Layout> {
    LAYOUTS.iter().find(|l| l.ftrace == name)
}

/// LTTng's `RWBS_FLAG_*` bits of ftrace's `rwbs` letters (`blk_fill_rwbs`: an `F`
/// for a preflush, the operation — `W`, `D` (`DE`: secure erase), `F`lush, `R`, `N`
/// — then `F`ua, `A` (read-ahead), `S`ync, `M`eta).
pub(super) fn rwbs_flags(letters: &[u8]) -> u32 {
    const WRITE: u32 = 1 << 0;
    const DISCARD: u32 = 1 << 1;
    const READ: u32 = 1 << 2;
    const RAHEAD: u32 = 1 << 3;
    const SYNC: u32 = 1 << 5;
    const META: u32 = 1 << 6;
    const SECURE: u32 = 1 << 7;
    const FLUSH: u32 = 1 << 8;
    const FUA: u32 = 1 << 9;
    const PREFLUSH: u32 = 1 << 10;
    let end = letters
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(letters.len());
    let mut s = &letters[..end];
    let mut flags = 0;
    if s.len() > 1 && s[0] == b'F' && matches!(s[1], b'W' | b'D' | b'F' | b'R' | b'N') {
        flags |= PREFLUSH;
        s = &s[1..];
    }
    let Some((&op, mut rest)) = s.split_first() else {
        return flags;
    };
    flags |= match op {
        b'W' => WRITE,
        b'D' if rest.first() == Some(&b'E') => {
            rest = &rest[1..];
            DISCARD | SECURE
        }
        b'D' => DISCARD,
        b'F' => FLUSH,
        b'R' => READ,
        _ => 0,
    };
    for &c in rest {
        flags |= match c {
            b'F' => FUA,
            b'A' => RAHEAD,
            b'S' => SYNC,
            b'M' => META,
            _ => 0,
        };
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rwbs_letters_become_lttng_bits() {
        assert_eq!(rwbs_flags(b"R\0\0"), 1 << 2);
        assert_eq!(rwbs_flags(b"WS"), 1 | 1 << 5);
        assert_eq!(rwbs_flags(b"FWFS"), 1 << 10 | 1 | 1 << 9 | 1 << 5);
        assert_eq!(rwbs_flags(b"RA"), 1 << 2 | 1 << 3);
        assert_eq!(rwbs_flags(b"DE"), 1 << 1 | 1 << 7);
        assert_eq!(rwbs_flags(b"F"), 1 << 8);
        assert_eq!(rwbs_flags(b"N"), 0);
        assert_eq!(rwbs_flags(b""), 0);
    }

    #[test]
    fn names_are_unique_per_ftrace_event() {
        let mut names: Vec<_> = LAYOUTS.iter().map(|l| l.ftrace).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
