//! The few system calls standalone mode needs that std does not offer.
//!
//! # Safety
//!
//! Each `unsafe` block calls one libc function with arguments that are valid for it
//! (live buffers of the stated size, fds we own, handlers that are `extern "C"` and
//! async-signal-safe). The signal handler only stores to an atomic and writes to an
//! eventfd, both async-signal-safe.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The real uid.
pub(crate) fn getuid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the returned fd, if valid, is owned by nobody else.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Number of CPUs the kernel may ever schedule on (one buffer each).
pub(crate) fn possible_cpus() -> usize {
    if let Ok(s) = std::fs::read_to_string("/sys/devices/system/cpu/possible") {
        // Format: "0-3" or "0" or "0-1,4-5": take the highest id.
        let max = s
            .trim()
            .split([',', '-'])
            .filter_map(|x| x.parse::<usize>().ok())
            .max();
        if let Some(m) = max {
            return m + 1;
        }
    }
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

/// The host name.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

static EXIT_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

extern "C" fn run_exit_hook() {
    if let Some(f) = EXIT_HOOK.get() {
        f();
    }
}

/// Runs `f` when the process exits normally.
pub(crate) fn at_exit(f: fn()) {
    if EXIT_HOOK.set(f).is_ok() {
        // SAFETY: registers a valid extern "C" function with no arguments.
        unsafe {
            libc::atexit(run_exit_hook);
        }
    }
}

static FORK_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

extern "C" fn run_fork_hook() {
    if let Some(f) = FORK_HOOK.get() {
        f();
    }
}

/// Runs `f` in the child after every `fork`.
pub(crate) fn at_fork_child(f: fn()) {
    if FORK_HOOK.set(f).is_ok() {
        // SAFETY: registers a valid extern "C" function for the child side only.
        unsafe {
            libc::pthread_atfork(None, None, Some(run_fork_hook));
        }
    }
}

static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);
static SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    PENDING_SIGNAL.store(sig, Ordering::SeqCst);
    let fd = SIGNAL_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: write(2) is async-signal-safe; 8 bytes from a live local.
        unsafe {
            libc::write(fd, (&one as *const u64).cast(), 8);
        }
    }
}

/// Installs SIGTERM and SIGINT handlers that wake the consumer thread (through the
/// eventfd registered with [`set_signal_fd`]), unless the program already handles or
/// ignores those signals.
pub(crate) fn install_stop_handlers() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sigaction with a zeroed struct is a valid query / installation; the
        // handler is an extern "C" fn that is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_stop_signal as *const () as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// Makes the stop-signal handler write to `fd`.
pub(crate) fn set_signal_fd(fd: BorrowedFd<'static>) {
    SIGNAL_FD.store(fd.as_raw_fd(), Ordering::SeqCst);
}

/// Waits until `fd` (an eventfd) is readable or `timeout_ms` passes, then clears it.
/// Returns the stop signal received meanwhile, if any.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout_ms: i32) -> Option<i32> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if n > 0 {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live local from an fd we own.
        unsafe {
            libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8);
        }
    }
    match PENDING_SIGNAL.swap(0, Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Adds 1 to an eventfd (wakes whoever polls it).
pub(crate) fn wake(fd: BorrowedFd<'_>) {
    proto::ring::shm::wake_eventfd(fd);
}

/// Restores the default action of `sig` and delivers it to the process again.
pub(crate) fn reraise(sig: i32) {
    // SAFETY: resetting to SIG_DFL and raising a signal have no memory preconditions.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::kill(libc::getpid(), sig);
    }
}

/// Closes a descriptor inherited across `fork` that no object of this process owns any
/// more (its owner was a thread that does not exist in the child). Async-signal-safe.
pub(crate) fn close_inherited(fd: i32) {
    // SAFETY: close(2) is async-signal-safe; the caller guarantees that nothing in
    // this process will use or close `fd` again (its owning thread is gone).
    unsafe {
        libc::close(fd);
    }
}

/// True when the kernel marked this exec as secure (`AT_SECURE`: setuid, setgid or
/// file capabilities), or when real and effective ids differ.
pub(crate) fn is_privileged_exec() -> bool {
    // SAFETY: getauxval, getuid, geteuid, getgid and getegid have no preconditions.
    unsafe {
        libc::getauxval(libc::AT_SECURE) != 0
            || libc::getuid() != libc::geteuid()
            || libc::getgid() != libc::getegid()
    }
}
