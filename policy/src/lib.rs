//! The sandbox of each process, as data, and the one function that enters it.
//!
//! Each sandboxed role has a seccomp allowlist ([`seccomp`]: every system call with
//! who needs it, argument constraints such as "`mmap` never executable") and, for
//! the consumers, a Landlock ruleset ([`fs`]: the paths it may read and write,
//! nothing else; the session daemon has none, see [`Role::Sessiond`]).
//! [`enter`] applies them in the order of the design (DESIGN.md §4):
//!
//! 1. close inherited descriptors (all but those the caller keeps);
//! 2. drop every capability, the bounding set included, by number up to
//!    `cap_last_cap`;
//! 3. set no_new_privs;
//! 4. enforce the Landlock ruleset (ABI pinned to [`fs::ABI`]);
//! 5. install the seccomp filter last, on every thread (TSYNC).
//!
//! Steps 2–4 are per thread in Linux: threads that already exist get them through a
//! signal whose handler does the same system calls, so a thread started before the
//! sandbox is sandboxed too. Then every thread's `/proc` status is checked:
//! `NoNewPrivs: 1`, `Seccomp: 2`, all capability sets zero.
//!
//! It fails closed: without Landlock or seccomp the process refuses to run, unless the
//! operator passed an explicit degraded mode ([`Sandbox::degraded`]), which the
//! returned [`Entered`] reports so that `lttng status` can say so.
//!
//! An unprivileged process cannot drop its capability bounding set (that needs
//! CAP_SETPCAP). [`own_user_namespace`], called first thing in `main`, moves it into a
//! user namespace of its own where it holds that capability (mapped to its own uid
//! and gid, so files it creates belong to the user as before).
//!
//! The session daemon is the exception ([`Role::clears_bounding_set`]): it must stay
//! in the user's namespace (it talks to the user's applications and signals its
//! consumers), so it drops what it can (everything, when run as root) and its check
//! leaves `CapBnd` out. Its role is entered while it has a single thread.
#![deny(unsafe_code)]

pub mod fs;
pub mod probe;
pub mod seccomp;
mod status;
mod sys;

use std::fs::File;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

/// A sandboxed process role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `lttng-consumerd-ust`: drains userspace ring buffers into the session output.
    ConsumerUst,
    /// `lttng-sessiond`: the per-user session daemon. A looser policy: seccomp only
    /// (no Landlock: it writes metadata wherever the user puts a session's output), and
    /// its filter also covers the consumers it spawns (a filter survives `execve`).
    Sessiond,
    /// `lttng-consumerd-kernel`: decodes the ftrace pages of the `trace_pipe_raw`
    /// descriptors privd handed over, into the session output. It opens nothing under
    /// tracefs itself.
    ConsumerKernel,
    /// `lttng-privd`, the root helper: tracefs (its instances) and the group database,
    /// nothing else; no capability.
    Privd,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::ConsumerUst,
        Role::ConsumerKernel,
        Role::Sessiond,
        Role::Privd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::ConsumerUst => "consumer-ust",
            Role::ConsumerKernel => "consumer-kernel",
            Role::Sessiond => "sessiond",
            Role::Privd => "privd",
        }
    }

    /// Whether [`enter`] must empty the capability bounding set (and fail if it
    /// cannot). The session daemon cannot without a user namespace of its own, which
    /// it must not have: it drops the bounding set only when it can (as root).
    pub fn clears_bounding_set(self) -> bool {
        match self {
            Role::ConsumerUst | Role::ConsumerKernel | Role::Privd => true,
            Role::Sessiond => false,
        }
    }
}

/// What to enter.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub role: Role,
    /// Directories the process may create, write and read files below.
    pub writable: Vec<PathBuf>,
    /// Directories the process may only read below.
    pub readable: Vec<PathBuf>,
    /// Descriptors to keep open (besides 0, 1, 2).
    pub keep_fds: Vec<RawFd>,
    /// Run even when the kernel lacks Landlock or seccomp (the operator's explicit
    /// choice); the result says what is missing.
    pub degraded: bool,
}

/// What was enforced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entered {
    /// Everything is in place.
    pub complete: bool,
    /// What is missing, in degraded mode.
    pub missing: Vec<String>,
    /// Threads besides the caller that were sandboxed through a signal.
    pub other_threads: u32,
}

/// Why the sandbox could not be entered. The process must not go on (unless the
/// error says degraded mode would allow it and the operator asked for it).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot close inherited descriptors: {0}")]
    CloseFds(std::io::Error),
    #[error("cannot {0}")]
    Privileges(&'static str),
    #[error("cannot sandbox the threads already running: {0}")]
    Threads(String),
    #[error(transparent)]
    Landlock(#[from] fs::LandlockError),
    #[error("Landlock is not available on this kernel ({0}): refusing to run unsandboxed (the operator may allow a degraded mode explicitly)")]
    NoLandlock(String),
    #[error(transparent)]
    Filter(#[from] seccomp::FilterError),
    #[error("cannot install the seccomp filter: {0} (refusing to run unsandboxed)")]
    Seccomp(String),
    #[error("the sandbox is not in force: {0}")]
    Check(String),
}

/// Moves the process into a user namespace of its own, mapped to its own uid and gid,
/// where it may drop its capability bounding set. Call it first in `main`, while the
/// process has one thread. Does nothing for root (which can drop it already) and
/// reports failure (no user namespaces) to the caller, which then cannot clear the
/// bounding set and will fail in [`enter`] unless degraded.
pub fn own_user_namespace() -> std::io::Result<()> {
    if sys::euid() == 0 {
        return Ok(());
    }
    let (uid, gid) = sys::ids();
    sys::unshare_user_namespace()?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// Enters the sandbox of `s.role`; see the module documentation for the steps.
pub fn enter(s: &Sandbox) -> Result<Entered, SandboxError> {
    sys::close_inherited(&s.keep_fds).map_err(SandboxError::CloseFds)?;
    let mut missing = Vec::new();

    // Everything that needs /proc or the file system happens before Landlock: the
    // thread list, and the status files the final check reads.
    let tids = status::thread_ids();
    let mut statuses: Vec<(i32, File)> = tids
        .iter()
        .filter_map(|&t| status::open(t).map(|f| (t, f)))
        .collect();
    let last = sys::cap_last_cap();
    let ruleset = match fs::ruleset(s.role, &s.writable, &s.readable) {
        Ok(r) => r,
        Err(fs::LandlockError::Unsupported(why)) if s.degraded => {
            missing.push(format!("Landlock ({why})"));
            None
        }
        Err(fs::LandlockError::Unsupported(why)) => return Err(SandboxError::NoLandlock(why)),
        Err(e) => return Err(e.into()),
    };

    let other_threads = if s.role.clears_bounding_set() {
        // Other threads first (their handler needs the ruleset's descriptor), then us.
        let raw = ruleset.as_ref().map_or(-1, |r| r.raw_fd());
        let n = sys::sandbox_other_threads(&tids, last, raw, Duration::from_secs(2))
            .map_err(SandboxError::Threads)?;
        sys::drop_privileges_here(last).map_err(SandboxError::Privileges)?;
        n
    } else {
        // Capabilities are per thread and the per-thread handler insists on the
        // bounding set: such a role enters before its first thread starts.
        if tids.len() > 1 {
            return Err(SandboxError::Threads(format!(
                "the {} sandbox must be entered before any other thread starts ({} running)",
                s.role.name(),
                tids.len()
            )));
        }
        drop_privileges_keeping_bounding_set()?;
        0
    };
    if let Some(r) = ruleset {
        r.restrict_self()?;
    }

    // seccompiler sets no_new_privs first; TSYNC sets it on every thread too.
    let prog = seccomp::filter(s.role)?;
    if let Err(e) = seccompiler::apply_filter_all_threads(&prog) {
        if s.degraded {
            missing.push(format!("seccomp ({e})"));
        } else {
            return Err(SandboxError::Seccomp(e.to_string()));
        }
    }

    // Trust, but verify: every thread, as the kernel reports it.
    if missing.is_empty() {
        for (tid, f) in &mut statuses {
            let checked = if s.role.clears_bounding_set() {
                status::check(f)
            } else {
                check_keeping_bounding_set(f)
            };
            checked.map_err(|e| SandboxError::Check(format!("thread {tid}: {e}")))?;
        }
    }
    Ok(Entered {
        complete: missing.is_empty(),
        missing,
        other_threads,
    })
}

/// The calling thread's capabilities, for a role that keeps its bounding set when it
/// cannot drop it: the bounding set is emptied if the thread may (CAP_SETPCAP, i.e.
/// root), then the ambient, inheritable, effective and permitted sets are cleared
/// (nothing to clear for an ordinary user, everything for root).
fn drop_privileges_keeping_bounding_set() -> Result<(), SandboxError> {
    use caps::CapSet;
    // Fails at the first capability without CAP_SETPCAP: that is the expected case
    // of an unprivileged daemon.
    let _ = caps::clear(None, CapSet::Bounding);
    // EINVAL on kernels without ambient capabilities: nothing to clear then.
    let _ = caps::clear(None, CapSet::Ambient);
    for set in [CapSet::Effective, CapSet::Inheritable, CapSet::Permitted] {
        caps::clear(None, set)
            .map_err(|_| SandboxError::Privileges("clear the capability sets"))?;
    }
    Ok(())
}

/// [`status::check`] without the bounding set: `NoNewPrivs: 1`, `Seccomp: 2`, the
/// other capability sets zero.
fn check_keeping_bounding_set(f: &File) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 16384];
    let n = match f.read_at(&mut buf, 0) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
        Err(e) => return Err(format!("cannot read its status: {e}")),
    };
    status_without_bounding_set(&String::from_utf8_lossy(&buf[..n]))
}

/// The text of a status file with `CapBnd` read as zero, checked as usual.
fn status_without_bounding_set(text: &str) -> Result<(), String> {
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("CapBnd:") {
                "CapBnd:\t0000000000000000\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    status::check_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_session_daemon_may_keep_its_bounding_set() {
        assert!(Role::ConsumerUst.clears_bounding_set());
        assert!(!Role::Sessiond.clears_bounding_set());
        let ok = "NoNewPrivs:\t1\nSeccomp:\t2\nCapInh:\t0000000000000000\n\
            CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
            CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";
        assert_eq!(status_without_bounding_set(ok), Ok(()));
        let prm = ok.replace("CapPrm:\t0000000000000000", "CapPrm:\t0000000000000001");
        assert!(status_without_bounding_set(&prm)
            .unwrap_err()
            .contains("CapPrm"));
        let sec = ok.replace("Seccomp:\t2", "Seccomp:\t0");
        assert!(status_without_bounding_set(&sec)
            .unwrap_err()
            .contains("Seccomp"));
        assert!(status_without_bounding_set("Name:\tx\n").is_err());
    }

    #[test]
    fn the_session_daemon_has_no_landlock_ruleset() {
        assert!(fs::ruleset(Role::Sessiond, &[], &[]).unwrap().is_none());
    }
}
