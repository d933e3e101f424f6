//! `lttng view` prints the same stdout and stderr as babeltrace2 (TZ=UTC), exits with the
//! documented codes, and ends quietly when its output is closed.

#[path = "../../ctf/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{babeltrace2, example_stream, write_trace, CLEAN, LOSSY, METADATA, SEQGAP};

fn lttng(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lttng"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn same_as_babeltrace2(dir: &Path) {
    let dir = dir.canonicalize().unwrap();
    let path = dir.to_str().unwrap();
    let ours = lttng(&["view", path]);
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    let Some((out, err, ok)) = babeltrace2(&[path]) else {
        return;
    };
    assert!(ok);
    assert_eq!(text(&ours.stdout), out);
    assert_eq!(text(&ours.stderr), err);
}

#[test]
fn the_example_trace_prints_like_babeltrace2() {
    for (name, counters) in [("clean", CLEAN), ("lossy", LOSSY), ("seqgap", SEQGAP)] {
        let dir = common::temp_dir(&format!("view-{name}"));
        write_trace(
            &dir,
            METADATA.as_bytes(),
            &[("channel0_0", &example_stream(counters))],
        );
        same_as_babeltrace2(&dir);
    }
}

#[test]
fn first_line_matches_the_reference_output() {
    let dir = common::temp_dir("view-first");
    write_trace(
        &dir,
        METADATA.as_bytes(),
        &[("channel0_0", &example_stream(CLEAN))],
    );
    let out = lttng(&["view", "--trace-path", dir.to_str().unwrap()]);
    let first = text(&out.stdout).lines().next().unwrap().to_string();
    assert_eq!(
        first,
        "[11:09:00.436172458] (+?.?????????) demo-host demo:hello: { cpu_id = 0 }, { vpid = 4242, vtid = 4243, procname = \"demo-app\" }, { msg = \"first event (extended header)\", value = -7, ratio = 0.5 }"
    );
}

#[test]
fn a_session_directory_with_several_traces_is_merged() {
    let dir = common::temp_dir("view-session");
    let ust = dir.join("ust/uid/1000/64-bit");
    write_trace(
        &ust,
        METADATA.as_bytes(),
        &[("channel0_0", &example_stream(CLEAN))],
    );
    let other = METADATA.replace(
        "6ecbb290-8639-42c7-9b46-4a6da8a06cc1",
        "6ecbb290-8639-42c7-9b46-4a6da8a06cc2",
    );
    write_trace(
        &dir.join("kernel"),
        other.as_bytes(),
        &[("channel0_0", &example_stream(CLEAN))],
    );
    let out = lttng(&["view", dir.to_str().unwrap()]);
    assert_eq!(text(&out.stdout).lines().count(), 14);
    same_as_babeltrace2(&dir);
}

#[test]
fn a_corrupt_stream_prints_the_rest_and_exits_1() {
    let dir = common::temp_dir("view-corrupt");
    let mut bad = example_stream(CLEAN);
    bad[0] = 0;
    write_trace(
        &dir,
        METADATA.as_bytes(),
        &[("channel0_0", &example_stream(CLEAN)), ("channel0_1", &bad)],
    );
    let out = lttng(&["view", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 7);
    let err = text(&out.stderr);
    assert!(
        err.starts_with("ERROR: ")
            && err.contains("channel0_1: packet 0 at offset 0: bad packet magic"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = common::temp_dir("view-none");
    let out = Command::new(env!("CARGO_BIN_EXE_lttng"))
        .arg("view")
        .env("LTTNG_HOME", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no current session"),
        "{}",
        text(&out.stderr)
    );
    let out = lttng(&["view", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no CTF trace found"));
    assert_eq!(lttng(&["view", "--bogus"]).status.code(), Some(2));
}

#[test]
fn viewer_runs_another_program_on_the_path() {
    let out = lttng(&["view", "--viewer=echo viewing", "/some/trace"]);
    assert_eq!(text(&out.stdout), "viewing /some/trace\n");
}

#[test]
fn a_closed_output_ends_quietly_with_status_0() {
    let dir = common::temp_dir("view-pipe");
    let stream: Vec<u8> = (0..300).flat_map(|_| example_stream(CLEAN)).collect();
    write_trace(&dir, METADATA.as_bytes(), &[("channel0_0", &stream)]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_lttng"))
        .args(["view", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("demo:hello"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
}
