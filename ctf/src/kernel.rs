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
//! them; `raw_syscalls:sys_enter`/`sys_exit` become one class per system call,
//! `syscall_entry_<name>` (`args`) and `syscall_exit_<name>` (`ret`), names from the
//! x86-64 table ([`crate::syscalls`]), unknown numbers `syscall_entry_unknown` (with
//! `id`); `softirq_*` become `irq_softirq_*`, `hrtimer_*` and `itimer_*` become
//! `timer_hrtimer_*` and `timer_itimer_*`. Other events keep their ftrace name and
//! fields. Strings (`char[N]`,
//! `__data_loc`) become NUL-terminated CTF strings.
//!
//! `syscall_entry_open` and `syscall_entry_openat` get LTTng's fields (`dfd`,
//! `filename`, `flags`, `mode`) instead of `args`. The kernel records only the path's
//! address; the path itself comes from a path probe ([`proto::ftrace::PATH_PROBES`],
//! uprobes on the C library that privd defines, and on the dynamic loader's own
//! `openat` calls), whose record the encoder keeps in
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

use std::collections::{HashMap, HashSet};

use proto::event::{Base, Contexts, EventDesc, FieldDesc, FieldType, IntType, LogLevel};
use proto::ftrace::{is_path_probe, EventFormat, Field, FieldKind, PATH_PROBE_FIELD};
use proto::wire::consumer::ProcessState;

use crate::metadata::EventClass;

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
    /// The classes of the x86-64 system calls (`opens`: `args` is the usual six words,
    /// and `open`/`openat` have classes with LTTng's fields) and of the 32-bit
    /// programs' (`compat_syscall_*`).
    SysEnter {
        native: Calls,
        compat: Calls,
        id: Field,
        args: Field,
        opens: bool,
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
        native: Calls,
        compat: Calls,
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

/// The classes of one system call numbering: `by_nr[n]` for call `n` if it has a
/// name, else `unknown` (with the number in `id`).
#[derive(Clone, Debug)]
struct Calls {
    by_nr: Vec<Option<u32>>,
    unknown: u32,
}

impl Calls {
    fn class(&self, nr: i64) -> Option<u32> {
        usize::try_from(nr).ok().and_then(|n| *self.by_nr.get(n)?)
    }
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

/// `open`'s and `openat`'s numbers (x86-64).
const NR_OPEN: i64 = 2;
const NR_OPENAT: i64 = 257;

/// Most threads with a path waiting: past it, the waiting paths are dropped (a bound
/// on memory whatever the pages say).
const MAX_PENDING_PATHS: usize = 4096;
/// Longest path kept (`PATH_MAX`).
const MAX_PATH: usize = 4096;
/// A path joins a system call entered at most this many clock ticks after the probe
/// fired (1 to 10 ms, whether the trace clock counts nanoseconds or TSC cycles);
/// between the two the C library only moves arguments into registers.
pub const PATH_WINDOW: u64 = 10_000_000;

/// Most threads whose process is remembered, and most new tasks waiting for their fork
/// event: past either, the table starts afresh (a bound on memory whatever the pages
/// say; a thread forgotten this way gets its own id as its process id).
const MAX_TASKS: usize = 1 << 16;
const MAX_PENDING_TASKS: usize = 4096;
/// `CLONE_THREAD`: the new task shares its parent's process.
const CLONE_THREAD: u64 = 0x0001_0000;

/// Inserts into a set that starts afresh when it holds `max` values.
fn bounded_insert(set: &mut HashSet<i32>, v: i32, max: usize) {
    if set.len() >= max && !set.contains(&v) {
        set.clear();
    }
    set.insert(v);
}

/// What the encoder keeps for the whole session (every CPU's records share it).
#[derive(Debug, Default)]
pub struct SessionState {
    pub paths: PathHints,
    pub tasks: Tasks,
}

/// Which process each thread belongs to, as far as the trace tells: the statedump's
/// threads, then every fork.
#[derive(Debug, Default)]
pub struct Tasks {
    process_of: HashMap<i32, i32>,
    /// New tasks (`task_newtask`) not yet seen forked: whether each is a thread.
    new_is_thread: HashMap<i32, bool>,
    /// Processes running a 32-bit program (their system calls are `compat_*`).
    compat: HashSet<i32>,
    /// Threads that just exec'd: their first system call tells which kind of program.
    exec_pending: HashSet<i32>,
}

impl Tasks {
    /// Thread `tid` belongs to process `pid` (the statedump, or a fork).
    pub fn note(&mut self, tid: i32, pid: i32) {
        if self.process_of.len() >= MAX_TASKS && !self.process_of.contains_key(&tid) {
            self.process_of.clear();
        }
        self.process_of.insert(tid, pid);
    }

    /// The process of thread `tid`; a thread never seen is taken as its process's
    /// first thread.
    pub fn process_of(&self, tid: i32) -> i32 {
        self.process_of.get(&tid).copied().unwrap_or(tid)
    }

    fn new_task(&mut self, tid: i32, thread: bool) {
        if self.new_is_thread.len() >= MAX_PENDING_TASKS && !self.new_is_thread.contains_key(&tid) {
            self.new_is_thread.clear();
        }
        self.new_is_thread.insert(tid, thread);
    }

    /// A fork of `child` by `parent` (thread ids): the child's process id. A process
    /// forked by a 32-bit program runs it too.
    fn forked(&mut self, parent: i32, child: i32) -> i32 {
        let thread = self.new_is_thread.remove(&child).unwrap_or(false);
        let parent_pid = self.process_of(parent);
        let pid = if thread { parent_pid } else { child };
        self.note(child, pid);
        if !thread && self.compat.contains(&parent_pid) {
            bounded_insert(&mut self.compat, pid, MAX_TASKS);
        }
        pid
    }

    /// Thread `tid` exec'd a new program (it is now its process's only thread).
    fn exec(&mut self, tid: i32) {
        self.note(tid, tid);
        self.compat.remove(&tid);
        bounded_insert(&mut self.exec_pending, tid, MAX_PENDING_TASKS);
    }

    /// Thread `tid` enters system call `nr`; returns whether its program is 32-bit.
    ///
    /// The kernel's system call events carry no word of the calling convention, so
    /// the first call after an exec decides: every glibc program starts with `brk`
    /// (i386 45, which on x86-64 is `recvfrom`, never a program's first call) and
    /// static i386 programs may start with `set_thread_area` (i386 243, x86-64's
    /// `mq_timedreceive`). This needs `sched_process_exec` in the trace; without it,
    /// and for processes that exist when tracing starts, programs are taken as
    /// 64-bit.
    fn enters(&mut self, tid: i32, nr: i64) -> bool {
        const I386_BRK: i64 = 45;
        const I386_SET_THREAD_AREA: i64 = 243;
        if !self.exec_pending.is_empty()
            && self.exec_pending.remove(&tid)
            && (nr == I386_BRK || nr == I386_SET_THREAD_AREA)
        {
            let pid = self.process_of(tid);
            bounded_insert(&mut self.compat, pid, MAX_TASKS);
        }
        self.is_compat(tid)
    }

    /// Whether thread `tid` runs a 32-bit program.
    fn is_compat(&self, tid: i32) -> bool {
        !self.compat.is_empty() && self.compat.contains(&self.process_of(tid))
    }

    /// Threads whose process is remembered.
    pub fn known(&self) -> usize {
        self.process_of.len()
    }
}

/// Paths recorded by the path probes, each waiting for its thread's next system call
/// entry, which uses it up (it is the `openat` the probed function makes). State of
/// the whole session: the probe and the system call may be read from different CPUs'
/// pages when the thread migrated in between, in which order they come; a path that
/// comes after its system call is never joined to a later one, since only a call
/// entered within [`PATH_WINDOW`] after the probe, and before any other call of the
/// thread processed later, takes it.
#[derive(Debug, Default)]
pub struct PathHints {
    by_tid: HashMap<i32, (u64, Vec<u8>)>,
}

impl PathHints {
    fn put(&mut self, tid: i32, ts: u64, path: &[u8]) {
        if self.by_tid.len() >= MAX_PENDING_PATHS && !self.by_tid.contains_key(&tid) {
            self.by_tid.clear();
        }
        let end = path
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(path.len())
            .min(MAX_PATH);
        let e = self.by_tid.entry(tid).or_default();
        e.0 = ts;
        e.1.clear();
        e.1.extend_from_slice(&path[..end]);
    }

    /// The thread's waiting path if the probe fired just before `ts`; whatever waited
    /// is used up.
    fn take(&mut self, tid: i32, ts: u64) -> Option<Vec<u8>> {
        if self.by_tid.is_empty() {
            return None;
        }
        let (t, p) = self.by_tid.remove(&tid)?;
        (t <= ts && ts - t <= PATH_WINDOW).then_some(p)
    }

    /// Threads with a path waiting.
    pub fn pending(&self) -> usize {
        self.by_tid.len()
    }
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
                "sys_enter" | "sys_exit" if field("id").is_some() => {
                    let enter = f.name == "sys_enter";
                    let prefix = if enter {
                        "syscall_entry_"
                    } else {
                        "syscall_exit_"
                    };
                    let (Some(id_field), Some(other)) =
                        (field("id"), field(if enter { "args" } else { "ret" }))
                    else {
                        continue;
                    };
                    let Some(other_ty) = out_type(&other) else {
                        continue;
                    };
                    let opens = enter
                        && other.size == 48
                        && matches!(other.kind, FieldKind::Array { len: 6, .. });
                    let plain = vec![FieldDesc {
                        name: other.name.clone(),
                        ty: other_ty.clone(),
                    }];
                    let mut calls = |prefix: &str, table: &[Option<&str>], native: bool| {
                        let by_nr = table
                            .iter()
                            .enumerate()
                            .map(|(nr, name)| {
                                let fields = match nr as i64 {
                                    NR_OPEN | NR_OPENAT if opens && native => {
                                        open_fields(nr as i64)
                                    }
                                    _ => plain.clone(),
                                };
                                name.map(|n| push(&mut s, desc(format!("{prefix}{n}"), fields)))
                            })
                            .collect();
                        let mut unknown = vec![FieldDesc {
                            name: "id".into(),
                            ty: FieldType::Integer(int(64, true)),
                        }];
                        unknown.extend(plain.iter().cloned());
                        let unknown = push(&mut s, desc(format!("{prefix}unknown"), unknown));
                        Calls { by_nr, unknown }
                    };
                    let native = calls(prefix, crate::syscalls::X86_64, true);
                    let compat = calls(&format!("compat_{prefix}"), crate::syscalls::I386, false);
                    let d = if enter {
                        Decoder::SysEnter {
                            native,
                            compat,
                            id: id_field,
                            args: other,
                            opens,
                        }
                    } else {
                        Decoder::SysExit {
                            native,
                            compat,
                            id: id_field,
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
            Decoder::SysEnter {
                native,
                compat,
                id,
                args,
                opens,
            } => {
                let nr = read_int(payload, id.offset, id.size, true)?;
                let path = if self.path_probes {
                    state.paths.take(tid, ts)
                } else {
                    None
                };
                let calls = if state.tasks.enters(tid, nr) {
                    compat
                } else {
                    native
                };
                match calls.class(nr) {
                    Some(class)
                        if *opens
                            && std::ptr::eq(calls, native)
                            && (nr == NR_OPEN || nr == NR_OPENAT) =>
                    {
                        put_open(payload, args, nr, path.as_deref().unwrap_or(b""), out)
                            .map(|()| Encoded::Event(class))
                    }
                    Some(class) => put_field(payload, args, 0, out).map(|()| Encoded::Event(class)),
                    None => {
                        out.extend_from_slice(&nr.to_le_bytes());
                        put_field(payload, args, 0, out).map(|()| Encoded::Event(calls.unknown))
                    }
                }
            }
            Decoder::SysExit {
                native,
                compat,
                id,
                ret,
            } => {
                let nr = read_int(payload, id.offset, id.size, true)?;
                let calls = if state.tasks.is_compat(tid) {
                    compat
                } else {
                    native
                };
                match calls.class(nr) {
                    Some(class) => put_field(payload, ret, 0, out).map(|()| Encoded::Event(class)),
                    None => {
                        out.extend_from_slice(&nr.to_le_bytes());
                        put_field(payload, ret, 0, out).map(|()| Encoded::Event(calls.unknown))
                    }
                }
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

/// LTTng's fields of `syscall_entry_open` (`nr` 2) and `syscall_entry_openat` (257).
fn open_fields(nr: i64) -> Vec<FieldDesc> {
    let f = |name: &str, ty: FieldType| FieldDesc {
        name: name.into(),
        ty,
    };
    let mut v = Vec::with_capacity(4);
    if nr == NR_OPENAT {
        v.push(f("dfd", FieldType::Integer(int(32, true))));
    }
    v.push(f("filename", FieldType::String));
    v.push(f("flags", FieldType::Integer(int(32, true))));
    v.push(f("mode", FieldType::Integer(int(16, false))));
    v
}

/// Writes the fields of [`open_fields`] from the system call's argument words.
fn put_open(p: &[u8], args: &Field, nr: i64, path: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let word = |i: u32| read_int(p, args.offset.checked_add(8 * i)?, 8, false);
    let first = if nr == NR_OPENAT {
        out.extend_from_slice(&(word(0)? as i32).to_le_bytes());
        2
    } else {
        1
    };
    let (flags, mode) = (word(first)?, word(first + 1)?);
    put_str(path, out);
    out.extend_from_slice(&(flags as i32).to_le_bytes());
    out.extend_from_slice(&(mode as u16).to_le_bytes());
    Some(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use proto::ftrace::parse_format;

    const SWITCH: &str = "name: sched_switch\nID: 372\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n";
    const EXIT: &str = "name: sys_exit\nID: 442\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n";

    #[test]
    fn sched_switch_gets_lttng_names_and_priorities() {
        let s = KernelSchema::new(&[parse_format(SWITCH).unwrap()]);
        let names: Vec<&str> = s.classes[0]
            .desc
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "prev_comm",
                "prev_tid",
                "prev_prio",
                "prev_state",
                "next_comm",
                "next_tid",
                "next_prio"
            ]
        );
        assert_eq!(s.classes[0].desc.full_name(), "sched_switch");
        let mut p = vec![0u8; 64];
        p[0..2].copy_from_slice(&372u16.to_le_bytes());
        p[8..12].copy_from_slice(b"bash");
        p[24..28].copy_from_slice(&42i32.to_le_bytes());
        p[28..32].copy_from_slice(&120i32.to_le_bytes());
        p[40..45].copy_from_slice(b"idle!");
        p[56..60].copy_from_slice(&7i32.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(
            s.encode(&p, 0, &mut SessionState::default(), &mut out),
            Some(Encoded::Event(0))
        );
        let mut want = 0i32.to_le_bytes().to_vec();
        want.extend(b"bash\0");
        want.extend(42i32.to_le_bytes());
        want.extend(20i32.to_le_bytes());
        want.extend(0i64.to_le_bytes());
        want.extend(b"idle!\0");
        want.extend(7i32.to_le_bytes());
        want.extend((-100i32).to_le_bytes());
        assert_eq!(out, want);
        // Truncated or unknown records are refused and leave nothing behind.
        assert_eq!(
            s.encode(&p[..40], 0, &mut SessionState::default(), &mut out),
            None
        );
        assert_eq!(out, want);
        assert_eq!(
            s.encode(&[1, 2, 3], 0, &mut SessionState::default(), &mut out),
            None
        );
        // An event id of no class (found by the fuzz target `kernel_records`).
        let mut q = p.clone();
        q[0..2].copy_from_slice(&999u16.to_le_bytes());
        assert_eq!(
            s.encode(&q, 0, &mut SessionState::default(), &mut out),
            None
        );
        assert_eq!(out, want);
    }

    const FORK: &str = "name: sched_process_fork\nID: 366\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n";
    const NEWTASK: &str = "name: task_newtask\nID: 205\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n\tfield:u64 clone_flags;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:short oom_score_adj;\toffset:40;\tsize:2;\tsigned:1;\n";

    fn new_task(parent: i32, child: i32, flags: u64) -> Vec<u8> {
        let mut p = vec![0u8; 42];
        p[0..2].copy_from_slice(&205u16.to_le_bytes());
        p[4..8].copy_from_slice(&parent.to_le_bytes());
        p[8..12].copy_from_slice(&child.to_le_bytes());
        p[12..16].copy_from_slice(b"app\0");
        p[32..40].copy_from_slice(&flags.to_le_bytes());
        p
    }

    fn fork(parent: i32, child: i32) -> Vec<u8> {
        let mut p = vec![0u8; 32];
        p[0..2].copy_from_slice(&366u16.to_le_bytes());
        p[4..8].copy_from_slice(&parent.to_le_bytes());
        // Both names at 24 ("app", 4 bytes with the NUL): __data_loc is len << 16 | offset.
        let loc = (4u32 << 16) | 24;
        p[8..12].copy_from_slice(&loc.to_le_bytes());
        p[12..16].copy_from_slice(&parent.to_le_bytes());
        p[16..20].copy_from_slice(&loc.to_le_bytes());
        p[20..24].copy_from_slice(&child.to_le_bytes());
        p[24..28].copy_from_slice(b"app\0");
        p
    }

    /// The (parent_tid, parent_pid, child_tid, child_pid) of an encoded fork event.
    fn fork_ids(out: &[u8]) -> [i32; 4] {
        let i = |at: usize| i32::from_le_bytes(out[at..at + 4].try_into().unwrap());
        // context tid, "app\0", parent_tid, parent_pid, "app\0", child_tid, child_pid
        [i(8), i(12), i(20), i(24)]
    }

    #[test]
    fn a_fork_carries_the_child_process_id_from_its_new_task() {
        let s = KernelSchema::new(&[parse_format(FORK).unwrap(), parse_format(NEWTASK).unwrap()]);
        let names: Vec<&str> = s.classes[0]
            .desc
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "parent_comm",
                "parent_tid",
                "parent_pid",
                "child_comm",
                "child_tid",
                "child_pid"
            ]
        );
        let mut state = SessionState::default();
        // Thread 100 of process 50, from the statedump.
        state.tasks.note(100, 50);
        let mut out = Vec::new();
        let mut run = |state: &mut SessionState, p: &[u8]| {
            out.clear();
            s.encode(p, 0, state, &mut out).unwrap();
            out.clone()
        };
        // A thread: the parent's process.
        run(&mut state, &new_task(100, 101, CLONE_THREAD | 0x3d0f00));
        assert_eq!(
            fork_ids(&run(&mut state, &fork(100, 101))),
            [100, 50, 101, 50]
        );
        // A process of its own (fork: SIGCHLD only).
        run(&mut state, &new_task(100, 102, 0x11));
        assert_eq!(
            fork_ids(&run(&mut state, &fork(100, 102))),
            [100, 50, 102, 102]
        );
        // The new thread's own children know their process.
        run(&mut state, &new_task(101, 103, CLONE_THREAD));
        assert_eq!(
            fork_ids(&run(&mut state, &fork(101, 103))),
            [101, 50, 103, 50]
        );
        // No task_newtask seen (its page not read yet, or the table full): a process.
        assert_eq!(
            fork_ids(&run(&mut state, &fork(102, 104))),
            [102, 102, 104, 104]
        );
        // Memory stays bounded, whatever the records say.
        for t in 0..(MAX_PENDING_TASKS as i32 + 10) {
            run(&mut state, &new_task(1, 10_000 + t, 0));
        }
        assert!(state.tasks.new_is_thread.len() <= MAX_PENDING_TASKS);
        for t in 0..(MAX_TASKS as i32 + 10) {
            state.tasks.note(t, 1);
        }
        assert!(state.tasks.known() <= MAX_TASKS);
    }

    #[test]
    fn softirq_and_hrtimer_events_get_lttng_names() {
        let fmt = |name: &str, id: u16| {
            parse_format(&format!("name: {name}\nID: {id}\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned int vec;\toffset:8;\tsize:4;\tsigned:0;\n")).unwrap()
        };
        let s = KernelSchema::new(&[
            fmt("softirq_entry", 1),
            fmt("hrtimer_start", 2),
            fmt("irq_handler_entry", 3),
            fmt("timer_start", 4),
        ]);
        let names: Vec<&str> = s.classes.iter().map(|c| c.desc.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "irq_softirq_entry",
                "timer_hrtimer_start",
                "irq_handler_entry",
                "timer_start",
                "lttng_statedump_start",
                "lttng_statedump_process_state",
                "lttng_statedump_end",
            ]
        );
    }

    #[test]
    fn raw_syscalls_become_one_class_per_system_call() {
        let s = KernelSchema::new(&[parse_format(EXIT).unwrap()]);
        let openat = s
            .classes
            .iter()
            .position(|c| c.desc.name == "syscall_exit_openat")
            .unwrap() as u32;
        let mut p = vec![0u8; 24];
        p[0..2].copy_from_slice(&442u16.to_le_bytes());
        p[8..16].copy_from_slice(&257i64.to_le_bytes());
        p[16..24].copy_from_slice(&3i64.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(
            s.encode(&p, 0, &mut SessionState::default(), &mut out),
            Some(Encoded::Event(openat))
        );
        assert_eq!(out[4..], 3i64.to_le_bytes());
        p[8..16].copy_from_slice(&100_000i64.to_le_bytes());
        out.clear();
        let unknown = s
            .classes
            .iter()
            .position(|c| c.desc.name == "syscall_exit_unknown")
            .unwrap() as u32;
        assert_eq!(
            s.encode(&p, 0, &mut SessionState::default(), &mut out),
            Some(Encoded::Event(unknown))
        );
    }

    const EXEC: &str = "name: sched_process_exec\nID: 367\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n";

    fn exec(tid: i32) -> Vec<u8> {
        let mut p = vec![0u8; 24];
        p[0..2].copy_from_slice(&367u16.to_le_bytes());
        p[4..8].copy_from_slice(&tid.to_le_bytes());
        p[8..12].copy_from_slice(&((3u32 << 16) | 20).to_le_bytes());
        p[12..16].copy_from_slice(&tid.to_le_bytes());
        p[16..20].copy_from_slice(&tid.to_le_bytes());
        p[20..23].copy_from_slice(b"/a\0");
        p
    }

    fn exit(tid: i32, nr: i64, ret: i64) -> Vec<u8> {
        let mut p = vec![0u8; 24];
        p[0..2].copy_from_slice(&442u16.to_le_bytes());
        p[4..8].copy_from_slice(&tid.to_le_bytes());
        p[8..16].copy_from_slice(&nr.to_le_bytes());
        p[16..24].copy_from_slice(&ret.to_le_bytes());
        p
    }

    #[test]
    fn a_32_bit_program_s_system_calls_are_named_as_compat_calls() {
        let formats = [ENTER, EXIT, EXEC, FORK, NEWTASK].map(|f| parse_format(f).unwrap());
        let s = KernelSchema::new(&formats);
        let mut state = SessionState::default();
        let mut name = |p: &[u8]| {
            let mut out = Vec::new();
            match s.encode(p, 0, &mut state, &mut out) {
                Some(Encoded::Event(id)) => s.classes[id as usize].desc.name.clone(),
                other => panic!("{other:?}"),
            }
        };
        // Before any exec, and for a 64-bit program (its loader starts with brk, 12).
        assert_eq!(name(&enter(300, 45, [0; 6])), "syscall_entry_recvfrom");
        assert_eq!(name(&exec(301)), "sched_process_exec");
        assert_eq!(name(&enter(301, 12, [0; 6])), "syscall_entry_brk");
        assert_eq!(name(&enter(301, 45, [0; 6])), "syscall_entry_recvfrom");
        // A 32-bit program: its first call is i386 brk (45).
        assert_eq!(name(&exec(300)), "sched_process_exec");
        assert_eq!(name(&enter(300, 45, [0; 6])), "compat_syscall_entry_brk");
        assert_eq!(name(&exit(300, 45, 0)), "compat_syscall_exit_brk");
        assert_eq!(name(&enter(300, 20, [0; 6])), "compat_syscall_entry_getpid");
        assert_eq!(
            name(&enter(300, 9999, [0; 6])),
            "compat_syscall_entry_unknown"
        );
        // Its threads and forked children run it too; the 64-bit one is unchanged.
        name(&new_task(300, 302, CLONE_THREAD));
        name(&fork(300, 302));
        assert_eq!(name(&enter(302, 4, [0; 6])), "compat_syscall_entry_write");
        name(&new_task(300, 303, 0x11));
        name(&fork(300, 303));
        assert_eq!(name(&exit(303, 1, 0)), "compat_syscall_exit_exit");
        assert_eq!(name(&enter(301, 1, [0; 6])), "syscall_entry_write");
        // A new exec of a 64-bit program ends it.
        name(&exec(300));
        assert_eq!(name(&enter(300, 12, [0; 6])), "syscall_entry_brk");
    }

    const ENTER: &str = "name: sys_enter\nID: 443\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n";
    const PROBE: &str = "name: lttng_rs_openat_path\nID: 2326\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:__data_loc char[] path;\toffset:16;\tsize:4;\tsigned:1;\n";

    fn enter(tid: i32, nr: i64, args: [u64; 6]) -> Vec<u8> {
        let mut p = vec![0u8; 64];
        p[0..2].copy_from_slice(&443u16.to_le_bytes());
        p[4..8].copy_from_slice(&tid.to_le_bytes());
        p[8..16].copy_from_slice(&nr.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            p[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        p
    }

    fn probe(tid: i32, path: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0..2].copy_from_slice(&2326u16.to_le_bytes());
        p[4..8].copy_from_slice(&tid.to_le_bytes());
        let loc = 20u32 | ((path.len() as u32) << 16);
        p[16..20].copy_from_slice(&loc.to_le_bytes());
        p.extend_from_slice(path);
        p
    }

    /// The payload of an `openat` entry: tid, dfd, filename, flags, mode.
    fn openat_payload(tid: i32, dfd: i32, name: &[u8], flags: i32, mode: u16) -> Vec<u8> {
        let mut v = tid.to_le_bytes().to_vec();
        v.extend(dfd.to_le_bytes());
        v.extend(name);
        v.push(0);
        v.extend(flags.to_le_bytes());
        v.extend(mode.to_le_bytes());
        v
    }

    #[test]
    fn an_openat_entry_carries_the_path_its_thread_probed_just_before() {
        let s = KernelSchema::new(&[parse_format(ENTER).unwrap(), parse_format(PROBE).unwrap()]);
        let class = |n: &str| s.classes.iter().position(|c| c.desc.name == n).unwrap() as u32;
        let openat = class("syscall_entry_openat");
        let names: Vec<&str> = s.classes[openat as usize]
            .desc
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["dfd", "filename", "flags", "mode"]);
        let mut paths = SessionState::default();
        let mut out = Vec::new();
        let at_fdcwd = -100i64 as u64;
        // Probe, then the call, same thread: joined.
        let pr = probe(7, b"/etc/hostname\0");
        assert_eq!(
            s.encode(&pr, 1_000, &mut paths, &mut out),
            Some(Encoded::Absorbed)
        );
        assert!(out.is_empty(), "a probe record writes nothing");
        let call = enter(7, 257, [at_fdcwd, 0xdead, 0o2101, 0o644, 0, 0]);
        assert_eq!(
            s.encode(&call, 3_000, &mut paths, &mut out),
            Some(Encoded::Event(openat))
        );
        assert_eq!(
            out,
            openat_payload(7, -100, b"/etc/hostname", 0o2101, 0o644)
        );
        // Used up: the thread's next openat has no path.
        out.clear();
        s.encode(&call, 4_000, &mut paths, &mut out).unwrap();
        assert_eq!(out, openat_payload(7, -100, b"", 0o2101, 0o644));
        // Another thread's probe, another thread's call: not joined, and any other
        // system call of the probing thread uses its path up.
        s.encode(&probe(8, b"/x"), 5_000, &mut paths, &mut out)
            .unwrap();
        out.clear();
        s.encode(&enter(9, 257, [0; 6]), 5_100, &mut paths, &mut out)
            .unwrap();
        assert_eq!(out, openat_payload(9, 0, b"", 0, 0));
        let read = class("syscall_entry_read");
        assert_eq!(
            s.encode(&enter(8, 0, [0; 6]), 5_200, &mut paths, &mut out),
            Some(Encoded::Event(read))
        );
        assert_eq!(paths.paths.pending(), 0);
        // Too old, or after the call (read out of order from another CPU): not joined.
        s.encode(&probe(7, b"/old"), 10, &mut paths, &mut out)
            .unwrap();
        out.clear();
        s.encode(&call, 10 + PATH_WINDOW + 1, &mut paths, &mut out)
            .unwrap();
        assert_eq!(out, openat_payload(7, -100, b"", 0o2101, 0o644));
        s.encode(&probe(7, b"/late"), 9_000, &mut paths, &mut out)
            .unwrap();
        out.clear();
        s.encode(&call, 8_000, &mut paths, &mut out).unwrap();
        assert_eq!(out, openat_payload(7, -100, b"", 0o2101, 0o644));
        // `open` has no dfd.
        s.encode(&probe(7, b"/p"), 20_000, &mut paths, &mut out)
            .unwrap();
        out.clear();
        s.encode(
            &enter(7, 2, [1, 2, 3, 0, 0, 0]),
            20_001,
            &mut paths,
            &mut out,
        )
        .unwrap();
        let mut want = 7i32.to_le_bytes().to_vec();
        want.extend(b"/p\0");
        want.extend(2i32.to_le_bytes());
        want.extend(3u16.to_le_bytes());
        assert_eq!(out, want);
    }

    #[test]
    fn path_probe_records_are_untrusted() {
        let s = KernelSchema::new(&[parse_format(PROBE).unwrap()]);
        let mut paths = SessionState::default();
        let mut out = Vec::new();
        let mut p = probe(1, b"/a");
        // A location past the record, a length past it, a truncated record.
        p[16..20].copy_from_slice(&(200u32 | (2 << 16)).to_le_bytes());
        assert_eq!(s.encode(&p, 1, &mut paths, &mut out), None);
        p[16..20].copy_from_slice(&(20u32 | (900 << 16)).to_le_bytes());
        assert_eq!(s.encode(&p, 1, &mut paths, &mut out), None);
        assert_eq!(s.encode(&p[..18], 1, &mut paths, &mut out), None);
        assert!(out.is_empty() && paths.paths.pending() == 0);
        // Many threads' paths: memory stays bounded.
        for tid in 0..10_000 {
            s.encode(&probe(tid, b"/a"), 1, &mut paths, &mut out)
                .unwrap();
        }
        assert!(paths.paths.pending() <= MAX_PENDING_PATHS);
        // A path longer than PATH_MAX is cut.
        let long = vec![b'a'; 8000];
        let mut big = probe(1, &long[..]);
        big[16..20].copy_from_slice(&(20u32 | (8000 << 16)).to_le_bytes());
        s.encode(&big, 1, &mut paths, &mut out).unwrap();
        assert_eq!(paths.paths.take(1, 1).unwrap().len(), MAX_PATH);
    }
}
