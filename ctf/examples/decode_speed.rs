//! Decodes every event under a path and prints the decode rate: into values (no formatting),
//! or with `--text` straight into babeltrace2 text (`TraceSet::text_items`, as `lttng view`):
//! `cargo run --release -p ctf --example decode_speed -- [--text] TRACE_DIR`.

use std::time::Instant;

use ctf::reader::{Item, TextItem, TraceSet};

fn main() {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let text = args.first().is_some_and(|a| a == "--text");
    if text {
        args.remove(0);
    }
    let Some(path) = args.pop() else {
        eprintln!("usage: decode_speed [--text] TRACE_DIR");
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
    if text {
        let (mut items, mut bytes) = (set.text_items(), 0usize);
        while let Some(item) = items.next_item() {
            match item {
                TextItem::Event(e) => {
                    events += 1;
                    bytes += e.body.len();
                }
                _ => other += 1,
            }
        }
        println!("{bytes} bytes of event text");
    } else {
        for item in set.items() {
            match item {
                Item::Event(_) => events += 1,
                _ => other += 1,
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{events} events, {other} other items in {secs:.3} s: {:.2} M events/s",
        events as f64 / secs / 1e6
    );
}
