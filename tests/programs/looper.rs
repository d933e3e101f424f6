//! Test program: emits `looper:tick { seq }` forever (about one per microsecond),
//! printing `ready` once the first 1000 are out, until it is killed.

libust::tracepoint! {
    /// One tick.
    pub tick = looper:tick {
        seq: u64,
    }
}

fn main() {
    let mut seq = 0u64;
    loop {
        libust::trace!(tick, seq);
        seq += 1;
        if seq == 1000 {
            println!("ready");
        }
        if seq.is_multiple_of(64) {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}
