//! Test program: the main thread emits `sig:main { seq }` in a loop while a 100 µs
//! interval timer's SIGALRM handler emits `sig:handler { seq }` — often in the middle
//! of a main-thread event. Usage: `sighandler N` (main events). Prints
//! `main=<N> handler=<count>`.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

libust::tracepoint! {
    /// An event of the main loop.
    pub main_ev = sig:main {
        seq: u64,
        text: &str,
    }
}

libust::tracepoint! {
    /// An event of the signal handler.
    pub handler_ev = sig:handler {
        seq: u64,
    }
}

static HANDLER_SEQ: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    let seq = HANDLER_SEQ.fetch_add(1, Ordering::Relaxed);
    libust::trace!(handler_ev, seq);
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    // SAFETY: installs an async-signal-safe handler (an atomic add and a lock-free
    // tracepoint) and arms a 100 µs interval timer; both calls take valid structs.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_alarm as *const () as usize;
        act.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(libc::SIGALRM, &act, std::ptr::null_mut());
        let it = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 100,
            },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: 100,
            },
        };
        libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut());
    }
    for seq in 0..n {
        libust::trace!(main_ev, seq, "main-thread-text");
    }
    // SAFETY: disarms the timer (zeroed itimerval).
    unsafe {
        let it: libc::itimerval = std::mem::zeroed();
        libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut());
    }
    println!("main={n} handler={}", HANDLER_SEQ.load(Ordering::Relaxed));
}
