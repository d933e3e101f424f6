//! The context fields `lttng add-context -k -t ...` adds to every kernel event, with
//! LTTng-modules' names and types ([`KernelContext`]), after the `vtid` every event
//! of ours carries.
//!
//! LTTng reads them from the current task when the event fires; here they come from
//! the record and from what the trace told so far ([`Threads`]):
//! - `tid`, `vtid`: the record's `common_pid`; `pid`, `vpid`: its process
//!   ([`super::Tasks`]); `ppid`, `vppid`: the parent of that process, from the
//!   statedump and the forks (0 when the trace has not said);
//! - `procname`, `prio`: the thread's name and priority as the statedump, forks,
//!   execs and `sched_switch` (when enabled) last said (the name empty and the
//!   priority 20, nice 0, when not);
//! - `preemptible`, `need_reschedule`: ftrace's `common_preempt_count` and
//!   `common_flags` of the record;
//! - `hostname`: the machine's name when the session started.
//!
//! The `v*` ids equal the others: every task is taken as one of the session's pid
//! namespace (see [`super::SessionState::pid_ns_inum`]).

use std::collections::HashMap;

use proto::event::{KernelContext, KERNEL_HOSTNAME_LEN};

use super::SessionState;

/// Most threads whose name and priority, and processes whose parent, are kept (past
/// it the table starts afresh: a bound on memory whatever the pages say).
pub(super) const MAX_THREADS: usize = 1 << 16;

/// The default priority LTTng's `prio` shows for a thread at nice 0.
const DEFAULT_PRIO: i32 = 20;

/// ftrace's `TRACE_FLAG_NEED_RESCHED` bit of `common_flags`.
const NEED_RESCHED: u8 = 0x04;

/// What the trace told of each thread and process.
#[derive(Debug, Default)]
pub struct Threads {
    comm: HashMap<i32, [u8; 16]>,
    prio: HashMap<i32, i32>,
    parent: HashMap<i32, i32>,
}

fn bounded<V>(map: &mut HashMap<i32, V>, key: i32, v: V) {
    if map.len() >= MAX_THREADS && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, v);
}

/// A name as the kernel's `comm`: at most 15 bytes, NUL-padded to 16.
pub(super) fn comm_of(name: &[u8]) -> [u8; 16] {
    let end = name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name.len())
        .min(15);
    let mut c = [0u8; 16];
    c[..end].copy_from_slice(&name[..end]);
    c
}

impl Threads {
    /// Thread `tid` is called `name` (a statedump, a fork, an exec, a switch).
    pub fn named(&mut self, tid: i32, name: &[u8]) {
        bounded(&mut self.comm, tid, comm_of(name));
    }

    /// Thread `tid` runs at LTTng priority `prio`.
    pub fn prio(&mut self, tid: i32, prio: i32) {
        bounded(&mut self.prio, tid, prio);
    }

    /// Process `pid`'s parent process is `ppid`.
    pub fn parent(&mut self, pid: i32, ppid: i32) {
        bounded(&mut self.parent, pid, ppid);
    }

    /// Threads and processes known (for the bounds' tests).
    pub fn known(&self) -> usize {
        self.comm.len().max(self.prio.len()).max(self.parent.len())
    }
}

/// Appends the values of `contexts` for the record `payload` of thread `tid`
/// (`payload` empty: an event of no thread, the statedump's).
pub(super) fn put(
    contexts: &[KernelContext],
    hostname: &[u8],
    payload: &[u8],
    tid: i32,
    state: &SessionState,
    out: &mut Vec<u8>,
) {
    let pid = if tid == 0 {
        0
    } else {
        state.tasks.process_of(tid)
    };
    for c in contexts {
        match c {
            KernelContext::Pid | KernelContext::Vpid => out.extend_from_slice(&pid.to_le_bytes()),
            KernelContext::Tid | KernelContext::Vtid => out.extend_from_slice(&tid.to_le_bytes()),
            KernelContext::Ppid | KernelContext::Vppid => {
                let ppid = state.threads.parent.get(&pid).copied().unwrap_or(0);
                out.extend_from_slice(&ppid.to_le_bytes());
            }
            KernelContext::Procname => {
                let comm = state.threads.comm.get(&tid).copied().unwrap_or([0; 16]);
                out.extend_from_slice(&comm);
            }
            KernelContext::Prio => {
                let prio = state
                    .threads
                    .prio
                    .get(&tid)
                    .copied()
                    .unwrap_or(DEFAULT_PRIO);
                out.extend_from_slice(&prio.to_le_bytes());
            }
            KernelContext::Hostname => {
                let len = KERNEL_HOSTNAME_LEN as usize;
                let end = hostname.len().min(len - 1);
                out.extend_from_slice(&hostname[..end]);
                out.resize(out.len() + len - end, 0);
            }
            KernelContext::Preemptible => {
                let count = payload.get(3).copied().unwrap_or(1);
                out.push(u8::from(count == 0));
            }
            KernelContext::NeedReschedule => {
                let flags = payload.get(2).copied().unwrap_or(0);
                out.push(u8::from(flags & NEED_RESCHED != 0));
            }
        }
    }
}
