//! Flight recording: a `--snapshot` session keeps overwriting its buffers and
//! `lttng snapshot record` writes their current contents as a new, complete trace
//! holding the newest events. And `lttng trace -- CMD`, the one-command way: a private
//! session around one program, its events printed, the trace left on disk.

mod support;

use ctf::reader::Value;
use support::user::User;
use support::*;

#[test]
fn a_snapshot_holds_the_newest_events() {
    let u = User::new("snap");
    let created = u.lttng_ok(&["create", "fr", "--snapshot"]);
    assert!(
        created.contains("Snapshot session fr created."),
        "{created}"
    );
    // 4 sub-buffers of 4 KiB per CPU: far less than what the app records.
    u.lttng_ok(&[
        "enable-channel",
        "-u",
        "small",
        "--subbuf-size",
        "4k",
        "--num-subbuf",
        "4",
    ]);
    u.lttng_ok(&["enable-event", "-u", "-c", "small", "myapp:request"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    app.emit(20_000);
    let said = u.lttng_ok(&["snapshot", "record"]);
    let path = said
        .lines()
        .find_map(|l| l.strip_prefix("Snapshot written to "))
        .unwrap_or_else(|| panic!("no path in {said:?}"))
        .to_string();
    let read = read_trace(std::path::Path::new(&path));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let seqs = read.seqs();
    assert!(!seqs.is_empty());
    assert!(
        seqs.len() < 20_000,
        "the buffers wrapped: {} events",
        seqs.len()
    );
    assert_eq!(seqs.iter().max(), Some(&19_999), "the newest event is in");
    // The newest events of each CPU's buffer: per CPU, a contiguous run of the app's
    // sequence ending where the app left that CPU.
    if let Some(bt) = babeltrace2(&[std::ffi::OsStr::new(&path)]) {
        assert!(
            bt.status.success(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        assert_eq!(
            bt.stdout.iter().filter(|&&b| b == b'\n').count(),
            seqs.len()
        );
    }
    // Later events reach a second snapshot; nothing was consumed by the first.
    app.emit(100);
    let said = u.lttng_ok(&["snapshot", "record", "-n", "second"]);
    let second = said
        .lines()
        .find_map(|l| l.strip_prefix("Snapshot written to "))
        .unwrap()
        .to_string();
    assert!(second.contains("/second-"), "{second}");
    let read = read_trace(std::path::Path::new(&second));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let max = read
        .events
        .iter()
        .filter_map(|e| field(&e.fields, "seq").and_then(Value::as_u64))
        .max();
    assert_eq!(max, Some(20_099));
    assert!(app.quit().success());
    u.lttng_ok(&["destroy"]);
}

#[test]
fn trace_runs_a_command_and_prints_its_events() {
    let u = User::new("tracecmd");
    let out = u
        .cmd(support::user::bin_dir().join("lttng"))
        .args(["trace", "--", env!("CARGO_BIN_EXE_ust_app"), "emit", "3"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(
        lines[0].contains("myapp:request: ")
            && lines[0].ends_with("{ seq = 0, path = \"/index.html\" }"),
        "{stdout}"
    );
    assert!(
        lines[5].contains("myapp:noisy: ") && lines[5].ends_with("{ seq = 2 }"),
        "{stdout}"
    );
    let path = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Trace written to "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(read_trace(std::path::Path::new(path)).events.len(), 6);
    // The private session is gone, and the current session was not touched.
    let list = u.lttng_ok(&["list"]);
    assert!(
        list.contains("Currently no available tracing session"),
        "{list}"
    );
    assert!(!u.home().join(".lttngrc").exists());
    // The command's exit status is passed on.
    let st = u
        .cmd(support::user::bin_dir().join("lttng"))
        .args(["trace", "--quiet", "--", "sh", "-c", "exit 7"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(7));
}
