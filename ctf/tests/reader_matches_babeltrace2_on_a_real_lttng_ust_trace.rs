//! A trace written by the real LTTng-UST 2.13 (packetized metadata, large event headers,
//! per-CPU streams, an `index/` directory) decodes exactly as babeltrace2 2.0.4 prints it.

mod common;

use std::path::Path;

use ctf::reader::{pretty, Item, TraceSet};

const TRACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lttng-ust-2.13");
const EXPECTED: &str = include_str!("data/lttng-ust-2.13-babeltrace2-clock-cycles.txt");

/// Our `--clock-cycles` lines, with the delta column babeltrace2 prints.
fn ours() -> Vec<String> {
    let mut set = TraceSet::open(Path::new(TRACE)).unwrap();
    let host = set.traces()[0].metadata.hostname().map(str::to_owned);
    let mut last = None;
    let mut lines = Vec::new();
    for item in set.items() {
        let Item::Event(e) = item else {
            panic!("unexpected {item:?}")
        };
        let delta = match last {
            None => "+????????????".to_string(),
            Some(p) => format!("+{:012}", e.clock_value - p),
        };
        last = Some(e.clock_value);
        let mut body = Vec::new();
        pretty::write_event_body(&mut body, host.as_deref(), &e);
        lines.push(format!(
            "[{:020}] ({delta}) {}",
            e.clock_value,
            String::from_utf8(body).unwrap()
        ));
    }
    lines
}

#[test]
fn the_metadata_says_it_is_an_lttng_ust_trace() {
    let set = TraceSet::open(Path::new(TRACE)).unwrap();
    let md = &set.traces()[0].metadata;
    assert_eq!(md.env["domain"].as_str(), Some("ust"));
    assert_eq!(md.env["tracer_name"].as_str(), Some("lttng-ust"));
    assert_eq!(md.clocks[0].name, "monotonic");
    assert!(md.events.iter().any(|e| e.name == "lttng_ust_libc:malloc"));
    // index/ is not a stream.
    assert_eq!(set.traces()[0].stream_files.len(), 2);
}

#[test]
fn every_event_matches_the_recorded_babeltrace2_output() {
    let ours = ours();
    let expected: Vec<&str> = EXPECTED.lines().collect();
    assert_eq!(ours.len(), expected.len());
    for (a, b) in ours.iter().zip(&expected) {
        assert_eq!(a, b);
    }
}

#[test]
fn every_event_matches_babeltrace2_run_now() {
    let Some((out, err, ok)) = common::babeltrace2(&["--clock-cycles", TRACE]) else {
        return;
    };
    assert!(ok, "{err}");
    assert_eq!(ours(), out.lines().collect::<Vec<_>>());
}
