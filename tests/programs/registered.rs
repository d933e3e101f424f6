//! Test program for daemon mode: fires `regtest:first { seq }` 100 times as soon as
//! `main` starts, then `regtest:other { v }` 10 times, prints `done` and exits.

libust::tracepoint! {
    /// Fired first thing in `main`.
    pub first = regtest:first {
        seq: u64,
    }
}

libust::tracepoint! {
    /// Fired after the first ones.
    pub other = regtest:other {
        v: u32,
    }
}

fn main() {
    for seq in 0..100u64 {
        libust::trace!(first, seq);
    }
    for v in 0..10u32 {
        libust::trace!(other, v);
    }
    println!("done");
}
