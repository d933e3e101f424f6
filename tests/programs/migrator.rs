//! Test program: T threads each emit N events `migrate:ev { thread, seq }`, and every
//! 64 events move themselves to another CPU (sched_setaffinity), so that events of one
//! thread land in every CPU's buffer and threads often write into a buffer that another
//! CPU's thread is writing too. Usage: `migrator T N`. Prints `cpus=<n>`.
#![allow(unsafe_code)]

libust::tracepoint! {
    /// One event of one thread.
    pub ev = migrate:ev {
        thread: u32,
        seq: u64,
    }
}

fn move_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it;
    // sched_setaffinity reads it for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for seq in 0..n {
                    if seq % 64 == 0 {
                        move_to((t as usize + (seq / 64) as usize) % cpus);
                    }
                    libust::trace!(ev, t, seq);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("migrator thread panicked");
    }
    println!("cpus={cpus}");
}
