//! 2,048 distinct `tracing` callsites (`tests/programs/tracing_many.rs`), each fired
//! once, become 2,048 event classes, each event with its own value: standalone and
//! through the session daemon (each class registered late, when its callsite fires).

mod support;

use std::path::Path;

use ctf::reader::Value;
use support::user::User;
use support::{field, read_trace, run_ok, traced, TempDir};

const N: u64 = 2048;

fn program() -> &'static str {
    env!("CARGO_BIN_EXE_tracing_many")
}

/// Every callsite once, in order, each named after its number.
fn assert_all(trace: &Path) {
    let read = read_trace(trace);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let got: Vec<(String, u64)> = read
        .events
        .iter()
        .map(|e| {
            let n = field(&e.fields, "n").and_then(Value::as_u64).expect("n");
            (e.name.to_string(), n)
        })
        .collect();
    let want: Vec<(String, u64)> = (0..N)
        .map(|n| {
            let name = format!(
                "tracing_many:many_cs_{}_{}_{}_{}",
                n / 512,
                n / 64 % 8,
                n / 8 % 8,
                n % 8
            );
            (name, n)
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    if let Some(bt) = support::babeltrace2(&[
        "-c".as_ref(),
        "sink.utils.counter".as_ref(),
        trace.as_os_str(),
    ]) {
        let out = String::from_utf8_lossy(&bt.stdout);
        assert!(
            bt.status.success(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        assert!(out.contains(&format!("{N} Event messages")), "{out}");
    }
}

#[test]
fn thousands_of_callsites_are_traced_standalone() {
    let tmp = TempDir::new("tracing-many");
    let trace = tmp.path().join("trace");
    let out = run_ok(&mut traced(program(), &trace));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_all(&trace);
}

#[test]
fn thousands_of_callsites_are_traced_through_the_session_daemon() {
    let u = User::new("tracing-many-d");
    u.lttng_ok(&["create", "many"]);
    u.lttng_ok(&["enable-event", "-u", "tracing_many:*"]);
    u.lttng_ok(&["start"]);
    run_ok(&mut u.cmd(program()));
    u.lttng_ok(&["stop"]);
    assert_all(&u.session_output("many"));
    u.lttng_ok(&["destroy"]);
}
