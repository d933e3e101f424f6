//! Kernel events as LTTng-modules names them, built from ftrace's `format` files.
//!
//! [`KernelSchema::new`] turns the formats of the enabled events (in a given order)
//! into CTF event classes with stable ids, and [`KernelSchema::encode`] turns one
//! ftrace record payload into the CTF payload of its class. The session daemon uses the
//! classes for the kernel trace's metadata and the kernel consumer uses the encoder:
//! both build the schema from the same formats in the same order, so ids agree.
//!
//! Names follow LTTng-modules where Trace Compass's kernel analyses look for them:
//! `common_*` fields are dropped; in `sched_*` events a `pid` field becomes `tid`
//! (`prev_pid` → `prev_tid`, ...) and priorities are shifted by −100 as LTTng records
//! them; `raw_syscalls:sys_enter`/`sys_exit` become one class per system call with
//! LTTng-modules' fields (see [`syscall`] and [`crate::syscalls`]); `softirq_*` become
//! `irq_softirq_*`, `hrtimer_*` and `itimer_*` become
//! `timer_hrtimer_*` and `timer_itimer_*`. Other events keep their ftrace name and
//! fields. Strings (`char[N]`,
//! `__data_loc`) become NUL-terminated CTF strings.
//!
//! The file name of `syscall_entry_open` and `syscall_entry_openat` is not in the
//! kernel's record, which has only the path's address; it comes from a path probe
//! ([`proto::ftrace::PATH_PROBES`], uprobes on the C library that privd defines, and on
//! the dynamic loader's own `openat` calls), whose record the encoder keeps in
//! [`PathHints`] and joins to the same thread's next system call entry. Without a
//! probe record (no probe, a program that makes the system call itself) `filename` is
//! empty.
//!
//! A 32-bit program's system calls are `compat_syscall_entry_<name>` and
//! `compat_syscall_exit_<name>`, names from the i386 table, as LTTng names them: which
//! programs are 32-bit, the encoder learns from each program's first system call
//! after its `sched_process_exec` (see [`Tasks`]).
//!
//! `sched_process_fork` gets LTTng's `parent_pid` and `child_pid` (process ids) beside
//! the thread ids ftrace records (`parent_tid`, `child_tid`): the encoder keeps which
//! process each thread belongs to ([`Tasks`]), from the statedump and from the forks
//! themselves, and `task:task_newtask`, which the session daemon enables with the fork
//! event, says whether the new task is a thread (`CLONE_THREAD`: the parent's process)
//! or a process of its own.
//!
//! The payload is untrusted (it comes from ftrace pages a consumer reads): every read
//! is bounds-checked and a record that does not fit its format is refused (`None`).

use std::collections::HashMap;

use proto::event::{
    Base, Contexts, EventDesc, FieldDesc, FieldType, IntType, KernelContext, LogLevel,
};
use proto::ftrace::{is_path_probe, EventFormat, Field, FieldKind, PATH_PROBE_FIELD};
use proto::wire::consumer::ProcessState;

use crate::metadata::EventClass;

mod context;
mod layout;
mod state;
mod syscall;
#[cfg(test)]
mod tests;

pub use context::Threads;
use state::CLONE_THREAD;
pub use state::{PathHints, SessionState, Tasks, PATH_WINDOW};
#[cfg(test)]
use state::{MAX_PATH, MAX_PENDING_PATHS, MAX_PENDING_TASKS, MAX_TASKS};
pub use syscall::Entries;

/// How one output field is read from the ftrace payload.
#[derive(Clone, Debug)]
enum Plan {
    /// An ftrace field as it is (an event LTTng-modules does not instrument).
    Same(Field),
    /// A field of LTTng's layout ([`layout`]); `src` for the sources that read one.
    Lttng {
        src: Option<Field>,
        from: layout::Source,
        out: layout::Out,
    },
}

impl Plan {
    /// The plans and fields of LTTng's `layout` for the ftrace fields `fields`.
    fn of_layout(l: &layout::Layout, fields: &[Field]) -> (Vec<Plan>, Vec<FieldDesc>) {
        let mut plans = Vec::new();
        let mut descs = Vec::new();
        for &(name, out, from) in l.fields {
            let src = match from {
                layout::Source::Field(n) | layout::Source::Prio(n) | layout::Source::Rwbs(n) => {
                    // A field an older kernel lacks: LTTng-modules leaves it out there too.
                    let Some(f) = fields.iter().find(|f| f.name == n) else {
                        continue;
                    };
                    let text = matches!(
                        f.kind,
                        FieldKind::CharArray | FieldKind::DataLocString | FieldKind::RelLocString
                    );
                    let fits = match from {
                        layout::Source::Rwbs(_) => f.kind == FieldKind::CharArray,
                        layout::Source::Prio(_) => matches!(f.kind, FieldKind::Integer { .. }),
                        _ => match out {
                            layout::Out::Int { .. } => matches!(f.kind, FieldKind::Integer { .. }),
                            layout::Out::Text16 | layout::Out::Str => text,
                        },
                    };
                    if !fits {
                        continue;
                    }
                    Some(f.clone())
                }
                layout::Source::Tid | layout::Source::Zero => None,
            };
            plans.push(Plan::Lttng { src, from, out });
            descs.push(FieldDesc {
                name: name.into(),
                ty: out.field_type(),
            });
        }
        (plans, descs)
    }
}

#[derive(Clone, Debug)]
enum Decoder {
    Plain {
        class: u32,
        plans: Vec<Plan>,
    },
    /// `raw_syscalls:sys_enter`: one class per system call (see [`syscall`]).
    SysEnter {
        classes: syscall::Classes,
        id: Field,
        args: Field,
    },
    /// A path probe's record: no event of its own, its path waits in [`PathHints`].
    PathHint {
        path: Field,
    },
    /// `sched_process_fork`, with the process ids ftrace does not record.
    Fork {
        class: u32,
        parent_comm: Field,
        parent_tid: Field,
        child_comm: Field,
        child_tid: Field,
    },
    /// `task_newtask`: an event of its own, and whether the new task is a thread (for
    /// the fork event that follows).
    NewTask {
        class: u32,
        plans: Vec<Plan>,
        tid: Field,
        clone_flags: Field,
    },
    SysExit {
        classes: syscall::Classes,
        id: Field,
        ret: Field,
    },
    /// `sched_process_exec`: the new image's first system call tells whether it is a
    /// 32-bit program (see [`Tasks`]).
    Exec {
        class: u32,
        plans: Vec<Plan>,
        tid: Field,
        filename: Option<Field>,
    },
    /// `sched_switch`: also the names and priorities of the two threads (for the
    /// `procname` and `prio` contexts), `prev_*` then `next_*` tid, comm, prio.
    Switch {
        class: u32,
        plans: Vec<Plan>,
        threads: Box<[Field; 6]>,
    },
}

/// The kernel trace's event classes and how to encode records into them.
#[derive(Clone, Debug, Default)]
pub struct KernelSchema {
    pub classes: Vec<EventClass>,
    /// The context fields `lttng add-context -k` added, after `vtid` (see
    /// [`context`]).
    contexts: Vec<KernelContext>,
    /// The `hostname` context's bytes.
    hostname: Vec<u8>,
    by_id: HashMap<u16, Decoder>,
    /// Whether some path probe is among the formats.
    path_probes: bool,
    /// The classes of the statedump (the last three).
    pub statedump: StatedumpClasses,
}

/// The class ids of LTTng's statedump events, which describe the processes that exist
/// when tracing starts (Trace Compass names threads that never ran, or ran before the
/// trace, from them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatedumpClasses {
    pub start: u32,
    pub process_state: u32,
    pub end: u32,
}

/// What [`KernelSchema::encode`] made of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoded {
    /// A CTF event of this class.
    Event(u32),
    /// A path probe's record, kept for the thread's next system call: nothing to write.
    Absorbed,
}

fn int(bits: u32, signed: bool) -> IntType {
    IntType::new(bits as u8, signed, Base::Dec)
}

fn out_type(f: &Field) -> Option<FieldType> {
    Some(match f.kind {
        FieldKind::Integer { signed } => FieldType::Integer(int(f.size * 8, signed)),
        FieldKind::Array { len, signed } => FieldType::Array {
            elem: int(f.size / len * 8, signed),
            len,
        },
        FieldKind::CharArray
        | FieldKind::DataLocString
        | FieldKind::RelLocString
        | FieldKind::Rest => FieldType::String,
    })
}

/// LTTng's name for the ftrace event `event` (without its system): LTTng-modules'
/// for the events it instruments ([`layout`]: `kmem_mm_page_alloc`,
/// `net_if_receive_skb`, ...); otherwise softirq and hrtimer events under their
/// subsystem's prefix as lttng-modules ≥ 2.7 names them (Trace Compass's kernel
/// analyses look for those names), and the ftrace name.
pub fn lttng_event_name(event: &str) -> String {
    if let Some(l) = layout::of(event) {
        return l.lttng.to_string();
    }
    if event.starts_with("softirq_") {
        format!("irq_{event}")
    } else if event.starts_with("hrtimer_") || event.starts_with("itimer_") {
        format!("timer_{event}")
    } else {
        event.to_string()
    }
}

/// LTTng's name for a field of event `event`.
fn lttng_field_name(event: &str, field: &str) -> String {
    if event.starts_with("sched_") {
        if field == "pid" {
            return "tid".into();
        }
        if let Some(p) = field.strip_suffix("_pid") {
            return format!("{p}_tid");
        }
    }
    field.to_string()
}

fn desc(name: String, fields: Vec<FieldDesc>) -> EventDesc {
    EventDesc {
        provider: String::new(),
        name,
        loglevel: LogLevel::Emerg,
        model_emf_uri: None,
        fields,
    }
}

impl KernelSchema {
    /// The schema of `formats` (the enabled events, in this order), all in stream 0.
    pub fn new(formats: &[EventFormat]) -> KernelSchema {
        KernelSchema::with_contexts(formats, &[], "")
    }

    /// The same, every event with the context fields `contexts` after `vtid` (a
    /// context named twice, or `vtid` itself, is recorded once), `hostname` the
    /// `hostname` context's value.
    pub fn with_contexts(
        formats: &[EventFormat],
        contexts: &[KernelContext],
        hostname: &str,
    ) -> KernelSchema {
        let mut s = KernelSchema::default();
        for c in contexts {
            if *c != KernelContext::Vtid && !s.contexts.contains(c) {
                s.contexts.push(*c);
            }
        }
        s.hostname = hostname.as_bytes().to_vec();
        let push = |s: &mut KernelSchema, d: EventDesc| -> u32 {
            let id = s.classes.len() as u32;
            s.classes.push(EventClass {
                id,
                stream_id: 0,
                desc: d,
            });
            id
        };
        for f in formats {
            let field = |n: &str| f.fields.iter().find(|x| x.name == n).cloned();
            match f.name.as_str() {
                "sys_enter" | "sys_exit" => {
                    let enter = f.name == "sys_enter";
                    let (Some(id), Some(other)) =
                        (field("id"), field(if enter { "args" } else { "ret" }))
                    else {
                        continue;
                    };
                    let fits = if enter {
                        syscall::is_args(&other)
                    } else {
                        matches!(other.kind, FieldKind::Integer { .. }) && other.size == 8
                    };
                    if !fits || !matches!(id.kind, FieldKind::Integer { .. }) {
                        continue;
                    }
                    let classes = syscall::Classes::new(enter, |d| push(&mut s, d));
                    let d = if enter {
                        Decoder::SysEnter {
                            classes,
                            id,
                            args: other,
                        }
                    } else {
                        Decoder::SysExit {
                            classes,
                            id,
                            ret: other,
                        }
                    };
                    s.by_id.insert(f.id, d);
                }
                name if is_path_probe(name) => {
                    let Some(path) = field(PATH_PROBE_FIELD).filter(|x| {
                        matches!(x.kind, FieldKind::DataLocString | FieldKind::RelLocString)
                    }) else {
                        continue;
                    };
                    s.by_id.insert(f.id, Decoder::PathHint { path });
                    s.path_probes = true;
                }
                "sched_process_fork" => {
                    let (Some(pc), Some(pt), Some(cc), Some(ct)) = (
                        field("parent_comm"),
                        field("parent_pid"),
                        field("child_comm"),
                        field("child_pid"),
                    ) else {
                        continue;
                    };
                    let comms = [&pc, &cc].iter().all(|c| {
                        matches!(
                            c.kind,
                            FieldKind::CharArray
                                | FieldKind::DataLocString
                                | FieldKind::RelLocString
                        )
                    });
                    let tids = [&pt, &ct]
                        .iter()
                        .all(|t| matches!(t.kind, FieldKind::Integer { .. }));
                    if !comms || !tids {
                        continue;
                    }
                    let f_ = |name: &str, ty: FieldType| FieldDesc {
                        name: name.into(),
                        ty,
                    };
                    let comm = || layout::Out::Text16.field_type();
                    let i32_ty = || FieldType::Integer(int(32, true));
                    let u32_ty = || FieldType::Integer(int(32, false));
                    let fields = vec![
                        f_("parent_comm", comm()),
                        f_("parent_tid", i32_ty()),
                        f_("parent_pid", i32_ty()),
                        f_("parent_ns_inum", u32_ty()),
                        f_("child_comm", comm()),
                        f_("child_tid", i32_ty()),
                        f_(
                            "vtids",
                            FieldType::Sequence {
                                elem: int(32, true),
                                length: int(8, false),
                            },
                        ),
                        f_("child_pid", i32_ty()),
                        f_("child_ns_inum", u32_ty()),
                    ];
                    let class = push(&mut s, desc(f.name.clone(), fields));
                    s.by_id.insert(
                        f.id,
                        Decoder::Fork {
                            class,
                            parent_comm: pc,
                            parent_tid: pt,
                            child_comm: cc,
                            child_tid: ct,
                        },
                    );
                }
                _ => {
                    let (plans, fields, name) = match layout::of(&f.name) {
                        Some(l) => {
                            let (plans, fields) = Plan::of_layout(l, &f.fields);
                            (plans, fields, l.lttng.to_string())
                        }
                        None => {
                            let plans: Vec<Plan> = f
                                .fields
                                .iter()
                                .filter(|x| !x.name.starts_with("common_"))
                                .map(|x| Plan::Same(x.clone()))
                                .collect();
                            let fields = f
                                .fields
                                .iter()
                                .filter(|x| !x.name.starts_with("common_"))
                                .filter_map(|x| {
                                    Some(FieldDesc {
                                        name: lttng_field_name(&f.name, &x.name),
                                        ty: out_type(x)?,
                                    })
                                })
                                .collect();
                            (plans, fields, lttng_event_name(&f.name))
                        }
                    };
                    let class = push(&mut s, desc(name, fields));
                    let new_task = (f.name == "task_newtask")
                        .then(|| field("pid").zip(field("clone_flags")))
                        .flatten();
                    let exec = (f.name == "sched_process_exec")
                        .then(|| field("pid"))
                        .flatten();
                    let decoder = match (new_task, exec) {
                        (Some((tid, clone_flags)), _) => Decoder::NewTask {
                            class,
                            plans,
                            tid,
                            clone_flags,
                        },
                        (None, Some(tid)) => Decoder::Exec {
                            class,
                            plans,
                            tid,
                            filename: field("filename"),
                        },
                        (None, None) => {
                            let watch = s.contexts.iter().any(|c| {
                                matches!(c, KernelContext::Procname | KernelContext::Prio)
                            });
                            let names = [
                                "prev_pid",
                                "prev_comm",
                                "prev_prio",
                                "next_pid",
                                "next_comm",
                                "next_prio",
                            ];
                            match names.map(field) {
                                [Some(a), Some(b), Some(c), Some(d), Some(e), Some(g)]
                                    if watch && f.name == "sched_switch" =>
                                {
                                    Decoder::Switch {
                                        class,
                                        plans,
                                        threads: Box::new([a, b, c, d, e, g]),
                                    }
                                }
                                _ => Decoder::Plain { class, plans },
                            }
                        }
                    };
                    s.by_id.insert(f.id, decoder);
                }
            }
        }
        let i32_field = |name: &str| FieldDesc {
            name: name.into(),
            ty: FieldType::Integer(int(32, true)),
        };
        let mut state: Vec<FieldDesc> = ["tid", "pid", "ppid"].map(i32_field).to_vec();
        state.push(FieldDesc {
            name: "name".into(),
            ty: FieldType::String,
        });
        state.extend(["type", "mode", "submode", "status"].map(i32_field));
        state.push(FieldDesc {
            name: "cpu".into(),
            ty: FieldType::Integer(int(32, false)),
        });
        s.statedump = StatedumpClasses {
            start: push(&mut s, desc("lttng_statedump_start".into(), Vec::new())),
            process_state: push(&mut s, desc("lttng_statedump_process_state".into(), state)),
            end: push(&mut s, desc("lttng_statedump_end".into(), Vec::new())),
        };
        s
    }

    /// The event context and payload of `lttng_statedump_process_state` for `p`
    /// (LTTng's values: type 1 for a kernel thread, mode and submode unknown).
    pub fn encode_process_state(&self, p: &ProcessState, state: &SessionState, out: &mut Vec<u8>) {
        out.extend_from_slice(&p.tid.to_le_bytes()); // the event context: the thread
        context::put(&self.contexts, &self.hostname, &[], p.tid, state, out);
        out.extend_from_slice(&p.tid.to_le_bytes());
        out.extend_from_slice(&p.pid.to_le_bytes());
        out.extend_from_slice(&p.ppid.to_le_bytes());
        let mut end = p.name.len().min(15);
        while !p.name.is_char_boundary(end) {
            end -= 1;
        }
        put_str(&p.name.as_bytes()[..end], out);
        out.extend_from_slice(&i32::from(p.kernel_thread).to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes()); // mode: unknown
        out.extend_from_slice(&1i32.to_le_bytes()); // submode: unknown
        out.extend_from_slice(&i32::from(p.status).to_le_bytes());
        out.extend_from_slice(&p.cpu.to_le_bytes());
    }

    /// The per-event context of kernel streams: the thread (`common_pid`, as `vtid`),
    /// as `lttng add-context -k -t tid` would record it.
    pub const CONTEXTS: Contexts = Contexts {
        vpid: false,
        vtid: true,
        procname: false,
    };

    /// The event context of an event of no thread (the statedump's start and end).
    pub fn no_thread_context(&self, state: &SessionState) -> Vec<u8> {
        let mut out = 0i32.to_le_bytes().to_vec();
        context::put(&self.contexts, &self.hostname, &[], 0, state, &mut out);
        out
    }

    /// The context fields after `vtid`, for the stream's metadata.
    pub fn context_fields(&self) -> Vec<FieldDesc> {
        self.contexts
            .iter()
            .map(|c| FieldDesc {
                name: c.name().into(),
                ty: c.field_type(),
            })
            .collect()
    }

    /// Encodes the ftrace record `payload` (starting with `common_type`, recorded at
    /// `ts`) as the CTF event context and payload of its class, appended to `out`.
    /// `state` is the session's state shared by every CPU's records (path probes,
    /// processes). Returns `None` for an unknown event or a payload that does not fit
    /// its format.
    pub fn encode(
        &self,
        payload: &[u8],
        ts: u64,
        state: &mut SessionState,
        out: &mut Vec<u8>,
    ) -> Option<Encoded> {
        let ty = u16::from_le_bytes([*payload.first()?, *payload.get(1)?]);
        let tid = read_int(payload, 4, 4, true)? as i32;
        let decoder = self.by_id.get(&ty)?;
        let start = out.len();
        out.extend_from_slice(&tid.to_le_bytes());
        if !self.contexts.is_empty() {
            context::put(&self.contexts, &self.hostname, payload, tid, state, out);
        }
        let r = self.encode_as(decoder, payload, tid, ts, state, out);
        if !matches!(r, Some(Encoded::Event(_))) {
            out.truncate(start);
        }
        r
    }

    /// The body of [`Self::encode`]: may leave bytes in `out` when it fails.
    fn encode_as(
        &self,
        decoder: &Decoder,
        payload: &[u8],
        tid: i32,
        ts: u64,
        state: &mut SessionState,
        out: &mut Vec<u8>,
    ) -> Option<Encoded> {
        let put_plans = |plans: &[Plan], out: &mut Vec<u8>| {
            plans.iter().try_for_each(|p| match p {
                Plan::Same(src) => put_field(payload, src, out),
                Plan::Lttng { src, from, out: ty } => {
                    put_lttng(payload, tid, src.as_ref(), *from, *ty, out)
                }
            })
        };
        match decoder {
            Decoder::Plain { class, plans } => {
                put_plans(plans, out).map(|()| Encoded::Event(*class))
            }
            Decoder::NewTask {
                class,
                plans,
                tid: new,
                clone_flags,
            } => {
                let new = read_int(payload, new.offset, new.size, true)? as i32;
                let flags = read_int(payload, clone_flags.offset, clone_flags.size, false)? as u64;
                put_plans(plans, out)?;
                state.tasks.new_task(new, flags & CLONE_THREAD != 0);
                Some(Encoded::Event(*class))
            }
            Decoder::Fork {
                class,
                parent_comm,
                parent_tid,
                child_comm,
                child_tid,
            } => {
                let parent = read_int(payload, parent_tid.offset, parent_tid.size, true)? as i32;
                let child = read_int(payload, child_tid.offset, child_tid.size, true)? as i32;
                let comm = |f: &Field, out: &mut Vec<u8>| {
                    let from = layout::Source::Field("");
                    put_lttng(payload, tid, Some(f), from, layout::Out::Text16, out)
                };
                let ns = state.pid_ns_inum.to_le_bytes();
                comm(parent_comm, out)?;
                out.extend_from_slice(&parent.to_le_bytes());
                out.extend_from_slice(&state.tasks.process_of(parent).to_le_bytes());
                out.extend_from_slice(&ns);
                comm(child_comm, out)?;
                out.extend_from_slice(&child.to_le_bytes());
                // The child's ids in each pid namespace from the root down: the
                // session's namespace only (see `SessionState::pid_ns_inum`).
                out.push(1);
                out.extend_from_slice(&child.to_le_bytes());
                let pid = state.tasks.forked(parent, child);
                out.extend_from_slice(&pid.to_le_bytes());
                out.extend_from_slice(&ns);
                if !self.contexts.is_empty() {
                    if let Some(name) = text_of(payload, child_comm) {
                        state.threads.named(child, name);
                    }
                    if pid == child {
                        let parent_pid = state.tasks.process_of(parent);
                        state.threads.parent(child, parent_pid);
                    }
                }
                Some(Encoded::Event(*class))
            }
            Decoder::PathHint { path } => {
                let s = str_field(payload, path)?;
                state.paths.put(tid, ts, s);
                Some(Encoded::Absorbed)
            }
            Decoder::Exec {
                class,
                plans,
                tid: new,
                filename,
            } => {
                let new = read_int(payload, new.offset, new.size, true)? as i32;
                put_plans(plans, out)?;
                state.tasks.exec(new);
                if let Some(path) = filename.as_ref().and_then(|f| str_field(payload, f)) {
                    let path = &path[..path.iter().position(|&b| b == 0).unwrap_or(path.len())];
                    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
                    state.threads.named(new, base);
                }
                Some(Encoded::Event(*class))
            }
            Decoder::Switch {
                class,
                plans,
                threads,
            } => {
                put_plans(plans, out)?;
                for t in threads.chunks(3) {
                    let tid = read_int(payload, t[0].offset, t[0].size, true)? as i32;
                    let prio = read_int(payload, t[2].offset, t[2].size, true)? as i32;
                    let at = t[1].offset as usize;
                    if let Some(name) = p_slice(payload, at, t[1].size) {
                        state.threads.named(tid, name);
                    }
                    state.threads.prio(tid, prio.wrapping_sub(100));
                }
                Some(Encoded::Event(*class))
            }
            Decoder::SysEnter { classes, id, args } => {
                let nr = read_int(payload, id.offset, id.size, true)?;
                let path = if self.path_probes {
                    state.paths.take(tid, ts)
                } else {
                    None
                };
                let compat = state.tasks.enters(tid, nr);
                let entries = &mut state.syscalls;
                syscall::encode_entry(
                    classes,
                    payload,
                    nr,
                    args,
                    (tid, ts),
                    compat,
                    path,
                    entries,
                    out,
                )
                .map(Encoded::Event)
            }
            Decoder::SysExit { classes, id, ret } => {
                let nr = read_int(payload, id.offset, id.size, true)?;
                let ret = read_int(payload, ret.offset, ret.size, true)?;
                let compat = state.tasks.is_compat(tid);
                Some(Encoded::Event(syscall::encode_exit(
                    classes,
                    nr,
                    ret,
                    (tid, ts),
                    compat,
                    &mut state.syscalls,
                    out,
                )))
            }
        }
    }
}

/// Reads a little-endian integer of `size` bytes at `offset`, sign-extended if asked.
fn read_int(p: &[u8], offset: u32, size: u32, signed: bool) -> Option<i64> {
    let b = p.get(offset as usize..(offset as usize).checked_add(size as usize)?)?;
    let mut v = [0u8; 8];
    v.get_mut(..b.len())?.copy_from_slice(b);
    let raw = u64::from_le_bytes(v);
    let bits = size * 8;
    Some(if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
        (raw | !((1u64 << bits) - 1)) as i64
    } else {
        raw as i64
    })
}

/// `size` bytes of `p` at `at`, if there.
fn p_slice(p: &[u8], at: usize, size: u32) -> Option<&[u8]> {
    p.get(at..at.checked_add(size as usize)?)
}

/// The bytes of a text field: a `char[N]` array or a `__data_loc` string.
fn text_of<'a>(p: &'a [u8], f: &Field) -> Option<&'a [u8]> {
    match f.kind {
        FieldKind::CharArray => p_slice(p, f.offset as usize, f.size),
        FieldKind::DataLocString | FieldKind::RelLocString => str_field(p, f),
        _ => None,
    }
}

/// The bytes of a `__data_loc`/`__rel_loc` string field (bounds-checked).
fn str_field<'a>(p: &'a [u8], f: &Field) -> Option<&'a [u8]> {
    let at = f.offset as usize;
    let loc = read_int(p, f.offset, 4, false)? as u32;
    let base = if f.kind == FieldKind::RelLocString {
        at.checked_add(4)?
    } else {
        0
    };
    let start = base.checked_add((loc & 0xffff) as usize)?;
    let len = (loc >> 16) as usize;
    p.get(start..start.checked_add(len)?)
}

/// Appends a NUL-terminated copy of `s` up to its first NUL.
fn put_str(s: &[u8], out: &mut Vec<u8>) {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    out.extend_from_slice(&s[..end]);
    out.push(0);
}

/// Writes one field of LTTng's layout from the record `p` of thread `tid`.
fn put_lttng(
    p: &[u8],
    tid: i32,
    src: Option<&Field>,
    from: layout::Source,
    ty: layout::Out,
    out: &mut Vec<u8>,
) -> Option<()> {
    let text = |f: &Field| text_of(p, f);
    match ty {
        layout::Out::Int { bits, .. } => {
            let v = match (from, src) {
                (layout::Source::Rwbs(_), Some(f)) => i64::from(layout::rwbs_flags(text(f)?)),
                (layout::Source::Field(_) | layout::Source::Prio(_), Some(f)) => {
                    let FieldKind::Integer { signed } = f.kind else {
                        return None;
                    };
                    let v = read_int(p, f.offset, f.size, signed)?;
                    if matches!(from, layout::Source::Prio(_)) {
                        v.wrapping_sub(100)
                    } else {
                        v
                    }
                }
                (layout::Source::Tid, _) => i64::from(tid),
                _ => 0,
            };
            out.extend_from_slice(&v.to_le_bytes()[..usize::from(bits / 8)]);
        }
        layout::Out::Text16 => {
            let s = text(src?)?;
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(16);
            let mut comm = [0u8; 16];
            comm[..end].copy_from_slice(&s[..end]);
            out.extend_from_slice(&comm);
        }
        layout::Out::Str => put_str(text(src?)?, out),
    }
    Some(())
}

fn put_field(p: &[u8], f: &Field, out: &mut Vec<u8>) -> Option<()> {
    let at = f.offset as usize;
    match f.kind {
        FieldKind::Integer { signed } => {
            let v = read_int(p, f.offset, f.size, signed)?;
            out.extend_from_slice(&v.to_le_bytes()[..f.size as usize]);
        }
        FieldKind::Array { .. } => {
            out.extend_from_slice(p.get(at..at.checked_add(f.size as usize)?)?);
        }
        FieldKind::CharArray => put_str(p.get(at..at.checked_add(f.size as usize)?)?, out),
        FieldKind::DataLocString | FieldKind::RelLocString => put_str(str_field(p, f)?, out),
        FieldKind::Rest => put_str(p.get(at..)?, out),
    }
    Some(())
}
