//! Test program: T threads each emit N events `stress:ev { thread, seq, pad }`.
//!
//! Usage: `stress T N`. Prints `emitted=<T*N>`.

libust::tracepoint! {
    /// One event of one thread.
    pub ev = stress:ev {
        thread: u32,
        seq: u64,
        pad: &str,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for seq in 0..n {
                    libust::trace!(ev, t, seq, "0123456789abcdef");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("stress thread panicked");
    }
    println!("emitted={}", u64::from(threads) * n);
}
