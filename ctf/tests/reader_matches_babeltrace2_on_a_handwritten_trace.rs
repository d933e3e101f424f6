//! The §1.8 example trace (`shared/reference/ctf-ftrace.md`), built byte by byte, decodes to
//! the values that were written, and to exactly what babeltrace2 prints for it.

mod common;

use std::path::Path;

use common::{
    babeltrace2, example_stream, packetize, write_trace, Counters, CLEAN, LOSSY, METADATA, SEQGAP,
};
use ctf::reader::{pretty, DiscardedKind, Item, TraceSet, Value};

/// Our reading of a trace: one `[cycles] body` line per event, one line per discard report.
fn read(dir: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut set = TraceSet::open(dir).unwrap();
    let host = set.traces()[0].metadata.hostname().map(str::to_owned);
    let (mut cycles, mut seconds, mut reports) = (Vec::new(), Vec::new(), Vec::new());
    for item in set.items() {
        match item {
            Item::Event(e) => {
                let mut body = Vec::new();
                pretty::write_event_body(&mut body, host.as_deref(), &e);
                let body = String::from_utf8(body).unwrap();
                cycles.push(format!("[{:020}] {body}", e.clock_value));
                let ns = e.timestamp_ns;
                seconds.push(format!(
                    "[{}.{:09}] {body}",
                    ns / 1_000_000_000,
                    ns % 1_000_000_000
                ));
            }
            Item::Discarded(d) => reports.push(match d.kind {
                DiscardedKind::Events(n) => format!("{n} events"),
                DiscardedKind::Packets(n) => format!("{n} packets"),
                DiscardedKind::MaybeEvents => "maybe events".into(),
            }),
            Item::Error(e) => panic!("unexpected error: {e}"),
        }
    }
    (cycles, seconds, reports)
}

/// babeltrace2's lines with the `(+delta) ` column removed.
fn without_delta(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| match (l.find("] ("), l.find(") ")) {
            (Some(a), Some(b)) if b > a => format!("{}{}", &l[..a + 2], &l[b + 2..]),
            _ => l.to_string(),
        })
        .collect()
}

fn bt2_reports(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("WARNING: Tracer ")?;
            if rest.starts_with("may have discarded events") {
                return Some("maybe events".to_string());
            }
            let rest = rest.strip_prefix("discarded ")?;
            let mut words = rest.split(' ');
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect()
}

fn check_against_babeltrace2(dir: &Path) {
    let (cycles, seconds, reports) = read(dir);
    let path = dir.to_str().unwrap();
    let Some((out, err, ok)) = babeltrace2(&["--clock-cycles", path]) else {
        return;
    };
    assert!(ok, "babeltrace2 failed: {err}");
    let expected = without_delta(&out);
    assert_eq!(cycles.len(), expected.len(), "event count\n{out}");
    for (ours, theirs) in cycles.iter().zip(&expected) {
        assert_eq!(ours, theirs);
    }
    assert_eq!(
        reports,
        bt2_reports(&err),
        "discard reports; babeltrace2 said:\n{err}"
    );
    let (out, err, ok) = babeltrace2(&["--clock-seconds", path]).unwrap();
    assert!(ok, "babeltrace2 failed: {err}");
    for (ours, theirs) in seconds.iter().zip(&without_delta(&out)) {
        assert_eq!(ours, theirs);
    }
}

fn example(name: &str, metadata: &[u8], counters: Counters) -> std::path::PathBuf {
    let dir = common::temp_dir(name);
    write_trace(&dir, metadata, &[("channel0_0", &example_stream(counters))]);
    dir
}

#[test]
fn the_example_decodes_to_the_values_written() {
    let dir = example("values", METADATA.as_bytes(), CLEAN);
    let mut set = TraceSet::open(&dir).unwrap();
    let md = &set.traces()[0].metadata;
    assert_eq!(md.env["domain"].as_str(), Some("ust"));
    assert_eq!(md.env["tracer_major"], ctf::reader::EnvValue::Int(2));
    assert_eq!(md.clocks[0].name, "monotonic");
    assert_eq!(md.events.len(), 3);
    let events: Vec<_> = set
        .items()
        .map(|i| match i {
            Item::Event(e) => e,
            other => panic!("{other:?}"),
        })
        .collect();
    let got: Vec<(&str, u64)> = events.iter().map(|e| (&*e.name, e.clock_value)).collect();
    assert_eq!(
        got,
        [
            ("demo:hello", 428_774_069_954),
            ("demo:buffer", 428_774_070_954),
            ("demo:hello", 428_825_640_965), // compact header across a 27-bit wrap
            ("demo:hello", 429_025_640_965),
            ("demo:rare", 429_025_640_975),
            ("demo:buffer", 429_025_640_990),
            ("demo:hello", 429_025_641_035),
        ]
    );
    // offset_s = 1795690911, offset = 662102504 ns.
    assert_eq!(
        events[0].timestamp_ns,
        1_795_690_911_662_102_504 + 428_774_069_954
    );
    // The packet is byte-identical to the reference: same content_size (3168 bits).
    let content = events[0].packet_context.get("content_size");
    assert_eq!(content.and_then(Value::as_u64), Some(3168));
    let e = &events[1];
    assert_eq!(e.cpu_id, Some(0));
    assert_eq!(
        e.stream_context.get("procname").and_then(Value::as_str),
        Some("demo-app")
    );
    assert_eq!(
        e.stream_context.get("vpid").and_then(Value::as_i64),
        Some(4242)
    );
    let Some(Value::Array(data)) = e.fields.get("data") else {
        panic!("data: {:?}", e.fields)
    };
    assert_eq!(
        data.iter().filter_map(Value::as_u64).collect::<Vec<_>>(),
        [1, 2, 0xff]
    );
    let Some(Value::Enum { labels, .. }) = e.fields.get("state") else {
        panic!()
    };
    assert_eq!(&*labels[0], "RUNNING");
    assert_eq!(
        events[2].fields.get("value").and_then(Value::as_i64),
        Some(123_456_789)
    );
    assert_eq!(events[3].fields.get("ratio"), Some(&Value::Float(-1.0)));
    assert_eq!(
        events[4].fields.get("count").and_then(Value::as_u64),
        Some(99)
    );
}

#[test]
fn text_metadata_matches_babeltrace2() {
    check_against_babeltrace2(&example("text", METADATA.as_bytes(), CLEAN));
}

#[test]
fn packetized_metadata_matches_babeltrace2() {
    let dir = example("packetized", &packetize(METADATA), CLEAN);
    let (ours, _, _) = read(&dir);
    let (text, _, _) = read(&example("packetized-ref", METADATA.as_bytes(), CLEAN));
    assert_eq!(ours, text);
    check_against_babeltrace2(&dir);
}

#[test]
fn discarded_events_are_reported_like_babeltrace2() {
    let dir = example("lossy", METADATA.as_bytes(), LOSSY);
    assert_eq!(read(&dir).2, ["5 events"]);
    check_against_babeltrace2(&dir);
}

#[test]
fn packet_sequence_gaps_are_reported_like_babeltrace2() {
    let dir = example("seqgap", METADATA.as_bytes(), SEQGAP);
    assert_eq!(read(&dir).2, ["5 events", "2 packets"]);
    check_against_babeltrace2(&dir);
}

#[test]
fn a_first_packet_with_losses_may_have_discarded_events() {
    let counters = Counters {
        discarded: [3, 3],
        seq: [0, 1],
    };
    let dir = example("firstnonzero", METADATA.as_bytes(), counters);
    assert_eq!(read(&dir).2, ["maybe events"]);
    check_against_babeltrace2(&dir);
}

#[test]
fn a_discard_counter_that_goes_backwards_is_reported_like_babeltrace2() {
    // Seen in LTTng-UST 2.13 traces (per-user buffers, 2 threads): babeltrace2 reports
    // the difference modulo 2^64.
    let backwards = Counters {
        discarded: [7, 5],
        seq: [0, 1],
    };
    let dir = example("backwards", METADATA.as_bytes(), backwards);
    let reports = read(&dir).2;
    assert_eq!(
        reports,
        ["maybe events", &format!("{} events", 5u64.wrapping_sub(7))]
    );
    check_against_babeltrace2(&dir);
}
