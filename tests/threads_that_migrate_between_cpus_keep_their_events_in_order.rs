//! Threads that keep moving between CPUs while tracing: every event is recorded once,
//! each thread's events come out in order, each CPU's stream has non-decreasing
//! timestamps (babeltrace2 treats a decrease as fatal), and events of one thread spread
//! over several CPUs' streams.

mod support;

use std::collections::{HashMap, HashSet};

use ctf::reader::Value;
use support::*;

#[test]
fn threads_that_migrate_between_cpus_keep_their_events_in_order() {
    let dir = TempDir::new("migrate");
    let n = 50_000u64;
    let out = run_ok(
        traced(env!("CARGO_BIN_EXE_migrator"), dir.path())
            .env("LIBUST_SUBBUF_SIZE", "1M")
            .env("LIBUST_NUM_SUBBUF", "32")
            .args(["4", &n.to_string()]),
    );
    let cpus: usize = String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("cpus=")
        .and_then(|v| v.parse().ok())
        .expect("cpu count");
    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    assert_eq!(read.events.len() as u64, 4 * n);

    let mut next: HashMap<u64, u64> = HashMap::new();
    let mut streams_of: HashMap<u64, HashSet<u32>> = HashMap::new();
    let mut last_ts: HashMap<u32, i128> = HashMap::new();
    for e in &read.events {
        let t = field(&e.fields, "thread").and_then(Value::as_u64).unwrap();
        let seq = field(&e.fields, "seq").and_then(Value::as_u64).unwrap();
        let expected = next.entry(t).or_insert(0);
        assert_eq!(seq, *expected, "thread {t}: events out of order");
        *expected += 1;
        let cpu = e.cpu_id.expect("cpu_id");
        streams_of.entry(t).or_default().insert(cpu);
        let last = last_ts.entry(cpu).or_insert(i128::MIN);
        assert!(
            e.timestamp_ns >= *last,
            "stream of cpu {cpu} went back in time"
        );
        *last = e.timestamp_ns;
    }
    if cpus > 1 {
        assert!(
            streams_of.values().all(|s| s.len() > 1),
            "threads did migrate: {streams_of:?}"
        );
    }
    if let Some(bt) = babeltrace2(&[dir.path().as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
    }
}
