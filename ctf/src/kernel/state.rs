//! What the encoder keeps for a whole kernel session, shared by every CPU's records:
//! the path probes' paths waiting for their system calls ([`PathHints`]), and which
//! process each thread belongs to and which programs are 32-bit ([`Tasks`]). Every
//! table is bounded, whatever the pages say.

use std::collections::{HashMap, HashSet};

use proto::wire::consumer::ProcessState;

/// Most threads with a path waiting: past it, the waiting paths are dropped (a bound
/// on memory whatever the pages say).
pub(super) const MAX_PENDING_PATHS: usize = 4096;
/// Longest path kept (`PATH_MAX`).
pub(super) const MAX_PATH: usize = 4096;
/// A path joins a system call entered at most this many clock ticks after the probe
/// fired (1 to 10 ms, whether the trace clock counts nanoseconds or TSC cycles);
/// between the two the C library only moves arguments into registers.
pub const PATH_WINDOW: u64 = 10_000_000;

/// Most threads whose process is remembered, and most new tasks waiting for their fork
/// event: past either, the table starts afresh (a bound on memory whatever the pages
/// say; a thread forgotten this way gets its own id as its process id).
pub(super) const MAX_TASKS: usize = 1 << 16;
pub(super) const MAX_PENDING_TASKS: usize = 4096;
/// `CLONE_THREAD`: the new task shares its parent's process.
pub(super) const CLONE_THREAD: u64 = 0x0001_0000;

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
    /// Each thread's last system call entry, for its exit (see [`super::syscall`]).
    pub syscalls: super::Entries,
    /// The inode of the session's pid namespace (the session daemon's, which it sends
    /// the consumer), LTTng's `parent_ns_inum` and `child_ns_inum` of every fork (0, as
    /// LTTng records an unknown namespace, when not known): the kernel's records do not
    /// say which namespace a task is in, so every task is taken as one of the
    /// session's, and a fork's `vtids` holds its id there only.
    pub pid_ns_inum: u32,
    /// Names, priorities and parents, for the context fields (see [`super::context`]).
    pub threads: super::Threads,
}

impl SessionState {
    /// A thread of the statedump: its process, name and parent.
    pub fn statedump_thread(&mut self, p: &ProcessState) {
        self.tasks.note(p.tid, p.pid);
        self.threads.named(p.tid, p.name.as_bytes());
        if p.tid == p.pid {
            self.threads.parent(p.pid, p.ppid);
        }
    }
}

/// Which process each thread belongs to, as far as the trace tells: the statedump's
/// threads, then every fork.
#[derive(Debug, Default)]
pub struct Tasks {
    process_of: HashMap<i32, i32>,
    /// New tasks (`task_newtask`) not yet seen forked: whether each is a thread.
    pub(super) new_is_thread: HashMap<i32, bool>,
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

    pub(super) fn new_task(&mut self, tid: i32, thread: bool) {
        if self.new_is_thread.len() >= MAX_PENDING_TASKS && !self.new_is_thread.contains_key(&tid) {
            self.new_is_thread.clear();
        }
        self.new_is_thread.insert(tid, thread);
    }

    /// A fork of `child` by `parent` (thread ids): the child's process id. A process
    /// forked by a 32-bit program runs it too.
    pub(super) fn forked(&mut self, parent: i32, child: i32) -> i32 {
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
    pub(super) fn exec(&mut self, tid: i32) {
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
    pub(super) fn enters(&mut self, tid: i32, nr: i64) -> bool {
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
    pub(super) fn is_compat(&self, tid: i32) -> bool {
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
    pub(super) fn put(&mut self, tid: i32, ts: u64, path: &[u8]) {
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
    pub(super) fn take(&mut self, tid: i32, ts: u64) -> Option<Vec<u8>> {
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
