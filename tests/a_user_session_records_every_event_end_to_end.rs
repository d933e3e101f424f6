//! The session of LTTng's quick start, end to end, as an ordinary user: `lttng create`
//! starts the user's session daemon, an instrumented app registers, its events reach
//! the trace through consumer-ust, and `lttng view` and babeltrace2 read the same
//! events. Counts and fields are compared one by one.

mod support;

use std::collections::BTreeMap;

use ctf::reader::Value;
use support::user::User;
use support::*;

#[test]
fn a_session_records_every_event_of_an_app_and_both_viewers_agree() {
    let u = User::new("e2e");
    let created = u.lttng_ok(&["create", "demo"]);
    assert!(created.contains("Session demo created."), "{created}");
    u.lttng_ok(&["enable-event", "-u", "myapp:*"]);
    u.lttng_ok(&[
        "add-context",
        "-u",
        "-t",
        "vpid",
        "-t",
        "vtid",
        "-t",
        "procname",
    ]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    let app_pid = app.child.id() as i64;
    assert_eq!(app.emit(1000), 999);
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);

    let out = u.session_output("demo");
    assert!(out
        .join(format!(
            "ust/uid/{}/64-bit/metadata",
            u.uid.unwrap_or_else(own_uid)
        ))
        .exists());
    let read = read_trace(&out);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let mut by_name: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &read.events {
        let seq = field(&e.fields, "seq")
            .and_then(Value::as_u64)
            .expect("seq");
        by_name.entry(e.name.to_string()).or_default().push(seq);
        assert_eq!(
            field(&e.stream_context, "vpid").and_then(Value::as_i64),
            Some(app_pid)
        );
        assert!(field(&e.stream_context, "vtid")
            .and_then(Value::as_i64)
            .is_some());
        assert_eq!(
            field(&e.stream_context, "procname").and_then(Value::as_str),
            Some("ust_app")
        );
        if &*e.name == "myapp:request" {
            assert_eq!(
                field(&e.fields, "path").and_then(Value::as_str),
                Some("/index.html")
            );
        }
    }
    let expected: Vec<u64> = (0..1000).collect();
    assert_eq!(by_name.len(), 2, "{:?}", by_name.keys());
    assert_eq!(by_name["myapp:request"], expected);
    assert_eq!(by_name["myapp:noisy"], expected);

    let ours = u
        .cmd(bin_dir_lttng())
        .args(["view"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(ours.stdout.iter().filter(|&&b| b == b'\n').count(), 2000);
    if let Some(bt) = babeltrace2(&[out.as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&bt.stdout),
            String::from_utf8_lossy(&ours.stdout),
            "lttng view and babeltrace2 print the same events"
        );
    }
    let destroyed = u.lttng_ok(&["destroy"]);
    assert!(destroyed.contains("Session demo destroyed"), "{destroyed}");
    let list = u.lttng_ok(&["list"]);
    assert!(
        list.contains("Currently no available tracing session"),
        "{list}"
    );
}

fn bin_dir_lttng() -> std::path::PathBuf {
    support::user::bin_dir().join("lttng")
}

fn own_uid() -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap())
}
