//! Scheduling hints for the threads that drain ring buffers (the standalone consumer
//! in libust, consumer-ust).
//!
//! # Safety
//!
//! The `unsafe` blocks call `getpriority` and `sched_setattr` for the calling thread
//! with a fully initialised `struct sched_attr` of the size it declares.
#![allow(unsafe_code)]

/// `struct sched_attr` of sched_setattr(2).
#[repr(C)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

/// Asks for a short scheduler time slice (`ns`) for the calling thread, keeping its
/// policy (SCHED_OTHER) and nice value. Since Linux 6.12 EEVDF honours a custom slice
/// for normal threads, unprivileged: a thread with a short slice gets an early deadline,
/// so when it wakes it runs soon instead of waiting for a busy thread's slice to end.
/// On older kernels the call fails or is ignored, which only costs the latency it
/// would have saved. Returns whether the kernel accepted it.
pub fn request_short_slice(ns: u64) -> bool {
    // SAFETY: getpriority has no memory preconditions (errno-based errors are fine: a
    // wrong nice value only makes sched_setattr fail with EPERM).
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_flags: 0,
        sched_nice: nice,
        sched_priority: 0,
        sched_runtime: ns,
        sched_deadline: 0,
        sched_period: 0,
        sched_util_min: 0,
        sched_util_max: 0,
    };
    // SAFETY: passes a valid, fully initialised sched_attr of the size it declares, for
    // the calling thread (pid 0).
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 }
}
