//! Test program: emits `forker:ev { who = 0, seq }` N times, forks a child that emits
//! `who = 1` N times and exits with `_exit` (no exit handlers, like a child that
//! execs or crashes), waits for it, then emits `who = 2` N times.
#![allow(unsafe_code)]

libust::tracepoint! {
    /// One event; `who` says which process phase emitted it.
    pub ev = forker:ev {
        who: u32,
        seq: u64,
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    for seq in 0..n {
        libust::trace!(ev, 0, seq);
    }
    // SAFETY: the child only calls async-signal-safe code paths of libust (a lock-free
    // tracepoint) and then _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        for seq in 0..n {
            libust::trace!(ev, 1, seq);
        }
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child with a valid status pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    for seq in 0..n {
        libust::trace!(ev, 2, seq);
    }
    println!("child={pid}");
}
