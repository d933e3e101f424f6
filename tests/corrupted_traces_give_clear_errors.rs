//! `lttng view` on damaged traces: a truncated stream file, a corrupted packet header,
//! garbage metadata, a missing directory. Each gives a clear message and an exit code,
//! never a panic or a hang, and everything still readable is printed.

mod support;

use std::process::Command;

use support::*;

fn demo_trace() -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new("corrupt");
    run_ok(traced(env!("CARGO_BIN_EXE_demo"), dir.path()).arg("200"));
    let uid = unsafe_getuid();
    let stream_dir = dir.path().join(format!("ust/uid/{uid}/64-bit"));
    (dir, stream_dir)
}

#[allow(unsafe_code)]
fn unsafe_getuid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

fn view(path: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(lttng_bin())
        .arg("view")
        .arg(path)
        .env("TZ", "UTC")
        .output()
        .expect("run lttng view");
    let code = out.status.code().expect("lttng view killed by a signal");
    assert_ne!(
        code,
        101,
        "lttng view panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stream_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("channel0_")
        })
        .filter(|p| p.metadata().unwrap().len() > 0)
        .collect();
    v.sort();
    v
}

#[test]
fn an_intact_trace_views_cleanly() {
    let (dir, _) = demo_trace();
    let (code, out, err) = view(dir.path());
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out.lines().count(), 2 + 7 * 200);
}

#[test]
fn a_truncated_stream_file_is_reported() {
    let (dir, streams) = demo_trace();
    let file = &stream_files(&streams)[0];
    let len = file.metadata().unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.set_len(len / 2 + 3).unwrap();
    let (code, _out, err) = view(dir.path());
    assert_eq!(code, 1, "stderr: {err}");
    assert!(err.contains("ERROR"), "stderr: {err}");
    assert!(
        err.contains("channel0_"),
        "the message names the file: {err}"
    );
}

#[test]
fn a_corrupted_packet_header_is_reported() {
    let (dir, streams) = demo_trace();
    let file = &stream_files(&streams)[0];
    let mut bytes = std::fs::read(file).unwrap();
    bytes[0] ^= 0xFF; // magic
    std::fs::write(file, bytes).unwrap();
    let (code, _out, err) = view(dir.path());
    assert_eq!(code, 1, "stderr: {err}");
    assert!(err.to_lowercase().contains("magic"), "stderr: {err}");
}

#[test]
fn garbage_metadata_is_reported() {
    let (dir, streams) = demo_trace();
    std::fs::write(
        streams.join("metadata"),
        b"/* CTF 1.8 */ trace { major = ;; }}}",
    )
    .unwrap();
    let (code, out, err) = view(dir.path());
    assert_eq!(code, 2, "stderr: {err}");
    assert!(out.is_empty());
    assert!(err.contains("metadata"), "stderr: {err}");
}

#[test]
fn a_missing_directory_is_reported() {
    let (code, _out, err) = view(std::path::Path::new("/nonexistent/trace"));
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/trace"), "stderr: {err}");
}
