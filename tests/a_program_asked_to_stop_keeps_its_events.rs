//! A traced program stopped by SIGTERM or SIGINT flushes its buffers before it dies of
//! the signal: the trace is complete (an unbroken sequence from the first event) and
//! readable by babeltrace2.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use support::*;

fn stop_with(sig: i32) {
    let dir = TempDir::new("stop");
    let mut cmd = traced(env!("CARGO_BIN_EXE_looper"), dir.path());
    cmd.stdout(Stdio::piped());
    default_disposition(&mut cmd, sig);
    let mut child = cmd.spawn().expect("spawn looper");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    std::thread::sleep(std::time::Duration::from_millis(100));
    // SAFETY-free: kill(2) through libc on our own child.
    let rc = unsafe_kill(child.id() as i32, sig);
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(sig),
        "the program dies of the signal, as without tracing"
    );

    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty());
    let seqs = read.seqs();
    assert!(seqs.len() >= 1000, "only {} events", seqs.len());
    assert!(
        seqs.iter().enumerate().all(|(i, &s)| s == i as u64),
        "the sequence is unbroken"
    );
    if let Some(bt) = babeltrace2(&[dir.path().as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
    }
}

/// The child starts with the default action for `sig`, whatever this test inherited: a
/// runner started in the background by a non-interactive shell ignores SIGINT, which its
/// children inherit, and libust rightly leaves an ignored signal ignored.
#[allow(unsafe_code)]
fn default_disposition(cmd: &mut std::process::Command, sig: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal(2) is async-signal-safe, the only kind of call allowed between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(sig, libc::SIG_DFL);
            Ok(())
        });
    }
}

#[allow(unsafe_code)]
fn unsafe_kill(pid: i32, sig: i32) -> i32 {
    // SAFETY: kill(2) has no memory preconditions.
    unsafe { libc::kill(pid, sig) }
}

#[test]
fn sigterm_flushes_the_trace() {
    stop_with(libc::SIGTERM);
}

#[test]
fn sigint_flushes_the_trace() {
    stop_with(libc::SIGINT);
}
