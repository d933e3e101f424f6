//! The user's session daemon bounds what its clients and applications can make it
//! hold: `lttng` connections at once (`--max-clients`; one over the limit is refused
//! with a message naming the option), a hello deadline and an idle deadline for them
//! (`lttng` reconnects by itself after the idle one), and a registered application
//! costs a descriptor, not a thread. An application frozen with SIGSTOP stalls a
//! command for at most one reply timeout (then it is disconnected), and never stalls
//! another client for longer.
//!
//! The clients are `wire_probe` (raw connections) and `lttng` itself, run as the test
//! user; the applications are `ust_app`.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::holder::Holder;
use support::user::{bin_dir, User};
use support::{stable_thread_count, thread_count};

/// `wire_probe hold-clients N` as the user: its answer per connection, once all are
/// open; the connections stay open until it is released.
fn hold(u: &User, n: usize) -> Holder {
    let mut c = u.cmd(env!("CARGO_BIN_EXE_wire_probe"));
    c.args(["hold-clients", &n.to_string()]);
    Holder::start(c)
}

#[test]
fn clients_over_the_limit_are_refused_and_the_rest_are_served() {
    let u = User::new("max-clients");
    let pid = u.start_daemon(None, &["--max-clients", "4"]);
    let idle = stable_thread_count(pid);
    let held = hold(&u, 30);
    let greeted = held
        .answers
        .iter()
        .filter(|a| a.starts_with("reply: Hello"))
        .count();
    assert_eq!(greeted, 4, "{:#?}", held.answers);
    for a in held
        .answers
        .iter()
        .filter(|a| !a.starts_with("reply: Hello"))
    {
        assert!(
            a.contains("serves 4 clients already") && a.contains("--max-clients"),
            "{a}"
        );
    }
    assert!(
        thread_count(pid) <= idle + 4,
        "{} threads, {idle} idle",
        thread_count(pid)
    );
    // `lttng` itself is told why.
    let out = u.lttng(&["list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-clients"), "{err}");
    held.release();
    // Once they are gone, `lttng` is served again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !u.lttng(&["list"]).status.success() {
        assert!(Instant::now() < deadline, "never served again");
        std::thread::sleep(Duration::from_millis(50));
    }
    u.lttng_ok(&["create", "after"]);
}

#[test]
fn a_silent_client_is_closed_and_an_idle_lttng_reconnects_by_itself() {
    let u = User::new("client-deadlines");
    u.start_daemon(
        None,
        &["--hello-timeout-ms", "300", "--idle-timeout-ms", "300"],
    );
    let out = u
        .cmd(env!("CARGO_BIN_EXE_wire_probe"))
        .arg("silent-client")
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{lines}");
    assert!(lines.contains("no hello within 300ms"), "{lines}");
    assert!(lines.contains("\nclosed\n"), "{lines}");
    let ms: u64 = lines
        .lines()
        .find_map(|l| l.strip_prefix("after: "))
        .and_then(|l| l.trim_end_matches(" ms").parse().ok())
        .unwrap();
    assert!((250..5000).contains(&ms), "closed after {ms} ms");

    // `lttng trace` keeps its connection while the command runs: idle for a second
    // here, closed by the daemon, and yet it stops and destroys its session.
    let out = u.lttng(&["trace", "--quiet", "--", "sleep", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = u.lttng_ok(&["list"]);
    assert!(!listed.contains("trace-"), "{listed}");
}

#[test]
fn registered_applications_cost_no_thread_each() {
    let u = User::new("many-apps");
    u.lttng_ok(&["create", "apps"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    let pid = u.daemon_pid().unwrap();
    let idle = stable_thread_count(pid);
    let mut apps: Vec<_> = (0..40).map(|_| u.app()).collect();
    for a in &mut apps {
        a.emit(10);
    }
    assert!(
        stable_thread_count(pid) <= idle + 2,
        "{} threads with 40 apps, {idle} without",
        thread_count(pid)
    );
    let status = u.lttng_ok(&["status"]);
    assert!(status.contains("applications writing: 40"), "{status}");
    for a in apps {
        assert!(a.quit().success());
    }
    // Each hang-up is seen: the daemon forgets the apps that left.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = u.lttng_ok(&["status"]);
        if status.contains("applications writing: 0") {
            break;
        }
        assert!(Instant::now() < deadline, "apps never forgotten: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    u.lttng_ok(&["stop"]);
    let out = u.session_output("apps");
    let n = support::read_trace(&out)
        .events
        .iter()
        .filter(|e| &*e.name == "myapp:request")
        .count();
    assert_eq!(n, 400);
}

#[test]
fn frozen_apps_stall_a_command_for_one_reply_timeout_and_no_other_client() {
    let u = User::new("frozen-app");
    u.lttng_ok(&["create", "frozen"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    // Three apps stopped with SIGSTOP, one running.
    let frozen: Vec<_> = (0..3).map(|_| u.app()).collect();
    let mut live = u.app();
    let pids: Vec<String> = frozen.iter().map(|a| a.child.id().to_string()).collect();
    for p in &pids {
        assert!(Command::new("kill")
            .args(["-STOP", p])
            .status()
            .unwrap()
            .success());
    }
    // Enabling an event in a started session tells every app: the frozen ones never
    // answer, and the command waits for them one reply timeout (1 s) in all, not
    // one each, while another client is served meanwhile.
    let t = Instant::now();
    let enable = u
        .cmd(bin_dir().join("lttng"))
        .args(["enable-event", "-u", "myapp:noisy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t_list = Instant::now();
    u.lttng_ok(&["list"]);
    let list_took = t_list.elapsed();
    let out = enable.wait_with_output().unwrap();
    let enable_took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        (Duration::from_millis(900)..Duration::from_millis(2500)).contains(&enable_took),
        "enable took {enable_took:?}"
    );
    assert!(
        list_took < Duration::from_millis(2500),
        "list took {list_took:?}"
    );
    // The frozen apps were disconnected: the next command does not wait for them.
    let t = Instant::now();
    u.lttng_ok(&["disable-event", "-u", "myapp:noisy"]);
    let took = t.elapsed();
    assert!(took < Duration::from_millis(900), "disable took {took:?}");
    // The live one records, as told.
    live.emit(5);
    u.lttng_ok(&["stop"]);
    let names: Vec<String> = support::read_trace(&u.session_output("frozen"))
        .events
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "myapp:request").count(), 5);
    assert_eq!(
        names.iter().filter(|n| *n == "myapp:noisy").count(),
        0,
        "{names:?}"
    );
    for p in &pids {
        let _ = Command::new("kill").args(["-CONT", p]).status();
    }
    drop(frozen);
    assert!(live.quit().success());
}
