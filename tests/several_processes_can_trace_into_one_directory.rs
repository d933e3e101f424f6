//! Processes tracing into one `LIBUST_TRACE_DIR` never clobber each other's files:
//! the first takes LTTng's per-user directory, the others per-process directories,
//! and one `babeltrace2 DIR` reads them all. A forked child's events reach its
//! parent's trace with the child's own vpid.

mod support;

use std::collections::HashMap;

use ctf::reader::Value;
use support::*;

#[test]
fn concurrent_processes_write_separate_traces() {
    let dir = TempDir::new("multi");
    let children: Vec<_> = (0..3)
        .map(|_| {
            traced(env!("CARGO_BIN_EXE_stress"), dir.path())
                .args(["2", "20000"])
                .stdout(std::process::Stdio::null())
                .env("LIBUST_SUBBUF_SIZE", "1M")
                .env("LIBUST_NUM_SUBBUF", "16")
                .spawn()
                .expect("spawn stress")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.events.len(), 3 * 2 * 20_000);
    let pid_dirs = std::fs::read_dir(dir.path().join("ust/pid"))
        .unwrap()
        .count();
    assert_eq!(
        pid_dirs, 2,
        "two processes fell back to per-process directories"
    );
    if let Some(bt) = babeltrace2(&[dir.path().as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        assert_eq!(
            bt.stdout.iter().filter(|&&b| b == b'\n').count(),
            3 * 2 * 20_000
        );
    }
}

#[test]
fn a_forked_child_traces_into_its_parents_buffers() {
    let dir = TempDir::new("fork");
    let out = run_ok(
        traced(env!("CARGO_BIN_EXE_forker"), dir.path())
            .env("LIBUST_CONTEXTS", "vpid")
            .arg("1000"),
    );
    let child: i64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("child=")
        .and_then(|v| v.parse().ok())
        .expect("child pid");
    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let mut by_who: HashMap<u64, (usize, i64)> = HashMap::new();
    for e in &read.events {
        let who = field(&e.fields, "who").and_then(Value::as_u64).unwrap();
        let vpid = field(&e.stream_context, "vpid")
            .and_then(Value::as_i64)
            .unwrap();
        let entry = by_who.entry(who).or_insert((0, vpid));
        entry.0 += 1;
        assert_eq!(entry.1, vpid, "one vpid per phase");
    }
    assert_eq!(by_who[&0].0, 1000);
    assert_eq!(by_who[&1].0, 1000, "the child's events are in the trace");
    assert_eq!(by_who[&2].0, 1000);
    assert_eq!(by_who[&1].1, child, "the child's events carry its pid");
    assert_eq!(by_who[&0].1, by_who[&2].1);
}
