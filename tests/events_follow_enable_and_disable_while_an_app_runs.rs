//! Event rules change while an application runs: `lttng disable-event` and
//! `enable-event` take effect in the running app before the command returns (the
//! daemon waits for the app's acknowledgement), and an app started before the session
//! daemon existed registers when the daemon appears.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ctf::reader::Value;
use support::user::User;
use support::*;

fn counts(u: &User, session: &str) -> BTreeMap<String, Vec<u64>> {
    let read = read_trace(&u.session_output(session));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &read.events {
        let seq = field(&e.fields, "seq").and_then(Value::as_u64).unwrap();
        m.entry(e.name.to_string()).or_default().push(seq);
    }
    m
}

#[test]
fn disabling_and_enabling_an_event_takes_effect_in_the_running_app() {
    let u = User::new("live");
    u.lttng_ok(&["create", "live"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:*"]);
    // Started before `start`: it registers, and starts recording at `start`.
    let mut app = u.app();
    app.emit(10); // not recorded: the session is not started
    u.lttng_ok(&["start"]);
    app.emit(100); // seq 10..110
    let t = Instant::now();
    u.lttng_ok(&["disable-event", "-u", "myapp:noisy"]);
    let took = t.elapsed();
    app.emit(100); // 110..210: requests only
    u.lttng_ok(&["enable-event", "-u", "myapp:noisy"]);
    app.emit(100); // 210..310
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);
    let m = counts(&u, "live");
    assert_eq!(m["myapp:request"], (10..310).collect::<Vec<_>>());
    let noisy: Vec<u64> = (10..110).chain(210..310).collect();
    assert_eq!(m["myapp:noisy"], noisy);
    // The whole command (process start included) stays well under the 100 ms the
    // change may take; the app had applied it when the command returned.
    eprintln!("disable-event took {took:?}");
    let status = u.lttng_ok(&["list", "live"]);
    assert!(status.contains("exclusions: myapp:noisy"), "{status}");
}

#[test]
fn an_app_started_before_the_daemon_registers_when_it_appears() {
    let u = User::new("early");
    let mut app = u.app();
    assert!(u.daemon_pid().is_none(), "no daemon yet");
    app.emit(5); // nothing to record into
    u.lttng_ok(&["create", "early"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:request"]);
    u.lttng_ok(&["start"]);
    // The app retries every 500 ms: wait until it shows up.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed = u.lttng_ok(&["list", "-u"]);
        if listed.contains("myapp:request") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the app never registered:\n{listed}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app.emit(100); // seq 5..105
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);
    let m = counts(&u, "early");
    assert_eq!(m.len(), 1, "only myapp:request was enabled: {:?}", m.keys());
    assert_eq!(m["myapp:request"], (5..105).collect::<Vec<_>>());
}

#[test]
fn log_level_rules_select_by_severity() {
    let u = User::new("level");
    u.lttng_ok(&["create", "level"]);
    // request is INFO, noisy is DEBUG: only request is at least as severe as INFO.
    u.lttng_ok(&["enable-event", "-u", "myapp:*", "--loglevel", "INFO"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    app.emit(50);
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);
    let m = counts(&u, "level");
    assert_eq!(m.keys().collect::<Vec<_>>(), ["myapp:request"]);
    assert_eq!(m["myapp:request"].len(), 50);
}

#[test]
fn destroying_a_session_under_a_running_app_gives_its_buffers_back() {
    let u = User::new("destroy");
    u.lttng_ok(&["create", "gone"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:*"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    app.emit(100);
    let maps = || std::fs::read_to_string(format!("/proc/{}/maps", app.child.id())).unwrap();
    assert!(maps().contains("memfd:lttng-ust-channel0"), "{}", maps());
    u.lttng_ok(&["destroy"]);
    let left = maps();
    assert!(
        !left.contains("memfd:lttng-ust-channel0"),
        "the app still maps the buffers:\n{left}"
    );
    app.emit(1000); // into nothing, without harm
    assert!(app.quit().success());
}
