//! A running program that uses `tracing` follows `lttng disable-event` and
//! `enable-event`: tracing caches each callsite's interest, and the layer has it
//! rebuilt at every change, so events stop when disabled and come back when enabled.

mod support;

use std::path::Path;

use ctf::reader::Value;
use support::user::User;
use support::{field, read_trace};

#[test]
fn a_running_tracing_program_follows_disable_and_enable() {
    let u = User::new("tracing-toggle");
    u.lttng_ok(&["create", "tog"]);
    u.lttng_ok(&["enable-event", "-u", "tracing_demo:tick"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app_from(Path::new(env!("CARGO_BIN_EXE_tracing_demo")), |c| {
        c.arg("serve");
    });
    let a = app.emit(300);
    u.lttng_ok(&["disable-event", "-u", "tracing_demo:tick"]);
    let b = app.emit(300);
    u.lttng_ok(&["enable-event", "-u", "tracing_demo:tick"]);
    let c = app.emit(300);
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);

    let read = read_trace(&u.session_output("tog"));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let seqs: Vec<u64> = read
        .events
        .iter()
        .filter(|e| &*e.name == "tracing_demo:tick")
        .map(|e| {
            field(&e.fields, "seq")
                .and_then(Value::as_u64)
                .expect("seq")
        })
        .collect();
    let want: Vec<u64> = (0..=a).chain(b + 1..=c).collect();
    assert_eq!(seqs, want, "a = {a}, b = {b}, c = {c}");
    u.lttng_ok(&["destroy"]);
}
