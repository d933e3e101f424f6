//! `lttng-privd` bounds what one client can make the root helper hold: connections
//! at once per user and in all (each is a thread of privd), a deadline for the hello,
//! an idle deadline for connections that hold no kernel session, and a deadline for
//! a reply the client does not read. A connection over a limit is refused with a
//! message naming the setting and the file it is in; privd's thread count stays
//! within its limit whatever a member does, and other clients keep being served.
//!
//! The member is a real account of a fresh tracing group, holding its connections
//! with `privd_probe --hold`; the other client is this test, as root. Needs root: under
//! CI=true it fails rather than skips without it.

mod support;

use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use proto::clock::Source;
use proto::wire::privd::{PrivReply, PrivRequest};
use proto::wire::{socket, WireError, VERSION};

use support::holder::Holder;
use support::tracing_group::*;
use support::{fd_count, stable_fd_count, stable_thread_count, thread_count};

/// How long the test waits for any answer: longer means privd hangs.
const WAIT: Duration = Duration::from_secs(10);

fn connect(p: &Privd) -> OwnedFd {
    let s = socket::connect(&p.socket).expect("connect to privd");
    socket::set_timeout(s.as_fd(), Some(WAIT)).unwrap();
    s
}

/// One request and its reply; `None` when privd closed the connection.
fn call(s: &OwnedFd, req: &PrivRequest) -> Option<PrivReply> {
    socket::send(s.as_fd(), req, &[]).ok()?;
    recv(s)
}

fn recv(s: &OwnedFd) -> Option<PrivReply> {
    match socket::recv::<PrivReply>(s.as_fd()) {
        Ok(r) => Some(r.msg),
        Err(WireError::Closed) => None,
        Err(WireError::Io(e)) if e.raw_os_error() == Some(libc::ECONNRESET) => None,
        Err(e) => panic!("privd did not answer: {e}"),
    }
}

fn hello(s: &OwnedFd) -> Option<PrivReply> {
    call(s, &PrivRequest::Hello { version: VERSION })
}

fn greeted(p: &Privd) -> OwnedFd {
    let s = connect(p);
    match hello(&s) {
        Some(PrivReply::Hello { .. }) => s,
        other => panic!("hello: {other:?}"),
    }
}

fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|n| n.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS: in /proc/PID/status")
}

/// Waits until `f` holds, for at most `WAIT`.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `privd_probe --hold N` as `user`: its answer per connection, once all are open.
fn hold(user: &str, p: &Privd, n: usize) -> Holder {
    let mut c = Command::new("setpriv");
    c.args(become_user(user))
        .arg(env!("CARGO_BIN_EXE_privd_probe"))
        .args(["--hold", &n.to_string()])
        .arg(&p.socket);
    Holder::start(c)
}

fn setup(config: &str) -> Option<(Accounts, Privd)> {
    if !root_or_skip() {
        return None;
    }
    let accounts = Accounts::new();
    let privd = Privd::start_with(&accounts.group, config);
    Some((accounts, privd))
}

#[test]
fn one_member_cannot_take_every_connection_and_others_are_still_served() {
    let Some((accounts, p)) = setup("max_connections = 6\nmax_connections_per_user = 4\n") else {
        return;
    };
    let conf = p
        .socket
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("privd.conf");
    let idle_threads = stable_thread_count(p.pid);
    let idle_rss = rss_kb(p.pid);

    // The member asks for 12: 4 are served, 8 refused with the setting and its file.
    let holder = hold(&accounts.member, &p, 12);
    let served = holder
        .answers
        .iter()
        .filter(|a| a.contains("Hello"))
        .count();
    assert_eq!(served, 4, "{:#?}", holder.answers);
    for a in holder.answers.iter().filter(|a| !a.contains("Hello")) {
        assert!(
            a.starts_with("denied: ")
                && a.contains("max_connections_per_user in ")
                && a.contains(&conf.display().to_string()),
            "{a}"
        );
    }
    assert!(
        thread_count(p.pid) <= idle_threads + 6,
        "{} threads",
        thread_count(p.pid)
    );

    // Root is another user: served while the member holds its four, up to the limit
    // in all (six), then refused with that limit's name.
    let r1 = greeted(&p);
    let r2 = greeted(&p);
    let third = connect(&p);
    match hello(&third) {
        Some(PrivReply::Denied(t)) => {
            assert!(
                t.contains("serves 6 connections") && t.contains("max_connections in "),
                "{t}"
            )
        }
        other => panic!("a seventh connection: {other:?}"),
    }
    match call(&r1, &PrivRequest::ListEvents) {
        Some(PrivReply::Events(v)) => assert!(v.iter().any(|e| e == "sched:sched_switch")),
        other => panic!("list: {other:?}"),
    }
    drop((r1, r2, third));

    // A flood of 300 more from the member: all refused, no thread and little memory
    // more, and root is still served.
    let flood = hold(&accounts.member, &p, 300);
    assert!(
        flood.answers.iter().all(|a| !a.contains("Hello")),
        "{:?}",
        flood.answers.iter().find(|a| a.contains("Hello"))
    );
    assert!(
        thread_count(p.pid) <= idle_threads + 6,
        "{} threads",
        thread_count(p.pid)
    );
    let grown = rss_kb(p.pid).saturating_sub(idle_rss);
    assert!(grown < 16 * 1024, "privd's memory grew by {grown} kB");
    let r = greeted(&p);
    drop(r);
    flood.release();

    // Once the member lets go, its connections and their threads are gone.
    holder.release();
    eventually("privd's threads back to idle", || {
        thread_count(p.pid) == idle_threads
    });
    let served: Vec<OwnedFd> = (0..4).map(|_| greeted(&p)).collect();
    drop(served);
    assert!(
        p.log().contains("refused a connection: uid "),
        "{}",
        p.log()
    );
}

#[test]
fn a_connection_that_does_not_say_hello_in_time_is_closed() {
    let Some((_accounts, p)) = setup("hello_timeout_ms = 300\n") else {
        return;
    };
    let base = stable_fd_count(p.pid);
    // Silent: an error saying why, then the hang-up, after the deadline.
    let silent = connect(&p);
    let t = Instant::now();
    match recv(&silent) {
        Some(PrivReply::Error(e)) => assert!(e.contains("no hello within 300ms"), "{e}"),
        other => panic!("a silent connection: {other:?}"),
    }
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(recv(&silent).is_none(), "still open");
    // Another request first: refused and closed at once.
    let rude = connect(&p);
    match call(&rude, &PrivRequest::ListEvents) {
        Some(PrivReply::Error(e)) => assert!(e.contains("say hello first"), "{e}"),
        other => panic!("a request before hello: {other:?}"),
    }
    assert!(recv(&rude).is_none(), "still open");
    drop((silent, rude));
    eventually("privd's descriptors back", || fd_count(p.pid) == base);
    drop(greeted(&p));
}

#[test]
fn an_idle_connection_is_closed_unless_it_holds_a_kernel_session() {
    let Some((_accounts, p)) = setup("idle_timeout_ms = 400\n") else {
        return;
    };
    let idle = greeted(&p);
    let holding = greeted(&p);
    let session = match call(
        &holding,
        &PrivRequest::CreateSession {
            buffer_kb: 64,
            clock: Source::Monotonic,
        },
    ) {
        Some(PrivReply::Session { session, .. }) => session,
        other => panic!("create: {other:?}"),
    };
    std::thread::sleep(Duration::from_millis(1200));
    match recv(&idle) {
        Some(PrivReply::Error(e)) => {
            assert!(e.contains("idle for 400ms with no kernel session"), "{e}")
        }
        other => panic!("an idle connection: {other:?}"),
    }
    assert!(recv(&idle).is_none(), "still open");
    // The one with a session is served after the same silence.
    match call(&holding, &PrivRequest::Start { session }) {
        Some(PrivReply::Done) => {}
        other => panic!("start after a silence: {other:?}"),
    }
    // Without its session it is idle like any other.
    match call(&holding, &PrivRequest::Destroy { session }) {
        Some(PrivReply::Done) => {}
        other => panic!("destroy: {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(1200));
    assert!(matches!(recv(&holding), Some(PrivReply::Error(_))));
    assert!(p.instances().is_empty(), "{:?}", p.instances());
}

#[test]
fn a_client_that_does_not_read_its_replies_is_dropped_and_others_are_served() {
    let Some((_accounts, p)) = setup("reply_timeout_ms = 500\n") else {
        return;
    };
    let base = stable_fd_count(p.pid);
    let idle_threads = stable_thread_count(p.pid);
    let stuck = greeted(&p);
    socket::set_timeout(stuck.as_fd(), Some(Duration::from_millis(200))).unwrap();
    // Requests until privd's replies fill the socket and it stops reading (hellos:
    // the quickest to answer).
    let mut sent = 0;
    let t = Instant::now();
    while t.elapsed() < WAIT {
        match socket::send(stuck.as_fd(), &PrivRequest::Hello { version: VERSION }, &[]) {
            Ok(()) => sent += 1,
            Err(_) => break,
        }
    }
    assert!(sent > 10, "only {sent} requests went out");
    // Meanwhile another client is served at once.
    let t = Instant::now();
    let other = greeted(&p);
    assert!(matches!(
        call(&other, &PrivRequest::ListEvents),
        Some(PrivReply::Events(_))
    ));
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    drop(other);
    // The stuck client's connection ends after the reply deadline though it never
    // closed its end (without a read from here: that would unblock privd).
    eventually("privd gives up on the stuck client", || {
        p.log()
            .contains("closed the connection: it did not read a reply within 500ms")
    });
    // Its replies read, the end of the stream.
    loop {
        match socket::recv::<PrivReply>(stuck.as_fd()) {
            Ok(_) => {}
            Err(WireError::Closed) => break,
            Err(e) => panic!("privd still holds the connection: {e}"),
        }
    }
    eventually("privd's thread and descriptor back", || {
        thread_count(p.pid) == idle_threads && fd_count(p.pid) == base
    });
}
