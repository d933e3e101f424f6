//! When the trace's file system fills up, whole packets are lost, never half of one:
//! the program says so on stderr, the stream file stays readable by both viewers, and
//! the loss shows as a packet-sequence gap where a later packet reached the file (not
//! at a stream's end: only the message tells of those). Needs root (it mounts a 1 MiB tmpfs);
//! under `CI=true` not being root is a failure.

mod support;

use std::process::Command;

use ctf::reader::DiscardedKind;
use support::*;

#[allow(unsafe_code)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_full_disk_loses_whole_packets_and_says_so() {
    if !is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "this test must run as root under CI"
        );
        eprintln!("NOTICE: not root; skipping the full-disk test");
        return;
    }
    let dir = TempDir::new("fulldisk");
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("run mount");
    assert!(mounted.success(), "mount tmpfs failed");
    let out = traced(env!("CARGO_BIN_EXE_demo"), &mnt)
        .arg("20000")
        .output()
        .expect("run demo");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let read = read_trace(&mnt);
    let view = Command::new(lttng_bin())
        .arg("view")
        .arg(&mnt)
        .output()
        .expect("lttng view");
    let bt = babeltrace2(&[mnt.as_os_str()]);
    let _ = Command::new("umount").arg(&mnt).status();

    assert!(
        out.status.success(),
        "the traced program itself is unaffected"
    );
    assert!(
        stderr.contains("No space left on device"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("packets lost"), "stderr: {stderr}");
    assert!(
        read.errors.is_empty(),
        "no half packet in the file: {:?}",
        read.errors
    );
    assert!(!read.events.is_empty());
    // demo 20000 fires 6 events per round, and one before and after.
    let emitted = 6 * 20_000 + 2;
    assert!(
        read.events.len() < emitted,
        "{} events read",
        read.events.len()
    );
    // A packet lost while later ones still reached the file shows as a gap in the
    // packet sequence numbers; packets lost at the end of a stream (the disk stayed
    // full to the end, as it does when the program outruns the writer) cannot, and
    // only the messages tell of them. Never more gaps than messages.
    let gaps = read
        .discarded
        .iter()
        .filter(|d| matches!(d.kind, DiscardedKind::Packets(_)))
        .count();
    let said = stderr.matches("packets lost").count();
    assert!(
        gaps <= said,
        "{gaps} gaps, {said} messages: {:?}, stderr: {stderr}",
        read.discarded
    );
    assert_eq!(
        view.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&view.stderr)
    );
    if let Some(bt) = bt {
        assert!(
            bt.status.success(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
    }
}
