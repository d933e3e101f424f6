//! Four threads hammer one channel. Whatever the buffer size, the trace holds no
//! duplicate, no torn event, no reordering within a thread, and
//! `recorded + discarded == emitted` exactly, the discarded count read from the trace
//! itself (the packets' `events_discarded`), as babeltrace2 reports it.

mod support;

use std::collections::HashMap;

use ctf::reader::Value;
use support::*;

const THREADS: u64 = 4;

/// Runs the stress program and checks the trace; returns (recorded, discarded).
/// `wait_us` is how long a writer may wait for room (`LIBUST_BLOCKING_TIMEOUT_US`).
fn stress(per_thread: u64, subbuf: &str, nsub: &str, wait_us: &str) -> (u64, u64) {
    let dir = TempDir::new("stress");
    run_ok(
        traced(env!("CARGO_BIN_EXE_stress"), dir.path())
            .env("LIBUST_SUBBUF_SIZE", subbuf)
            .env("LIBUST_NUM_SUBBUF", nsub)
            .env("LIBUST_BLOCKING_TIMEOUT_US", wait_us)
            .args([THREADS.to_string(), per_thread.to_string()]),
    );
    let read = read_trace(dir.path());
    assert!(
        read.errors.is_empty(),
        "torn or unreadable data: {:?}",
        read.errors
    );

    let mut next: HashMap<u64, u64> = HashMap::new();
    for e in &read.events {
        assert_eq!(&*e.name, "stress:ev");
        let t = field(&e.fields, "thread")
            .and_then(Value::as_u64)
            .expect("thread");
        let seq = field(&e.fields, "seq")
            .and_then(Value::as_u64)
            .expect("seq");
        assert_eq!(
            field(&e.fields, "pad").and_then(Value::as_str),
            Some("0123456789abcdef")
        );
        assert!(t < THREADS, "thread {t}");
        assert!(seq < per_thread);
        let expected = next.entry(t).or_insert(0);
        assert!(
            seq >= *expected,
            "thread {t}: seq {seq} after {} (duplicate or reordered)",
            *expected
        );
        *expected = seq + 1;
    }
    let discarded = read.discarded_events();
    let recorded = read.events.len() as u64;
    assert_eq!(
        recorded + discarded,
        THREADS * per_thread,
        "recorded {recorded} + discarded {discarded}"
    );

    if let Some(bt) = babeltrace2(&[dir.path().as_os_str()]) {
        assert!(
            bt.status.success(),
            "babeltrace2 failed: {}",
            String::from_utf8_lossy(&bt.stderr)
        );
        let lines = bt.stdout.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(lines, recorded, "babeltrace2 event count");
        let stderr = String::from_utf8_lossy(&bt.stderr);
        let bt_discarded: u64 = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("WARNING: Tracer discarded "))
            .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(
            bt_discarded, discarded,
            "babeltrace2's discarded count\n{stderr}"
        );
    }
    (recorded, discarded)
}

#[test]
fn tiny_buffers_drop_events_and_count_every_one() {
    // 4 × 4 KiB per CPU, and writers that never wait for room (LTTng's discard mode):
    // the burst does not fit, events are dropped, and counted.
    let (recorded, discarded) = stress(100_000, "4k", "4", "0");
    assert!(recorded > 0);
    assert!(
        discarded > 0,
        "expected drops with 16 KiB of buffer per CPU"
    );
}

#[test]
fn large_buffers_keep_every_event() {
    // 64 × 1 MiB per CPU holds the whole run: nothing may be lost.
    let (recorded, discarded) = stress(50_000, "1M", "64", "0");
    assert_eq!((recorded, discarded), (THREADS * 50_000, 0));
}

#[test]
fn writers_that_wait_briefly_for_room_lose_nothing_even_with_tiny_buffers() {
    // The same 16 KiB per CPU, with writers that wait for room (100 ms at most, as the
    // test binaries run side by side on two CPUs; the default is 5 ms): waiting writers
    // get freed sub-buffers before newcomers, and the consumer frees one long before
    // the bound, so no event is dropped.
    let (recorded, discarded) = stress(100_000, "4k", "4", "100000");
    assert_eq!((recorded, discarded), (THREADS * 100_000, 0));
}
