//! Buffers live outside the traced application: when it is SIGKILLed mid-run, every
//! event it committed is in the trace; when the consumer is killed, the session
//! daemon restarts it and nothing buffered is lost; when the session daemon is killed,
//! applications keep running and exit normally.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use support::user::User;
use support::*;

fn request_seqs(dir: &std::path::Path) -> Vec<u64> {
    let read = read_trace(dir);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    read.seqs_of("myapp:request")
}

fn babeltrace_reads_cleanly(dir: &std::path::Path) {
    if let Some(bt) = babeltrace2(&[dir.as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
    }
}

fn kill(pid: i32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn an_app_killed_mid_run_keeps_every_event_it_committed() {
    let u = User::new("sigkill");
    u.lttng_ok(&["create", "crash"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    app.send("spin");
    // Let it run a while, reading the sequence numbers it reports after each commit.
    let mut reported = Vec::new();
    let mut buf = [0u8; 65536];
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        let n = app.stdout().read(&mut buf).unwrap();
        reported.extend_from_slice(&buf[..n]);
    }
    kill(app.child.id() as i32, "-9");
    // Whatever the app managed to report before it died.
    app.stdout().read_to_end(&mut reported).unwrap();
    let _ = app.child.wait();
    let whole = reported.len() / 8 * 8;
    let last = u64::from_le_bytes(reported[whole - 8..whole].try_into().unwrap());
    assert!(last > 1000, "the app ran: last committed seq {last}");
    u.lttng_ok(&["stop"]);
    let out = u.session_output("crash");
    let seqs = request_seqs(&out);
    // Every committed event up to the last reported one, in order; the event it was
    // writing when killed may or may not be there.
    assert!(
        seqs.len() as u64 > last,
        "{} events, last reported {last}",
        seqs.len()
    );
    assert_eq!(seqs[..=last as usize], (0..=last).collect::<Vec<_>>()[..]);
    babeltrace_reads_cleanly(&out);
}

#[test]
fn a_killed_consumer_is_restarted_and_nothing_buffered_is_lost() {
    let u = User::new("consumer");
    u.lttng_ok(&["create", "cons"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    app.emit(20_000);
    let daemon = u.daemon_pid().expect("daemon pid");
    let consumers = children_named(daemon, "lttng-consumerd");
    assert_eq!(consumers.len(), 1, "one consumer: {consumers:?}");
    kill(consumers[0], "-9");
    // Events recorded while no consumer runs wait in the buffers.
    app.emit(20_000);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = children_named(daemon, "lttng-consumerd");
        if now.len() == 1 && now[0] != consumers[0] {
            break;
        }
        assert!(Instant::now() < deadline, "the consumer was not restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    app.emit(20_000);
    assert!(app.quit().success());
    let status = u.lttng_ok(&["status"]);
    assert!(status.contains("Consumer restarted 1 time(s)"), "{status}");
    u.lttng_ok(&["stop"]);
    let out = u.session_output("cons");
    assert_eq!(request_seqs(&out), (0..60_000).collect::<Vec<_>>());
    babeltrace_reads_cleanly(&out);
}

#[test]
fn apps_outlive_a_killed_session_daemon() {
    let u = User::new("sessiond");
    u.lttng_ok(&["create", "gone"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    app.emit(1000);
    kill(u.daemon_pid().expect("daemon pid"), "-9");
    // The app notices, falls back to disabled tracepoints, and keeps working.
    let t = Instant::now();
    for _ in 0..10 {
        app.emit(10_000);
    }
    let status = app.quit();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}
