//! What libust guarantees a Rust program holds for a C program built against our
//! headers (`tests/c/life_*`): the buffers live outside it, so a SIGKILL loses no
//! event it committed; a setuid C program neither registers with its user's session
//! daemon nor follows `LIBUST_TRACE_DIR`; threads and a forked child are traced whole.

mod support;

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctf::reader::Value;
use support::c;
use support::user::User;
use support::*;

/// Builds `life_app` in `dir`.
fn build(dir: &Path) -> PathBuf {
    let objects: Vec<PathBuf> = ["life_tp", "life_app"]
        .iter()
        .map(|s| c::compile(dir, "cc", s, s, &["-pthread"]))
        .collect();
    c::link(dir, "cc", &objects, "life_app", &["-pthread"])
}

fn u64_field(e: &ctf::reader::Event, name: &str) -> u64 {
    field(&e.fields, name)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{} has no {name}", e.name))
}

#[test]
fn a_sigkilled_c_program_keeps_every_event_it_committed() {
    let u = User::new("c-sigkill");
    let exe = build(u.home());
    u.lttng_ok(&["create", "crash"]);
    u.lttng_ok(&["enable-event", "-u", "life:ev"]);
    u.lttng_ok(&["start"]);
    let mut app = u
        .cmd(&exe)
        .arg("spin")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn life_app");
    let mut out = app.stdout.take().unwrap();
    let mut reported = Vec::new();
    let mut buf = [0u8; 65536];
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        let n = out.read(&mut buf).unwrap();
        reported.extend_from_slice(&buf[..n]);
    }
    app.kill().expect("SIGKILL");
    out.read_to_end(&mut reported).unwrap();
    let status = app.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let whole = reported.len() / 8 * 8;
    let last = u64::from_le_bytes(reported[whole - 8..whole].try_into().unwrap());
    assert!(last > 1000, "the program ran: last committed seq {last}");
    u.lttng_ok(&["stop"]);

    let trace = u.session_output("crash");
    let read = read_trace(&trace);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let seqs: Vec<u64> = read.events.iter().map(|e| u64_field(e, "seq")).collect();
    // Every committed event up to the last one reported, in order; the one being
    // written when the signal came may or may not be there.
    assert!(
        seqs.len() as u64 > last,
        "{} events, last reported {last}",
        seqs.len()
    );
    assert_eq!(seqs[..=last as usize], (0..=last).collect::<Vec<_>>()[..]);
    if let Some(bt) = babeltrace2(&[trace.as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
    }
    u.lttng_ok(&["destroy"]);
}

#[test]
fn a_setuid_c_program_is_never_traced() {
    let u = User::new("c-setuid");
    if u.uid.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "this test needs root under CI"
        );
        eprintln!("NOTICE: not root: cannot make a setuid program; skipped");
        return;
    }
    let exe = build(u.home());
    let dir = TempDir::new("c-setuid-bin");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let setuid = dir.path().join("life_app_setuid");
    std::fs::copy(&exe, &setuid).unwrap();
    std::fs::set_permissions(&setuid, std::fs::Permissions::from_mode(0o4755)).unwrap();

    u.lttng_ok(&["create", "priv"]);
    u.lttng_ok(&["enable-event", "-u", "-a"]);
    u.lttng_ok(&["start"]);
    let standalone = u.home().join("standalone");
    for (bin, traced) in [(&setuid, false), (&exe, true)] {
        let out = u
            .cmd(bin)
            .args(["fork", "1", "100"])
            .output()
            .expect("run life_app");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = u
            .cmd(bin)
            .args(["fork", "1", "100"])
            .env("LIBUST_TRACE_DIR", &standalone)
            .output()
            .expect("run life_app standalone");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            standalone.exists(),
            traced,
            "{}: LIBUST_TRACE_DIR followed: {}",
            bin.display(),
            standalone.exists()
        );
    }
    u.lttng_ok(&["stop"]);
    // Only the unprivileged runs are in the session: the parent's 200 events and
    // its child's 100 (the child registers as an application of its own).
    let read = read_trace(&u.session_output("priv"));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let who: Vec<u64> = read.events.iter().map(|e| u64_field(e, "who")).collect();
    let count = |w: u64| who.iter().filter(|&&x| x == w).count();
    assert_eq!((count(100), count(2)), (100, 100), "{} events", who.len());
    u.lttng_ok(&["destroy"]);
}

/// What one `who` left in the trace: its seqs in order, the pids and the thread ids.
type Seen = (Vec<u64>, Vec<i64>, Vec<i64>);

#[test]
fn threads_and_a_forked_child_of_a_c_program_are_traced_whole() {
    let tmp = TempDir::new("c-fork");
    let exe = build(tmp.path());
    let trace = tmp.path().join("trace");
    let out = Command::new(&exe)
        .args(["fork", "4", "20000"])
        .env("LIBUST_TRACE_DIR", &trace)
        .env("LIBUST_CONTEXTS", "vpid,vtid")
        .output()
        .expect("run life_app");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child: i64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("child=")
        .and_then(|v| v.parse().ok())
        .expect("child pid");

    let read = read_trace(&trace);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let mut by_who: HashMap<u64, Seen> = HashMap::new();
    for e in &read.events {
        let ctx = |n: &str| {
            field(&e.stream_context, n)
                .or_else(|| field(&e.event_context, n))
                .and_then(Value::as_i64)
                .unwrap_or_else(|| panic!("no {n} context"))
        };
        let entry = by_who.entry(u64_field(e, "who")).or_default();
        entry.0.push(u64_field(e, "seq"));
        entry.1.push(ctx("vpid"));
        entry.2.push(ctx("vtid"));
    }
    let whos: Vec<u64> = {
        let mut w: Vec<u64> = by_who.keys().copied().collect();
        w.sort();
        w
    };
    assert_eq!(whos, [1, 2, 100, 101, 102, 103]);
    let parent = by_who[&2].1[0];
    for (who, (seqs, pids, tids)) in &by_who {
        assert_eq!(*seqs, (0..20000).collect::<Vec<_>>(), "who = {who}");
        let pid = if *who == 1 { child } else { parent };
        assert!(
            pids.iter().all(|&p| p == pid),
            "who = {who}: pids {:?}",
            pids[0]
        );
        assert!(
            tids.iter().all(|&t| t == tids[0]),
            "who = {who}: one thread"
        );
    }
    assert_ne!(child, parent);
    let tids: std::collections::BTreeSet<i64> = by_who.values().map(|v| v.2[0]).collect();
    assert_eq!(
        tids.len(),
        6,
        "a thread id per thread and per process: {tids:?}"
    );
}
