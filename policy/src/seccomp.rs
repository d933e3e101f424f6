//! The seccomp allowlists, one per role, as data: every system call a role may make,
//! the argument constraints that matter, and who needs it. Anything else kills the
//! process (SIGSYS). A change here is a visible diff of `policy/allowed-syscalls.txt`
//! (the unit test `allowed_syscalls_are_the_reviewed_list` prints the set).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::Role;

/// A constraint on one argument of a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `(arg & mask) == 0`: none of these bits set (e.g. no `PROT_EXEC`).
    Clear { index: u8, mask: u64 },
    /// `arg` is one of these values (for example the `fcntl` commands allowed).
    OneOf { index: u8, values: &'static [u64] },
}

/// One allowed system call.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    pub name: &'static str,
    pub nr: i64,
    /// All must hold (an empty list: any arguments).
    pub args: &'static [Arg],
    /// Who needs it, for the reviewer.
    pub who: &'static str,
}

const fn any(name: &'static str, nr: i64, who: &'static str) -> Allowed {
    Allowed {
        name,
        nr,
        args: &[],
        who,
    }
}

const PROT_EXEC: u64 = libc::PROT_EXEC as u64;

/// `fcntl` commands: descriptor flags, status flags, seals (memfd checks).
const FCNTL_CMDS: &[u64] = &[
    libc::F_GETFD as u64,
    libc::F_SETFD as u64,
    libc::F_GETFL as u64,
    libc::F_SETFL as u64,
    libc::F_GET_SEALS as u64,
    libc::F_DUPFD_CLOEXEC as u64,
];

/// What every Rust program needs once running: memory, threads' futexes, signals'
/// return path, time, exit.
const RUNTIME: &[Allowed] = &[
    any("brk", libc::SYS_brk, "malloc"),
    Allowed {
        name: "mmap",
        nr: libc::SYS_mmap,
        args: &[Arg::Clear {
            index: 2,
            mask: PROT_EXEC,
        }],
        who: "malloc, mapping ring buffers (never executable)",
    },
    Allowed {
        name: "mprotect",
        nr: libc::SYS_mprotect,
        args: &[Arg::Clear {
            index: 2,
            mask: PROT_EXEC,
        }],
        who: "malloc arenas, thread stacks' guard pages (never executable)",
    },
    any("munmap", libc::SYS_munmap, "free, unmapping ring buffers"),
    any("mremap", libc::SYS_mremap, "realloc of large blocks"),
    any("madvise", libc::SYS_madvise, "malloc trimming"),
    any("futex", libc::SYS_futex, "std locks and thread joins"),
    any(
        "rt_sigreturn",
        libc::SYS_rt_sigreturn,
        "return from a signal handler",
    ),
    any("rt_sigprocmask", libc::SYS_rt_sigprocmask, "std, glibc"),
    any(
        "sigaltstack",
        libc::SYS_sigaltstack,
        "std's stack-overflow handler",
    ),
    any(
        "clock_gettime",
        libc::SYS_clock_gettime,
        "the trace clock's fallback",
    ),
    any(
        "clock_nanosleep",
        libc::SYS_clock_nanosleep,
        "std::thread::sleep",
    ),
    any(
        "nanosleep",
        libc::SYS_nanosleep,
        "std::thread::sleep (older glibc)",
    ),
    any(
        "sched_yield",
        libc::SYS_sched_yield,
        "std::thread::yield_now",
    ),
    any("getrandom", libc::SYS_getrandom, "HashMap seeds"),
    any(
        "restart_syscall",
        libc::SYS_restart_syscall,
        "kernel restarts",
    ),
    any("exit", libc::SYS_exit, "thread exit"),
    any("exit_group", libc::SYS_exit_group, "process exit"),
    any("gettid", libc::SYS_gettid, "std, logging"),
    any("getpid", libc::SYS_getpid, "std, logging"),
];

/// consumer-ust: the control socket, the buffers' memfds and eventfds, the stream
/// files below the session output (Landlock confines the paths).
const CONSUMER_UST: &[Allowed] = &[
    any("read", libc::SYS_read, "eventfd wakeups"),
    any("write", libc::SYS_write, "stderr log lines"),
    any(
        "writev",
        libc::SYS_writev,
        "stream files, batches of packets",
    ),
    any(
        "pread64",
        libc::SYS_pread64,
        "packet headers of a stream file being resumed",
    ),
    any("lseek", libc::SYS_lseek, "stream files"),
    any(
        "openat",
        libc::SYS_openat,
        "stream files (Landlock: only below the output)",
    ),
    any("close", libc::SYS_close, "everything"),
    any("statx", libc::SYS_statx, "file sizes (std metadata)"),
    any(
        "newfstatat",
        libc::SYS_newfstatat,
        "file sizes, memfd checks",
    ),
    any("fstat", libc::SYS_fstat, "memfd checks"),
    any(
        "ftruncate",
        libc::SYS_ftruncate,
        "cutting a stream file back to whole packets",
    ),
    any(
        "mkdir",
        libc::SYS_mkdir,
        "trace directories (Landlock: only below the output)",
    ),
    any(
        "mkdirat",
        libc::SYS_mkdirat,
        "trace directories (Landlock: only below the output)",
    ),
    any(
        "readlink",
        libc::SYS_readlink,
        "checking that a wakeup fd is an eventfd",
    ),
    Allowed {
        name: "fcntl",
        nr: libc::SYS_fcntl,
        args: &[Arg::OneOf {
            index: 1,
            values: FCNTL_CMDS,
        }],
        who: "memfd seals, O_NONBLOCK on eventfds, close-on-exec",
    },
    any("poll", libc::SYS_poll, "the event loop"),
    any("ppoll", libc::SYS_ppoll, "the event loop"),
    any(
        "recvmsg",
        libc::SYS_recvmsg,
        "control socket (with SCM_RIGHTS)",
    ),
    any("sendmsg", libc::SYS_sendmsg, "control socket replies"),
];

/// The allowlist of `role` (runtime needs included).
pub fn allowlist(role: Role) -> Vec<Allowed> {
    let own: &[Allowed] = match role {
        Role::ConsumerUst => CONSUMER_UST,
    };
    RUNTIME.iter().chain(own).copied().collect()
}

/// Why a filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the seccomp filter: {0}")]
pub struct FilterError(String);

/// Compiles the allowlist of `role` into a BPF program that kills the process on any
/// other system call (and on any other architecture).
pub fn filter(role: Role) -> Result<BpfProgram, FilterError> {
    let e = |x: seccompiler::BackendError| FilterError(x.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for a in allowlist(role) {
        let mut conds = Vec::new();
        let mut alternatives: Vec<Vec<SeccompCondition>> = Vec::new();
        for arg in a.args {
            match *arg {
                Arg::Clear { index, mask } => conds.push(
                    SeccompCondition::new(
                        index,
                        SeccompCmpArgLen::Qword,
                        SeccompCmpOp::MaskedEq(mask),
                        0,
                    )
                    .map_err(e)?,
                ),
                Arg::OneOf { index, values } => {
                    for v in values {
                        alternatives.push(vec![SeccompCondition::new(
                            index,
                            SeccompCmpArgLen::Dword,
                            SeccompCmpOp::Eq,
                            *v,
                        )
                        .map_err(e)?]);
                    }
                }
            }
        }
        let entry = rules.entry(a.nr).or_default();
        if alternatives.is_empty() {
            if !conds.is_empty() {
                entry.push(SeccompRule::new(conds).map_err(e)?);
            }
        } else {
            for mut alt in alternatives {
                alt.extend(conds.iter().cloned());
                entry.push(SeccompRule::new(alt).map_err(e)?);
            }
        }
    }
    let arch =
        TargetArch::try_from(std::env::consts::ARCH).map_err(|x| FilterError(x.to_string()))?;
    let f = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(e)?;
    f.try_into().map_err(|x: seccompiler::BackendError| e(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reviewed set: update `policy/allowed-syscalls.txt` together with the
    /// tables above (the failure message prints the new list).
    #[test]
    fn allowed_syscalls_are_the_reviewed_list() {
        let mut out = String::new();
        for role in Role::ALL {
            out.push_str(&format!("[{}]\n", role.name()));
            let mut names: Vec<String> = allowlist(role)
                .iter()
                .map(|a| {
                    if a.args.is_empty() {
                        a.name.to_string()
                    } else {
                        format!("{} (constrained)", a.name)
                    }
                })
                .collect();
            names.sort();
            names.dedup();
            for n in names {
                out.push_str(&n);
                out.push('\n');
            }
        }
        let reviewed = include_str!("../allowed-syscalls.txt");
        assert_eq!(
            out, reviewed,
            "the allowed system calls changed; review and update policy/allowed-syscalls.txt:\n{out}"
        );
    }

    #[test]
    fn every_role_compiles() {
        for role in Role::ALL {
            assert!(!filter(role).unwrap().is_empty());
        }
    }
}
