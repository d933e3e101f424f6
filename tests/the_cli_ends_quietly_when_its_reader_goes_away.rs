//! `lttng … | head`: when the reader of its output goes away, a command ends quietly
//! (exit 0, nothing on stderr), as a C tool killed by SIGPIPE would; it does not panic.
//! The pipe's read end is closed before the command starts, so its first write fails.

mod support;

use std::process::{Command, Stdio};

use support::*;

fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(lttng_bin())
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run lttng")
}

#[test]
fn lttng_version_into_a_closed_pipe() {
    let out = with_closed_stdout(&["version"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(err.is_empty(), "{err}");
}

#[test]
fn lttng_view_into_a_closed_pipe() {
    let dir = TempDir::new("closedpipe");
    run_ok(traced(env!("CARGO_BIN_EXE_demo"), dir.path()).stdout(Stdio::null()));
    let out = with_closed_stdout(&["view", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}
