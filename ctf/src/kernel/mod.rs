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

use proto::event::{Base, Contexts, EventDesc, FieldDesc, FieldType, IntType, LogLevel};
use proto::ftrace::{is_path_probe, EventFormat, Field, FieldKind, PATH_PROBE_FIELD};
use proto::wire::consumer::ProcessState;

use crate::metadata::EventClass;

mod state;
mod syscall;
#[cfg(test)]
mod tests;

use state::CLONE_THREAD;
pub use state::{PathHints, SessionState, Tasks, PATH_WINDOW};
#[cfg(test)]
use state::{MAX_PATH, MAX_PENDING_PATHS, MAX_PENDING_TASKS, MAX_TASKS};
pub use syscall::Entries;

/// How one output field is read from the ftrace payload.
#[derive(Clone, Debug)]
struct Plan {
    src: Field,
    /// Added to integer values (the −100 of priorities).
    shift: i64,
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
    },
}

/// The kernel trace's event classes and how to encode records into them.
#[derive(Clone, Debug, Default)]
pub struct KernelSchema {
    pub classes: Vec<EventClass>,
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

/// LTTng's name for the ftrace event `event` (lttng-modules ≥ 2.7 puts softirq and
/// hrtimer events under their subsystem's prefix, and Trace Compass's kernel analyses
/// look for those names).
fn lttng_event_name(event: &str) -> String {
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
        let mut s = KernelSchema::default();
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
                    let (Some(comm_ty), Some(tid_ty)) = (out_type(&pc), out_type(&pt)) else {
                        continue;
                    };
                    let (Some(child_comm_ty), Some(child_tid_ty)) = (out_type(&cc), out_type(&ct))
                    else {
                        continue;
                    };
                    let i32_field = |name: &str| FieldDesc {
                        name: name.into(),
                        ty: FieldType::Integer(int(32, true)),
                    };
                    let fields = vec![
                        FieldDesc {
                            name: "parent_comm".into(),
                            ty: comm_ty,
                        },
                        FieldDesc {
                            name: "parent_tid".into(),
                            ty: tid_ty,
                        },
                        i32_field("parent_pid"),
                        FieldDesc {
                            name: "child_comm".into(),
                            ty: child_comm_ty,
                        },
                        FieldDesc {
                            name: "child_tid".into(),
                            ty: child_tid_ty,
                        },
                        i32_field("child_pid"),
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
                    let plans: Vec<Plan> = f
                        .fields
                        .iter()
                        .filter(|x| !x.name.starts_with("common_"))
                        .map(|x| Plan {
                            src: x.clone(),
                            shift: if f.name.starts_with("sched_") && x.name.ends_with("prio") {
                                -100
                            } else {
                                0
                            },
                        })
                        .collect();
                    let fields = plans
                        .iter()
                        .filter_map(|p| {
                            Some(FieldDesc {
                                name: lttng_field_name(&f.name, &p.src.name),
                                ty: out_type(&p.src)?,
                            })
                        })
                        .collect();
                    let class = push(&mut s, desc(lttng_event_name(&f.name), fields));
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
                        (None, Some(tid)) => Decoder::Exec { class, plans, tid },
                        (None, None) => Decoder::Plain { class, plans },
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
    pub fn encode_process_state(p: &ProcessState, out: &mut Vec<u8>) {
        out.extend_from_slice(&p.tid.to_le_bytes()); // the event context: the thread
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
            plans
                .iter()
                .try_for_each(|p| put_field(payload, &p.src, p.shift, out))
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
                put_field(payload, parent_comm, 0, out)?;
                put_field(payload, parent_tid, 0, out)?;
                out.extend_from_slice(&state.tasks.process_of(parent).to_le_bytes());
                put_field(payload, child_comm, 0, out)?;
                put_field(payload, child_tid, 0, out)?;
                let pid = state.tasks.forked(parent, child);
                out.extend_from_slice(&pid.to_le_bytes());
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
            } => {
                let new = read_int(payload, new.offset, new.size, true)? as i32;
                put_plans(plans, out)?;
                state.tasks.exec(new);
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
                syscall::encode_entry(classes, payload, nr, args, tid, compat, path, entries, out)
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
                    tid,
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

fn put_field(p: &[u8], f: &Field, shift: i64, out: &mut Vec<u8>) -> Option<()> {
    let at = f.offset as usize;
    match f.kind {
        FieldKind::Integer { signed } => {
            let v = read_int(p, f.offset, f.size, signed)?.wrapping_add(shift);
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
