//! Decodes every event under a path and prints the decode rate (no formatting):
//! `cargo run --release -p ctf --example decode_speed -- TRACE_DIR`.

use std::time::Instant;

use ctf::reader::{Item, TraceSet};

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: decode_speed TRACE_DIR");
        std::process::exit(2);
    };
    let start = Instant::now();
    let mut set = match TraceSet::open(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR: {e}");
            std::process::exit(2);
        }
    };
    let (mut events, mut other) = (0u64, 0u64);
    for item in set.items() {
        match item {
            Item::Event(_) => events += 1,
            _ => other += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{events} events, {other} other items in {secs:.3} s: {:.2} M events/s",
        events as f64 / secs / 1e6
    );
}
