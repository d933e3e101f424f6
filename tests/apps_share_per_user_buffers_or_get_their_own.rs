//! Buffer ownership: by default every app of the user writes into one set of per-CPU
//! buffers (`ust/uid/<uid>/64-bit`); with `--buffers-pid` each app gets its own
//! buffers and its own trace (`ust/pid/<procname>-<pid>-<datetime>`).

mod support;

use std::collections::BTreeMap;

use ctf::reader::Value;
use support::user::User;
use support::*;

/// (vpid → request seqs) of the events under `dir`.
fn by_pid(dir: &std::path::Path) -> BTreeMap<i64, Vec<u64>> {
    let read = read_trace(dir);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let mut m: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for e in read.events.iter().filter(|e| &*e.name == "myapp:request") {
        let pid = field(&e.stream_context, "vpid")
            .and_then(Value::as_i64)
            .unwrap();
        let seq = field(&e.fields, "seq").and_then(Value::as_u64).unwrap();
        m.entry(pid).or_default().push(seq);
    }
    m
}

fn babeltrace_reads(dir: &std::path::Path, events: usize) {
    if let Some(bt) = babeltrace2(&[dir.as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        assert_eq!(bt.stdout.iter().filter(|&&b| b == b'\n').count(), events);
    }
}

#[test]
fn two_apps_share_the_per_user_buffers() {
    let u = User::new("peruid");
    u.lttng_ok(&["create", "shared"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["add-context", "-u", "-t", "vpid"]);
    u.lttng_ok(&["start"]);
    let (mut a, mut b) = (u.app(), u.app());
    let pids = [a.child.id() as i64, b.child.id() as i64];
    for _ in 0..5 {
        a.emit(100);
        b.emit(100);
    }
    assert!(a.quit().success() && b.quit().success());
    u.lttng_ok(&["stop"]);
    let out = u.session_output("shared");
    let ust = out.join("ust");
    assert_eq!(
        std::fs::read_dir(&ust)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>(),
        ["uid"],
        "only per-user buffers"
    );
    let m = by_pid(&out);
    assert_eq!(m.keys().copied().collect::<Vec<_>>(), {
        let mut p = pids.to_vec();
        p.sort();
        p
    });
    for seqs in m.values() {
        assert_eq!(*seqs, (0..500).collect::<Vec<_>>());
    }
    babeltrace_reads(&out, 1000);
}

#[test]
fn per_process_buffers_give_each_app_its_own_trace() {
    let u = User::new("perpid");
    u.lttng_ok(&["create", "own"]);
    u.lttng_ok(&["enable-channel", "-u", "--buffers-pid", "chan"]);
    u.lttng_ok(&["enable-event", "-u", "-c", "chan", "myapp:request"]);
    u.lttng_ok(&["add-context", "-u", "-c", "chan", "-t", "vpid"]);
    u.lttng_ok(&["start"]);
    let (mut a, mut b) = (u.app(), u.app());
    a.emit(300);
    b.emit(200);
    let pids = [a.child.id() as i64, b.child.id() as i64];
    assert!(a.quit().success() && b.quit().success());
    u.lttng_ok(&["stop"]);
    let out = u.session_output("own");
    let pid_dir = out.join("ust/pid");
    let dirs: Vec<_> = std::fs::read_dir(&pid_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for (pid, n) in pids.iter().zip([300u64, 200]) {
        let dir = dirs
            .iter()
            .find(|d| {
                d.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("ust_app-{pid}-"))
            })
            .unwrap_or_else(|| panic!("no directory for pid {pid} in {dirs:?}"));
        assert!(dir.join("metadata").exists());
        assert!(dir.join("chan_0").exists());
        let m = by_pid(dir);
        assert_eq!(m.len(), 1, "one app per trace");
        assert_eq!(m[pid], (0..n).collect::<Vec<_>>());
        let meta = std::fs::read_to_string(dir.join("metadata")).unwrap();
        assert!(
            meta.contains("tracer_buffering_scheme = \"pid\";"),
            "{meta}"
        );
        assert!(meta.contains(&format!("vpid = {pid};")), "{meta}");
    }
    babeltrace_reads(&out, 500);
}
