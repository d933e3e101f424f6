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
    /// `arg & mask` is one of these values (for example "not both `PROT_WRITE` and
    /// `PROT_EXEC`": the masked protection is none, either, but not both).
    MaskedOneOf {
        index: u8,
        mask: u64,
        values: &'static [u64],
    },
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

/// Mappings for a role that never maps anything executable.
const NEVER_EXECUTABLE: &[Allowed] = &[
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
];

/// What every Rust program needs once running: memory (besides `mmap` and `mprotect`,
/// whose constraints differ by role), threads' futexes, signals' return path, time,
/// exit.
const RUNTIME: &[Allowed] = &[
    any("brk", libc::SYS_brk, "malloc"),
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

/// consumer-kernel, besides consumer-ust's work: whole ftrace pages moved from
/// `trace_pipe_raw` into a pipe of its own, many per call.
const CONSUMER_KERNEL: &[Allowed] = &[
    any("pipe2", libc::SYS_pipe2, "one pipe per CPU stream"),
    any(
        "splice",
        libc::SYS_splice,
        "whole pages from trace_pipe_raw into that pipe",
    ),
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

const PROT_WRITE: u64 = libc::PROT_WRITE as u64;

/// `fcntl` commands of the session daemon: the consumer's, plus sealing the memfds it
/// creates.
const SESSIOND_FCNTL_CMDS: &[u64] = &[
    libc::F_GETFD as u64,
    libc::F_SETFD as u64,
    libc::F_GETFL as u64,
    libc::F_SETFL as u64,
    libc::F_GET_SEALS as u64,
    libc::F_ADD_SEALS as u64,
    libc::F_DUPFD_CLOEXEC as u64,
];

/// The `prctl` options used: thread names (std), and the sandbox's own steps (its
/// own in `policy::enter`, and the consumer's, which inherits the filter).
const SESSIOND_PRCTL_OPTIONS: &[u64] = &[
    libc::PR_SET_NAME as u64,
    libc::PR_CAPBSET_READ as u64,
    libc::PR_CAPBSET_DROP as u64,
    libc::PR_CAP_AMBIENT as u64,
    libc::PR_SET_NO_NEW_PRIVS as u64,
];

/// `clone` flags that create namespaces (never needed to start a thread or a child).
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// lttng-sessiond: many threads (listeners, one per connection, consumer
/// supervisors), sealed memfds and eventfds, unix sockets only, metadata files
/// anywhere the user names as output (no Landlock for this role), and it spawns
/// `lttng-consumerd-ust`.
///
/// A seccomp filter survives `execve`: the consumer runs under this filter *and* its
/// own, so everything the consumer does from its first instruction (the dynamic
/// loader, std's start-up, its user namespace, entering its own sandbox) and while
/// serving is here too. Those entries say "consumer". Found by running sessions,
/// snapshots, `lttng trace` and the integration tests under `strace -f` (as root and
/// as an ordinary user), then checking the kernel log for seccomp kills.
const SESSIOND: &[Allowed] = &[
    // The kernel consumer's page pipe: it runs under this filter too.
    any("pipe2", libc::SYS_pipe2, "the kernel consumer's page pipe"),
    any(
        "splice",
        libc::SYS_splice,
        "the kernel consumer's page pipe",
    ),
    // Memory. Executable mappings exist only for the consumer's dynamic loader (its
    // libraries' code, mapped read+exec); never writable and executable at once.
    Allowed {
        name: "mmap",
        nr: libc::SYS_mmap,
        args: &[Arg::MaskedOneOf {
            index: 2,
            mask: PROT_WRITE | PROT_EXEC,
            values: &[0, PROT_WRITE, PROT_EXEC],
        }],
        who: "malloc, ring buffers; consumer: ld.so maps code (never W+X)",
    },
    Allowed {
        name: "mprotect",
        nr: libc::SYS_mprotect,
        args: &[Arg::MaskedOneOf {
            index: 2,
            mask: PROT_WRITE | PROT_EXEC,
            values: &[0, PROT_WRITE, PROT_EXEC],
        }],
        who: "guard pages; consumer: ld.so RELRO (never W+X)",
    },
    any("memfd_create", libc::SYS_memfd_create, "ring buffers"),
    any("eventfd2", libc::SYS_eventfd2, "ring buffers' wakeup fds"),
    any(
        "ftruncate",
        libc::SYS_ftruncate,
        "sizing ring-buffer memfds; consumer: stream files",
    ),
    // Files: metadata, the lock, the run directory, /proc and /sys facts.
    any(
        "read",
        libc::SYS_read,
        "files, /proc, /sys; consumer: eventfds",
    ),
    any(
        "pread64",
        libc::SYS_pread64,
        "std's file reads; consumer: ld.so, stream files",
    ),
    any(
        "write",
        libc::SYS_write,
        "metadata files, the lock file, the log",
    ),
    any("writev", libc::SYS_writev, "consumer: stream files"),
    any(
        "lseek",
        libc::SYS_lseek,
        "the lock file; consumer: stream files",
    ),
    any(
        "openat",
        libc::SYS_openat,
        "metadata files (any output the user names)",
    ),
    any("close", libc::SYS_close, "everything"),
    any("statx", libc::SYS_statx, "std metadata"),
    any(
        "newfstatat",
        libc::SYS_newfstatat,
        "std metadata, memfd checks; consumer: ld.so",
    ),
    any("fstat", libc::SYS_fstat, "consumer: memfd checks"),
    any("mkdir", libc::SYS_mkdir, "trace directories"),
    any("mkdirat", libc::SYS_mkdirat, "consumer: trace directories"),
    any("rename", libc::SYS_rename, "metadata written atomically"),
    any(
        "unlink",
        libc::SYS_unlink,
        "stale sockets in the run directory",
    ),
    any(
        "readlink",
        libc::SYS_readlink,
        "std::env::current_exe; consumer: eventfd checks",
    ),
    any(
        "readlinkat",
        libc::SYS_readlinkat,
        "user and group names for messages about privd (NSS: nss-systemd)",
    ),
    any(
        "getcwd",
        libc::SYS_getcwd,
        "std's panic message with RUST_BACKTRACE (a panicking thread must not kill the daemon)",
    ),
    any(
        "getdents64",
        libc::SYS_getdents64,
        "consumer: policy::enter lists its threads",
    ),
    any(
        "access",
        libc::SYS_access,
        "consumer: ld.so (ld.so.preload)",
    ),
    any(
        "flock",
        libc::SYS_flock,
        "the run-directory lock (one daemon per user)",
    ),
    Allowed {
        name: "fcntl",
        nr: libc::SYS_fcntl,
        args: &[Arg::OneOf {
            index: 1,
            values: SESSIOND_FCNTL_CMDS,
        }],
        who: "sealing memfds, O_NONBLOCK, close-on-exec, dup",
    },
    // Unix sockets only.
    Allowed {
        name: "socket",
        nr: libc::SYS_socket,
        args: &[Arg::OneOf {
            index: 0,
            values: &[libc::AF_UNIX as u64],
        }],
        who: "client.sock and app.sock (AF_UNIX only)",
    },
    Allowed {
        name: "socketpair",
        nr: libc::SYS_socketpair,
        args: &[Arg::OneOf {
            index: 0,
            values: &[libc::AF_UNIX as u64],
        }],
        who: "the consumer's control socket (AF_UNIX only)",
    },
    any("bind", libc::SYS_bind, "client.sock and app.sock"),
    any("listen", libc::SYS_listen, "client.sock and app.sock"),
    any(
        "accept4",
        libc::SYS_accept4,
        "connections of lttng and apps",
    ),
    any(
        "connect",
        libc::SYS_connect,
        "privd's socket (kernel tracing; AF_UNIX sockets only)",
    ),
    any(
        "getsockopt",
        libc::SYS_getsockopt,
        "SO_PEERCRED of every connection; consumer: SO_TYPE",
    ),
    any(
        "setsockopt",
        libc::SYS_setsockopt,
        "reply timeouts (SO_RCVTIMEO, SO_SNDTIMEO), SO_PASSCRED",
    ),
    any("sendmsg", libc::SYS_sendmsg, "messages with SCM_RIGHTS"),
    any("recvmsg", libc::SYS_recvmsg, "messages with SCM_RIGHTS"),
    any(
        "shutdown",
        libc::SYS_shutdown,
        "disconnecting an app that stopped answering",
    ),
    any(
        "poll",
        libc::SYS_poll,
        "apps' hang-ups; consumer: event loop, std start-up",
    ),
    any("ppoll", libc::SYS_ppoll, "consumer: event loop"),
    // Signals.
    any(
        "rt_sigaction",
        libc::SYS_rt_sigaction,
        "std (SIGPIPE, stack overflow), posix_spawn's child, policy::enter",
    ),
    any(
        "rt_sigtimedwait",
        libc::SYS_rt_sigtimedwait,
        "the main thread waits for SIGTERM/SIGINT/SIGHUP",
    ),
    Allowed {
        name: "kill",
        nr: libc::SYS_kill,
        args: &[Arg::OneOf {
            index: 1,
            values: &[libc::SIGKILL as u64],
        }],
        who: "killing a consumer that stopped answering (SIGKILL only)",
    },
    any(
        "tgkill",
        libc::SYS_tgkill,
        "abort(); consumer: policy::enter reaches threads already running",
    ),
    // Threads, and spawning the consumer (std::process::Command: glibc's posix_spawn,
    // clone3 with CLONE_VM|CLONE_VFORK, dup2 of stdin, execve).
    any(
        "clone3",
        libc::SYS_clone3,
        "threads (glibc), posix_spawn of the consumer (flags in memory: not filterable)",
    ),
    Allowed {
        name: "clone",
        nr: libc::SYS_clone,
        args: &[Arg::Clear {
            index: 0,
            mask: CLONE_NAMESPACES,
        }],
        who: "glibc's fallback on kernels without clone3 (no namespaces)",
    },
    any("execve", libc::SYS_execve, "starting the consumer"),
    any("dup2", libc::SYS_dup2, "posix_spawn: the consumer's stdin"),
    any(
        "wait4",
        libc::SYS_wait4,
        "reaping consumers (std Child::wait)",
    ),
    any("waitid", libc::SYS_waitid, "reaping consumers (std)"),
    any(
        "set_robust_list",
        libc::SYS_set_robust_list,
        "glibc: every new thread; consumer: start-up",
    ),
    any(
        "rseq",
        libc::SYS_rseq,
        "glibc: every new thread; consumer: start-up",
    ),
    any(
        "set_tid_address",
        libc::SYS_set_tid_address,
        "consumer: glibc start-up",
    ),
    any("arch_prctl", libc::SYS_arch_prctl, "consumer: ld.so (TLS)"),
    any(
        "prlimit64",
        libc::SYS_prlimit64,
        "std: main thread's stack; consumer: start-up",
    ),
    any(
        "sched_getaffinity",
        libc::SYS_sched_getaffinity,
        "std::thread::available_parallelism",
    ),
    Allowed {
        name: "prctl",
        nr: libc::SYS_prctl,
        args: &[Arg::OneOf {
            index: 0,
            values: SESSIOND_PRCTL_OPTIONS,
        }],
        who: "thread names (std); consumer: dropping capabilities, no_new_privs",
    },
    any("getuid", libc::SYS_getuid, "the run directory's owner"),
    any("geteuid", libc::SYS_geteuid, "consumer: own_user_namespace"),
    any("getgid", libc::SYS_getgid, "consumer: own_user_namespace"),
    // The consumer's way into its own sandbox (policy::own_user_namespace, enter),
    // and its scheduling hint.
    Allowed {
        name: "unshare",
        nr: libc::SYS_unshare,
        args: &[Arg::OneOf {
            index: 0,
            values: &[libc::CLONE_NEWUSER as u64],
        }],
        who: "consumer: its own user namespace (CLONE_NEWUSER only)",
    },
    any(
        "capset",
        libc::SYS_capset,
        "consumer: policy::enter clears its capability sets",
    ),
    any(
        "close_range",
        libc::SYS_close_range,
        "consumer: policy::enter closes inherited descriptors",
    ),
    any(
        "landlock_create_ruleset",
        libc::SYS_landlock_create_ruleset,
        "consumer: its Landlock ruleset",
    ),
    any(
        "landlock_add_rule",
        libc::SYS_landlock_add_rule,
        "consumer: its Landlock ruleset",
    ),
    any(
        "landlock_restrict_self",
        libc::SYS_landlock_restrict_self,
        "consumer: its Landlock ruleset",
    ),
    Allowed {
        name: "seccomp",
        nr: libc::SYS_seccomp,
        args: &[Arg::OneOf {
            index: 0,
            values: &[libc::SECCOMP_SET_MODE_FILTER as u64],
        }],
        who: "consumer: its own filter, on top of this one",
    },
    any(
        "getpriority",
        libc::SYS_getpriority,
        "consumer: proto::sched keeps its nice value",
    ),
    any(
        "sched_setattr",
        libc::SYS_sched_setattr,
        "consumer: proto::sched's short time slice",
    ),
];

/// privd (root, no capability): its socket (accept, per-message credentials), the
/// threads serving connections, tracefs files and directories (Landlock: tracefs,
/// its socket directory, and /etc read-only), the group database.
const PRIVD: &[Allowed] = &[
    any("read", libc::SYS_read, "tracefs files, /etc/group"),
    any(
        "pread64",
        libc::SYS_pread64,
        "the sandbox's own /proc status check",
    ),
    any(
        "write",
        libc::SYS_write,
        "tracefs control files, stderr log",
    ),
    any(
        "openat",
        libc::SYS_openat,
        "tracefs files (Landlock: tracefs, /etc, its socket dir)",
    ),
    any("close", libc::SYS_close, "everything"),
    any("lseek", libc::SYS_lseek, "std file reads"),
    any("statx", libc::SYS_statx, "tracefs event listing"),
    any(
        "newfstatat",
        libc::SYS_newfstatat,
        "tracefs event listing, std",
    ),
    any("fstat", libc::SYS_fstat, "glibc's group database reader"),
    any(
        "getdents64",
        libc::SYS_getdents64,
        "listing tracefs events and instances",
    ),
    any("mkdir", libc::SYS_mkdir, "creating a tracefs instance"),
    any("mkdirat", libc::SYS_mkdirat, "creating a tracefs instance"),
    any("rmdir", libc::SYS_rmdir, "removing a tracefs instance"),
    any("unlink", libc::SYS_unlink, "removing its socket at exit"),
    any(
        "unlinkat",
        libc::SYS_unlinkat,
        "removing an instance (std may use it)",
    ),
    any("accept4", libc::SYS_accept4, "connections"),
    any(
        "recvmsg",
        libc::SYS_recvmsg,
        "requests, with the sender's credentials",
    ),
    any(
        "sendmsg",
        libc::SYS_sendmsg,
        "replies, trace_pipe_raw descriptors",
    ),
    any(
        "getsockopt",
        libc::SYS_getsockopt,
        "SO_PEERCRED, SO_PEERGROUPS",
    ),
    any(
        "setsockopt",
        libc::SYS_setsockopt,
        "SO_PASSCRED on each connection",
    ),
    Allowed {
        name: "socket",
        nr: libc::SYS_socket,
        args: &[Arg::OneOf {
            index: 0,
            values: &[libc::AF_UNIX as u64],
        }],
        who: "glibc's group lookups try nscd's unix socket first",
    },
    any(
        "connect",
        libc::SYS_connect,
        "glibc's group lookups (nscd's socket)",
    ),
    Allowed {
        name: "fcntl",
        nr: libc::SYS_fcntl,
        args: &[Arg::OneOf {
            index: 1,
            values: FCNTL_CMDS,
        }],
        who: "std, close-on-exec",
    },
    any("flock", libc::SYS_flock, "releasing its lock at exit"),
    any(
        "clone3",
        libc::SYS_clone3,
        "a thread per connection (no exec is allowed)",
    ),
    Allowed {
        name: "clone",
        nr: libc::SYS_clone,
        args: &[Arg::Clear {
            index: 0,
            mask: CLONE_NAMESPACES,
        }],
        who: "a thread per connection (older glibc)",
    },
    any("set_robust_list", libc::SYS_set_robust_list, "new threads"),
    any("rseq", libc::SYS_rseq, "new threads"),
    any(
        "sched_getaffinity",
        libc::SYS_sched_getaffinity,
        "std::thread",
    ),
    Allowed {
        name: "prctl",
        nr: libc::SYS_prctl,
        args: &[Arg::OneOf {
            index: 0,
            values: &[libc::PR_SET_NAME as u64],
        }],
        who: "thread names",
    },
    any(
        "rt_sigtimedwait",
        libc::SYS_rt_sigtimedwait,
        "waiting for SIGTERM",
    ),
    any("rt_sigaction", libc::SYS_rt_sigaction, "std"),
    any("poll", libc::SYS_poll, "std"),
];

/// The allowlist of `role` (runtime needs included).
pub fn allowlist(role: Role) -> Vec<Allowed> {
    let own: &[&[Allowed]] = match role {
        Role::ConsumerUst => &[NEVER_EXECUTABLE, CONSUMER_UST],
        // The same work on other descriptors: trace_pipe_raw fds received over the
        // control socket, stream files below the output.
        Role::ConsumerKernel => &[NEVER_EXECUTABLE, CONSUMER_UST, CONSUMER_KERNEL],
        Role::Sessiond => &[SESSIOND],
        Role::Privd => &[NEVER_EXECUTABLE, PRIVD],
    };
    RUNTIME
        .iter()
        .chain(own.iter().flat_map(|t| t.iter()))
        .copied()
        .collect()
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
                Arg::MaskedOneOf {
                    index,
                    mask,
                    values,
                } => {
                    for v in values {
                        alternatives.push(vec![SeccompCondition::new(
                            index,
                            SeccompCmpArgLen::Qword,
                            SeccompCmpOp::MaskedEq(mask),
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

    /// The consumer runs under the session daemon's filter too (inherited across
    /// `execve`): whatever its own list allows must also be in the daemon's.
    #[test]
    fn the_session_daemon_allows_everything_its_consumer_does() {
        let daemon = allowlist(Role::Sessiond);
        for role in [Role::ConsumerUst, Role::ConsumerKernel] {
            for c in allowlist(role) {
                assert!(
                    daemon.iter().any(|d| d.nr == c.nr),
                    "{} is allowed to {role:?} but would kill it under sessiond's filter",
                    c.name
                );
            }
        }
    }

    #[test]
    fn the_session_daemon_cannot_reach_beyond_its_user() {
        let daemon = allowlist(Role::Sessiond);
        for (name, nr) in [
            ("ptrace", libc::SYS_ptrace),
            ("process_vm_readv", libc::SYS_process_vm_readv),
            ("process_vm_writev", libc::SYS_process_vm_writev),
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("io_uring_enter", libc::SYS_io_uring_enter),
            ("io_uring_register", libc::SYS_io_uring_register),
            ("bpf", libc::SYS_bpf),
            ("perf_event_open", libc::SYS_perf_event_open),
            ("mount", libc::SYS_mount),
            ("umount2", libc::SYS_umount2),
            ("pivot_root", libc::SYS_pivot_root),
            ("kexec_load", libc::SYS_kexec_load),
            ("kexec_file_load", libc::SYS_kexec_file_load),
            ("init_module", libc::SYS_init_module),
            ("finit_module", libc::SYS_finit_module),
            ("delete_module", libc::SYS_delete_module),
            ("setns", libc::SYS_setns),
            ("keyctl", libc::SYS_keyctl),
            ("userfaultfd", libc::SYS_userfaultfd),
            ("pidfd_getfd", libc::SYS_pidfd_getfd),
            ("setuid", libc::SYS_setuid),
            ("chmod", libc::SYS_chmod),
            ("sendto", libc::SYS_sendto),
        ] {
            assert!(
                daemon.iter().all(|a| a.nr != nr),
                "{name} must not be allowed to sessiond"
            );
        }
        // Sockets: unix only.
        let socket = daemon.iter().find(|a| a.name == "socket").unwrap();
        assert_eq!(
            socket.args,
            &[Arg::OneOf {
                index: 0,
                values: &[libc::AF_UNIX as u64]
            }]
        );
    }

    #[test]
    fn every_role_compiles() {
        for role in Role::ALL {
            assert!(!filter(role).unwrap().is_empty());
        }
    }

    /// SECURITY.md shows the reviewed lists as they are.
    #[test]
    fn security_md_shows_the_reviewed_lists() {
        let doc = include_str!("../../SECURITY.md");
        let lists = include_str!("../allowed-syscalls.txt");
        assert!(
            doc.contains(&format!("```text\n{lists}```")),
            "SECURITY.md's block of allowed system calls differs from policy/allowed-syscalls.txt: copy it over"
        );
    }
}
