//! The LTTng-UST anchor workload, for libust (`../shared/anchors/lttng-ust-bench/bench.c`).
//!
//! ```text
//! cargo bench -p libust --bench ust_bench -- N T [ev|min|clock|loop]
//! ```
//!
//! Each of T threads runs N iterations of a tight loop, the threads released together
//! by a barrier; each times its own loop with CLOCK_MONOTONIC. Whether the tracepoint
//! is enabled is decided outside (with or without `LIBUST_TRACE_DIR`). Output lines
//! match bench.c's so that `compare-lttng.sh` parses both:
//!
//! ```text
//! THREAD mode=ev tid=0 n=... ns=... ns_per_ev=...
//! AGG mode=ev threads=T n_per_thread=N total=... wall_ns=... events_per_s=... ns_per_ev_thread_median=...
//! ```

use std::hint::black_box;
use std::sync::{Arc, Barrier};

libust::tracepoint! {
    /// bench:ev — u64, u32 and a 16-character string.
    pub ev = bench:ev {
        a: u64,
        b: u32,
        s: &str,
    }
}

libust::tracepoint! {
    /// bench:ev_min — one u64.
    pub ev_min = bench:ev_min {
        a: u64,
    }
}

const PAYLOAD: &str = "payload-16chars!";

fn worker(mode: &str, tid: u32, n: u64) -> u64 {
    let mut sink = 0u64;
    match mode {
        "ev" => {
            for i in 0..n {
                libust::trace!(ev, i, (i as u32) ^ tid, PAYLOAD);
            }
        }
        "min" => {
            for i in 0..n {
                libust::trace!(ev_min, i);
            }
        }
        "clock" => {
            for _ in 0..n {
                sink = sink.wrapping_add(libust::clock::now());
            }
        }
        "loop" => {
            for i in 0..n {
                black_box(i);
            }
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
    sink
}

fn main() {
    // `cargo bench` passes `--bench`; ignore flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let t: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let mode = args.get(2).cloned().unwrap_or_else(|| "ev".into());
    if mode == "clock" {
        libust::clock::init();
    }
    let barrier = Arc::new(Barrier::new(t));
    let handles: Vec<_> = (0..t)
        .map(|tid| {
            let barrier = barrier.clone();
            let mode = mode.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let t0 = libust::clock::monotonic_ns();
                let sink = worker(&mode, tid as u32, n);
                let t1 = libust::clock::monotonic_ns();
                (t0, t1, sink)
            })
        })
        .collect();
    let mut per = Vec::new();
    let (mut tmin, mut tmax, mut sink) = (u64::MAX, 0u64, 0u64);
    for (tid, h) in handles.into_iter().enumerate() {
        let (t0, t1, s) = h.join().expect("worker thread panicked");
        tmin = tmin.min(t0);
        tmax = tmax.max(t1);
        sink ^= s;
        let ns = t1 - t0;
        let pe = ns as f64 / n as f64;
        per.push(pe);
        println!("THREAD mode={mode} tid={tid} n={n} ns={ns} ns_per_ev={pe:.3}");
    }
    per.sort_by(f64::total_cmp);
    let med = if t % 2 == 1 {
        per[t / 2]
    } else {
        (per[t / 2 - 1] + per[t / 2]) / 2.0
    };
    let total = n * t as u64;
    let wall = tmax - tmin;
    println!(
        "AGG mode={mode} threads={t} n_per_thread={n} total={total} wall_ns={wall} events_per_s={:.0} ns_per_ev_thread_median={med:.3} sink={}",
        total as f64 * 1e9 / wall as f64,
        sink & 1
    );
}
