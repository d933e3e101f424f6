//! The system calls the sandbox needs that no crate offers safely: closing inherited
//! descriptors by range, dropping the bounding set by number, `capset` to zero, and
//! applying the per-thread steps to threads that already exist (a signal each).
//!
//! # Safety
//!
//! The `unsafe` blocks call `close_range`, `prctl`, `capset`, `landlock_restrict_self`,
//! `sigaction`, `tgkill`, `unshare` with valid arguments (constants, a fully initialised
//! header and data array, a handler that is an `extern "C" fn` doing only system calls
//! and atomic stores, all async-signal-safe).
#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Closes every descriptor from 3 up, except those in `keep`.
pub(crate) fn close_inherited(keep: &[RawFd]) -> std::io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&f| f >= 3)
        .map(|&f| f as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo = 3u32;
    for k in keep.iter().copied().chain(std::iter::once(u32::MAX)) {
        if k > lo {
            let hi = if k == u32::MAX { u32::MAX } else { k - 1 };
            // SAFETY: close_range on a range of descriptors; the ones we keep are
            // outside it, and nothing else of ours is open yet (callers run this first).
            let r = unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) };
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        lo = k.saturating_add(1);
    }
    Ok(())
}

/// The highest capability number this kernel knows.
pub(crate) fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// The per-thread part of entering the sandbox, for the calling thread: drop the
/// bounding set (0..=last), clear the ambient, inheritable, permitted and effective
/// sets, set no_new_privs, and (when `ruleset >= 0`) restrict to the Landlock ruleset.
/// Only system calls: safe to run in a signal handler. Returns the failed step.
fn thread_steps(last: u32, ruleset: RawFd) -> Result<(), &'static str> {
    for n in 0..=last {
        // SAFETY: prctl with integer arguments only.
        let present = unsafe { libc::prctl(libc::PR_CAPBSET_READ, n as libc::c_ulong, 0, 0, 0) };
        if present != 1 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let dropped = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) };
        if dropped != 0 {
            return Err("drop the capability bounding set (needs CAP_SETPCAP)");
        }
    }
    // SAFETY: prctl with integer arguments only; EINVAL on kernels without ambient
    // capabilities is fine (there is nothing to clear).
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset for the calling thread with a v3 header and the two data words
    // v3 expects, both valid for the duration of the call.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) } != 0 {
        return Err("clear the capability sets");
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err("set no_new_privs");
    }
    if ruleset >= 0 {
        // SAFETY: landlock_restrict_self with a ruleset descriptor we own and no flags.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) } != 0 {
            return Err("enforce the Landlock ruleset");
        }
    }
    Ok(())
}

/// Runs the per-thread steps on the calling thread, without Landlock (the caller
/// enforces its ruleset through the landlock crate, which reports the outcome).
pub(crate) fn drop_privileges_here(last: u32) -> Result<(), &'static str> {
    thread_steps(last, -1)
}

static RULESET: AtomicI32 = AtomicI32::new(-1);
static LAST_CAP: AtomicU32 = AtomicU32::new(0);
static DONE: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_sandbox_signal(_: libc::c_int) {
    let r = thread_steps(
        LAST_CAP.load(Ordering::SeqCst),
        RULESET.load(Ordering::SeqCst),
    );
    if r.is_err() {
        FAILED.fetch_add(1, Ordering::SeqCst);
    }
    DONE.fetch_add(1, Ordering::SeqCst);
}

/// Has every thread in `tids` (other than the caller) run the per-thread steps, with
/// the Landlock ruleset `ruleset`: a real-time signal to each, whose handler does the
/// work; waits for all of them (at most `timeout`). Threads that exited meanwhile are
/// skipped. Returns how many threads were sandboxed this way.
pub(crate) fn sandbox_other_threads(
    tids: &[i32],
    last: u32,
    ruleset: RawFd,
    timeout: Duration,
) -> Result<u32, String> {
    // SAFETY: gettid and getpid have no preconditions.
    let (me, pid) = unsafe { (libc::gettid(), libc::getpid()) };
    let others: Vec<i32> = tids.iter().copied().filter(|&t| t != me).collect();
    if others.is_empty() {
        return Ok(0);
    }
    RULESET.store(ruleset, Ordering::SeqCst);
    LAST_CAP.store(last, Ordering::SeqCst);
    DONE.store(0, Ordering::SeqCst);
    FAILED.store(0, Ordering::SeqCst);
    let sig = libc::SIGRTMIN() + 3;
    // SAFETY: a zeroed sigaction with our handler and an empty mask is valid.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sandbox_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
            return Err(format!(
                "cannot install the sandbox signal handler: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let mut sent = 0u32;
    for t in others {
        // SAFETY: tgkill with our own pid and one of our thread ids.
        if unsafe { libc::syscall(libc::SYS_tgkill, pid, t, sig) } == 0 {
            sent += 1;
        }
    }
    let deadline = Instant::now() + timeout;
    while DONE.load(Ordering::SeqCst) < sent {
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {sent} existing threads did not enter the sandbox in time",
                sent - DONE.load(Ordering::SeqCst)
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let failed = FAILED.load(Ordering::SeqCst);
    if failed > 0 {
        return Err(format!(
            "{failed} existing threads could not drop their privileges"
        ));
    }
    Ok(sent)
}

/// The calling process's real uid and gid.
pub(crate) fn ids() -> (u32, u32) {
    // SAFETY: getuid and getgid have no preconditions.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// The effective uid.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Moves the (single-threaded) calling process into a new user namespace.
pub(crate) fn unshare_user_namespace() -> std::io::Result<()> {
    // SAFETY: unshare with a flag constant.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
