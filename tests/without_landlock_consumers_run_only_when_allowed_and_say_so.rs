//! On a kernel without Landlock (simulated: `without_landlock` makes its system calls
//! fail with ENOSYS for the session daemon and the consumers it starts), a session's
//! consumer refuses to run unsandboxed, and `lttng start` says why and what to do;
//! with `lttng-sessiond --allow-unsandboxed` (the degraded mode) the session records
//! as usual, `lttng status` says the consumer is not sandboxed, and the daemon's log
//! says what is missing. Before a consumer runs, `lttng status` claims nothing.

mod support;

use support::user::User;

fn start_daemon_without_landlock(u: &User, extra: &[&str]) {
    let wrapper = std::path::Path::new(env!("CARGO_BIN_EXE_without_landlock"));
    u.start_daemon(Some(wrapper), extra);
}

fn log(u: &User) -> String {
    std::fs::read_to_string(u.rundir().join("sessiond.log")).unwrap_or_default()
}

#[test]
fn the_consumer_refuses_to_run_unsandboxed_and_lttng_says_why() {
    let u = User::new("no-landlock");
    start_daemon_without_landlock(&u, &[]);
    u.lttng_ok(&["create", "s"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    let status = u.lttng_ok(&["status"]);
    assert!(!status.contains("NOT sandboxed"), "{status}");
    let out = u.lttng(&["start"]);
    assert!(!out.status.success(), "started without a sandbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot enter its sandbox")
            && err.contains("Landlock is not available")
            && err.contains("--allow-unsandboxed"),
        "{err}"
    );
    assert!(!err.contains("BitFlags"), "{err}");
    let status = u.lttng_ok(&["status"]);
    assert!(!status.contains("NOT sandboxed"), "{status}");
}

#[test]
fn the_degraded_mode_records_and_says_it_is_unsandboxed() {
    let u = User::new("degraded");
    start_daemon_without_landlock(&u, &["--allow-unsandboxed"]);
    u.lttng_ok(&["create", "s"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    let status = u.lttng_ok(&["status"]);
    assert!(status.contains("Consumer: NOT sandboxed"), "{status}");
    let mut app = u.app();
    app.emit(100);
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);
    let read = support::read_trace(&u.session_output("s"));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let seqs: Vec<u64> = read
        .events
        .iter()
        .filter(|e| &*e.name == "myapp:request")
        .filter_map(|e| match e.fields.get("seq") {
            Some(ctf::reader::Value::Unsigned(v, _)) => Some(*v),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    let log = log(&u);
    assert!(
        log.contains("lttng-consumerd-ust: WARNING: running without Landlock")
            && log.contains("(degraded mode)"),
        "{log}"
    );
}
