//! After a package upgrade, `lttng` may meet a session daemon of the release before
//! (or, from a stale build, the reverse). Neither may hang nor answer wrongly: the
//! user is told to restart the session daemon, and how. An old daemon is played by
//! `wire_probe fake-daemon` in the three ways one can answer a hello of another
//! version: refuse it in the words of the releases before, greet with its own
//! version (and fields this release does not know), or send what is no hello at all;
//! a stuck one never answers. A newer `lttng` is played by `wire_probe newer-hello`
//! against the real daemon.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use support::run_bounded;
use support::user::User;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fake daemon of another release, serving until dropped.
struct Fake(Child);

impl Fake {
    fn start(u: &User, mode: &str) -> Fake {
        let mut child = u
            .cmd(env!("CARGO_BIN_EXE_wire_probe"))
            .args(["fake-daemon", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn wire_probe");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening", "fake daemon {mode}");
        Fake(child)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// `lttng ARGS` as `u`, killed after `limit` (a hang fails the test); with how long
/// it took.
fn lttng_bounded(u: &User, args: &[&str], limit: Duration) -> (Output, Duration) {
    let t0 = Instant::now();
    let out = run_bounded(
        u.cmd(support::user::bin_dir().join("lttng")).args(args),
        limit,
    );
    (out, t0.elapsed())
}

#[test]
fn a_new_lttng_meeting_a_daemon_of_another_release_is_told_to_restart_it() {
    for mode in ["older", "newer", "garbage"] {
        let u = User::new(&format!("release-{mode}"));
        let fake = Fake::start(&u, mode);
        let fake_pid = fake.0.id();
        for args in [&["list"][..], &["create", "s"], &["start", "s"]] {
            let (out, _) = lttng_bounded(&u, args, Duration::from_secs(20));
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{mode} {args:?}: {err}");
            for want in [
                "restart your session daemon".to_string(),
                "another release".to_string(),
                format!("kill {fake_pid}"),
            ] {
                assert!(
                    err.contains(&want),
                    "{mode} {args:?}: no {want:?} in: {err}"
                );
            }
            if mode == "newer" {
                let v = proto::wire::VERSION;
                assert!(
                    err.contains(&format!("it speaks protocol {}, this lttng {v}", v + 1)),
                    "{mode}: {err}"
                );
            }
            assert!(out.stdout.is_empty(), "{mode} {args:?}: printed an answer");
        }
        drop(fake);
    }
}

#[test]
fn a_daemon_that_never_answers_the_hello_is_reported_not_waited_for() {
    let u = User::new("release-silent");
    let fake = Fake::start(&u, "silent");
    let (out, took) = lttng_bounded(&u, &["list"], Duration::from_secs(40));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("did not answer the hello within 10s"), "{err}");
    assert!(err.contains(&format!("kill {}", fake.0.id())), "{err}");
    assert!(took >= Duration::from_secs(9), "gave up after {took:?}");
}

#[test]
fn an_lttng_of_another_release_is_told_by_the_daemon_to_restart_it() {
    let u = User::new("release-daemon");
    let pid = u.start_daemon(None, &[]);
    let out = u
        .cmd(env!("CARGO_BIN_EXE_wire_probe"))
        .arg("newer-hello")
        .output()
        .expect("wire_probe");
    let seen = text(&out.stdout);
    assert!(out.status.success(), "{seen}");
    let v = proto::wire::VERSION;
    for want in [
        "reply: Error(".to_string(),
        format!(
            "this lttng speaks protocol version {} and the session daemon (pid {pid}) {v}",
            v + 1
        ),
        "Restart your session daemon".to_string(),
        format!("`kill {pid}`"),
    ] {
        assert!(seen.contains(&want), "no {want:?} in:\n{seen}");
    }
    // The daemon goes on serving this release's lttng.
    u.lttng_ok(&["list"]);
    assert_eq!(u.daemon_pid(), Some(pid));
}
