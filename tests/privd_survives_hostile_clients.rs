//! `lttng-privd`, the root helper, against hostile clients of its socket (the privd
//! counterpart of `the_session_daemon_survives_hostile_clients`): malformed and
//! oversized frames, descriptors nobody asked for, event names that are paths, NULs,
//! TSDL or shell syntax, CPUs out of range, sessions of another connection (or of
//! another user on the same connection), and clients that create an instance and then
//! send garbage.
//!
//! The test process itself is the client, as root (the one caller privd trusts most:
//! what is refused to root is refused to everyone). Each case runs on its own
//! connection and asserts what privd answered (an error or a denial; for malformed
//! frames, one error reply and a hang-up), that privd's open descriptors return to
//! their count before the case, that none of its tracefs instances stays behind, and
//! that privd still serves a well-behaved client (Hello and ListEvents on a new
//! connection). Needs root (a group, tracefs): under CI=true it fails rather than
//! skips without it.

mod support;

use std::collections::BTreeSet;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessage, MsgFlags, UnixCredentials};
use proto::clock::Source;
use proto::wire::privd::{PrivReply, PrivRequest};
use proto::wire::socket;
use proto::wire::{WireError, VERSION};

use support::tracing_group::*;
use support::{fd_count, fd_list, stable_fd_count};

/// How long the test waits for any answer: longer means privd hangs.
const WAIT: Duration = Duration::from_secs(10);
/// The per-user instance limit of the privds started here.
const MAX_INSTANCES: u32 = 3;

/// Opens a connection with the time-outs of these tests.
fn connect(p: &Privd) -> OwnedFd {
    let s = socket::connect(&p.socket).expect("connect to privd");
    socket::set_timeout(s.as_fd(), Some(WAIT)).unwrap();
    s
}

// ---- talking to privd ------------------------------------------------------------------

/// What the client saw.
#[derive(Debug)]
enum Seen {
    Reply(PrivReply, usize),
    Closed,
}

fn recv(s: &OwnedFd, what: &str) -> Seen {
    match socket::recv::<PrivReply>(s.as_fd()) {
        Ok(r) => Seen::Reply(r.msg, r.fds.len()),
        Err(WireError::Closed) => Seen::Closed,
        Err(WireError::Io(e)) if e.raw_os_error() == Some(libc::ECONNRESET) => Seen::Closed,
        Err(WireError::Timeout) => panic!("{what}: privd did not answer in {WAIT:?} (hung?)"),
        Err(e) => panic!("{what}: cannot read privd's answer: {e}"),
    }
}

fn call(s: &OwnedFd, req: &PrivRequest) -> Seen {
    socket::send(s.as_fd(), req, &[]).unwrap_or_else(|e| panic!("send {req:?}: {e}"));
    recv(s, &format!("{req:?}"))
}

fn send_raw(s: &OwnedFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) {
    socket::send_bytes(s.as_fd(), bytes, fds).unwrap_or_else(|e| panic!("send: {e}"));
}

fn hello(s: &OwnedFd) {
    match call(s, &PrivRequest::Hello { version: VERSION }) {
        Seen::Reply(PrivReply::Hello { version }, 0) if version == VERSION => {}
        other => panic!("hello: {other:?}"),
    }
}

/// A new connection, greeted.
fn greeted(p: &Privd) -> OwnedFd {
    let s = connect(p);
    hello(&s);
    s
}

/// Creates an instance on `s`: (session, cpus).
fn create(s: &OwnedFd) -> (u32, u32) {
    match call(
        s,
        &PrivRequest::CreateSession {
            buffer_kb: 64,
            clock: Source::Monotonic,
        },
    ) {
        Seen::Reply(PrivReply::Session { session, cpus }, 0) => (session, cpus),
        other => panic!("create: {other:?}"),
    }
}

/// The one reply is an error saying `bad request: ...` with `fragment`, then privd
/// hangs up.
fn assert_error_then_closed(s: &OwnedFd, case: &str, fragment: &str) {
    match recv(s, case) {
        Seen::Reply(PrivReply::Error(t), 0) => assert!(
            t.starts_with("bad request: ") && t.contains(fragment),
            "{case}: {t:?} lacks {fragment:?}"
        ),
        other => panic!("{case}: an error reply expected, got {other:?}"),
    }
    // A client that sends garbage is disconnected after the error.
    match recv(s, case) {
        Seen::Closed => {}
        other => panic!("{case}: privd did not hang up: {other:?}"),
    }
}

fn assert_error(seen: Seen, case: &str, fragment: &str) {
    match seen {
        Seen::Reply(PrivReply::Error(t), 0) if t.contains(fragment) => {}
        other => panic!("{case}: an error with {fragment:?} expected, got {other:?}"),
    }
}

fn assert_denied(seen: Seen, case: &str, fragment: &str) {
    match seen {
        Seen::Reply(PrivReply::Denied(t), 0) if t.contains(fragment) => {}
        other => panic!("{case}: a denial with {fragment:?} expected, got {other:?}"),
    }
}

// ---- privd's health --------------------------------------------------------------------

/// Waits (briefly) for privd's descriptors to come back to `baseline`.
fn assert_fds_back(p: &Privd, baseline: usize, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = fd_count(p.pid);
        if n == baseline {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "after {after}: privd holds {n} descriptors, {baseline} before:\n{:#?}",
                fd_list(p.pid)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (briefly) for this privd to have no instance left.
fn assert_no_instances(p: &Privd, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !p.instances().is_empty() {
        assert!(
            Instant::now() < deadline,
            "after {after}: instances left behind: {:?}",
            p.instances()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// privd is alive, the same process, and serves a well-behaved client.
fn assert_serves(p: &Privd, after: &str) {
    assert!(
        Path::new(&format!("/proc/{}", p.pid)).exists(),
        "after {after}: privd died"
    );
    let s = connect(p);
    hello(&s);
    match call(&s, &PrivRequest::ListEvents) {
        Seen::Reply(PrivReply::Events(v), 0) => assert!(
            v.iter().any(|e| e == "sched:sched_switch")
                && v.iter().all(|e| e.starts_with("sched:")
                    || e.starts_with("raw_syscalls:")
                    || e == "task:task_newtask"),
            "after {after}: {v:?}"
        ),
        other => panic!("after {after}: ListEvents: {other:?}"),
    }
    assert_eq!(
        socket::peer_cred(s.as_fd()).unwrap().pid,
        p.pid,
        "after {after}: another privd answers"
    );
}

/// Everything a case must leave as it was.
fn assert_recovered(p: &Privd, baseline: usize, after: &str) {
    assert_serves(p, after);
    assert_no_instances(p, after);
    assert_fds_back(p, baseline, after);
}

/// A privd, a group for it, and privd's descriptor count at rest.
fn setup() -> Option<(Accounts, Privd, usize)> {
    if !root_or_skip() {
        return None;
    }
    assert!(
        Path::new(TRACEFS).join("instances").is_dir(),
        "tracefs is not mounted at {TRACEFS}"
    );
    let acc = Accounts::new();
    let p = Privd::start_with(
        &acc.group,
        &format!("max_instances_per_user = {MAX_INSTANCES}\nmax_buffer_kb = 256\n"),
    );
    assert_serves(&p, "start");
    let baseline = stable_fd_count(p.pid);
    Some((acc, p, baseline))
}

// ---- hostile bytes ---------------------------------------------------------------------

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// 300 bytes from a fixed xorshift, led by a variant index no request has.
fn random_bytes() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut b = vec![0x63];
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(x as u8);
    }
    b
}

/// One packet of `len` bytes, past `socket::send_bytes`'s own limit.
fn send_oversized(s: &OwnedFd, len: usize) {
    let mut big = vec![1u8]; // ListEvents, then far too much.
    big.resize(len, 0);
    let d = UnixDatagram::from(s.try_clone().unwrap());
    assert_eq!(d.send(&big).expect("send oversized"), len);
}

/// Malformed frames, each after a proper hello on its own connection: one error
/// reply, a hang-up, and nothing changed.
#[test]
fn malformed_frames_get_an_error_reply_and_a_hang_up() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    // Variant indices: Hello 0, ListEvents 1, CreateSession 2, EnableEvents 3, Start 4,
    // Stop 5, Stream 6, Format 7, Destroy 8.
    let huge_string = {
        // Format { session: 1, event: Some(<2^60 bytes>) }
        let mut b = vec![7, 1, 1];
        b.extend(varint(1 << 60));
        b.extend(b"abc");
        b
    };
    let huge_string_in_vec = {
        // EnableEvents { session: 1, events: [<2^60 bytes>] }
        let mut b = vec![3, 1, 1];
        b.extend(varint(1 << 60));
        b.extend(b"sched:sched_switch");
        b
    };
    let huge_vec = {
        // EnableEvents { session: 1, events: <2^60 strings> }
        let mut b = vec![3, 1];
        b.extend(varint(1 << 60));
        b.extend([1, b'a', 1, b'b']);
        b
    };
    let cases: [(&str, Vec<u8>, &str); 7] = [
        ("random bytes", random_bytes(), "malformed message"),
        ("a string of length 2^60", huge_string, "malformed message"),
        (
            "a string of length 2^60 in a vec",
            huge_string_in_vec,
            "malformed message",
        ),
        ("a vec of length 2^60", huge_vec, "malformed message"),
        (
            "a varint of 11 bytes",
            vec![
                4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            "malformed message",
        ),
        ("an unknown variant", vec![9], "malformed message"),
        (
            "a ListEvents with a trailing byte",
            vec![1, 0],
            "1 bytes after its end",
        ),
    ];
    for (case, bytes, fragment) in cases {
        let s = greeted(&p);
        send_raw(&s, &bytes, &[]);
        assert_error_then_closed(&s, case, fragment);
        drop(s);
        assert_recovered(&p, baseline, case);
    }

    // Larger than MAX_MESSAGE (64 KiB): privd sees MSG_TRUNC.
    for len in [socket::MAX_MESSAGE + 36 * 1024, 2 * socket::MAX_MESSAGE] {
        let case = format!("a frame of {len} bytes");
        let s = greeted(&p);
        send_oversized(&s, len);
        assert_error_then_closed(&s, &case, "larger than 65536 bytes");
        drop(s);
        assert_recovered(&p, baseline, &case);
    }

    // Exactly MAX_MESSAGE bytes is not oversized, but still not a request.
    let s = greeted(&p);
    let mut max = vec![1u8];
    max.resize(socket::MAX_MESSAGE, 0);
    send_raw(&s, &max, &[]);
    assert_error_then_closed(&s, "a 64 KiB frame", "bytes after its end");
    drop(s);
    assert_recovered(&p, baseline, "a 64 KiB frame");

    // The very first message: a hello with a trailing byte (Hello { version: V } is
    // [0, V]).
    let s = connect(&p);
    send_raw(&s, &[0, VERSION as u8, 0xaa], &[]);
    assert_error_then_closed(&s, "a hello with a trailing byte", "1 bytes after its end");
    drop(s);
    assert_recovered(&p, baseline, "a hello with a trailing byte");

    // Other protocol versions are refused with an error; the connection goes on.
    let s = connect(&p);
    assert_error(
        call(&s, &PrivRequest::Hello { version: 999 }),
        "hello 999",
        "speaks protocol version 999 and lttng-privd",
    );
    hello(&s);
    drop(s);
    assert_recovered(&p, baseline, "hello 999");

    // An empty frame is not a close, but not a request either.
    let s = greeted(&p);
    send_raw(&s, &[], &[]);
    let t0 = Instant::now();
    match recv(&s, "an empty frame") {
        Seen::Reply(PrivReply::Error(t), 0) => {
            assert!(t.starts_with("bad request: "), "{t}");
            assert!(matches!(recv(&s, "an empty frame"), Seen::Closed));
        }
        // privd took it for the end of the connection.
        Seen::Closed => {}
        other => panic!("an empty frame: {other:?}"),
    }
    assert!(t0.elapsed() < WAIT);
    drop(s);
    assert_recovered(&p, baseline, "an empty frame");
}

// ---- descriptors -------------------------------------------------------------------------

fn dev_null() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

/// `ListEvents` (which carries no descriptor) with `fds` attached: an error and a
/// hang-up, and every descriptor closed in privd.
fn list_with_fds(p: &Privd, fds: &[BorrowedFd<'_>], case: &str) {
    let s = greeted(p);
    send_raw(&s, &[1], fds);
    assert_error_then_closed(
        &s,
        case,
        &format!("expects 0 file descriptors, {} came with it", fds.len()),
    );
}

#[test]
fn descriptors_nobody_asked_for_are_refused_and_closed() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    for n in [1, 3, 4, 5] {
        let fds: Vec<OwnedFd> = (0..n).map(|_| dev_null()).collect();
        let b: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
        let case = format!("ListEvents with {n} descriptors");
        list_with_fds(&p, &b, &case);
        assert_recovered(&p, baseline, &case);
    }

    // SCM_MAX_FD, the most the kernel passes with one message: all arrive, all close.
    let fds: Vec<OwnedFd> = (0..253).map(|_| dev_null()).collect();
    let b: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    list_with_fds(&p, &b, "253 descriptors");
    assert_recovered(&p, baseline, "253 descriptors");
    // One more is refused by the kernel itself, privd never sees it.
    let fds: Vec<OwnedFd> = (0..254).map(|_| dev_null()).collect();
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let s = greeted(&p);
    let r = nix::sys::socket::sendmsg::<()>(
        s.as_raw_fd(),
        &[IoSlice::new(&[1])],
        &[ControlMessage::ScmRights(&raw)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    );
    assert_eq!(r, Err(nix::errno::Errno::EINVAL), "254 descriptors");
    drop(s);
    drop(fds);
    assert_recovered(&p, baseline, "254 descriptors");

    // One descriptor of each kind, each on its own connection, on messages that carry
    // none.
    let (sock_a, _sock_b) = socket::pair().unwrap();
    let (pipe_r, pipe_w) = nix::unistd::pipe().unwrap();
    let efd = nix::sys::eventfd::EventFd::from_value_and_flags(
        0,
        nix::sys::eventfd::EfdFlags::EFD_CLOEXEC,
    )
    .unwrap();
    let memfd =
        nix::sys::memfd::memfd_create(c"hostile", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
            .unwrap();
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open("/")
        .unwrap();
    let tracefs_dir = std::fs::File::open(TRACEFS).unwrap();
    let other_privd_conn = connect(&p);
    let kinds: [(&str, BorrowedFd<'_>); 8] = [
        ("socket", sock_a.as_fd()),
        ("pipe (read end)", pipe_r.as_fd()),
        ("pipe (write end)", pipe_w.as_fd()),
        ("eventfd", efd.as_fd()),
        ("memfd", memfd.as_fd()),
        ("O_PATH directory", dir.as_fd()),
        ("tracefs directory", tracefs_dir.as_fd()),
        ("another connection to privd", other_privd_conn.as_fd()),
    ];
    for (kind, fd) in kinds {
        let case = format!("a {kind} on ListEvents");
        list_with_fds(&p, &[fd], &case);
        assert_serves(&p, &case);
        assert_no_instances(&p, &case);
        // The other privd connection held above: baseline + 1.
        assert_fds_back(&p, baseline + 1, &case);
    }
    // The same kinds on a hello.
    for (kind, fd) in kinds {
        let case = format!("a {kind} on Hello");
        let s = connect(&p);
        send_raw(&s, &[0, VERSION as u8], &[fd]);
        assert_error_then_closed(&s, &case, "expects 0 file descriptors, 1 came with it");
    }
    // The client's own connection, sent over itself (a reference cycle in flight).
    let s = greeted(&p);
    send_raw(&s, &[1], &[s.as_fd()]);
    assert_error_then_closed(
        &s,
        "a connection sent over itself",
        "expects 0 file descriptors, 1 came with it",
    );
    drop(s);
    // The descriptors of the other privd connection held above: baseline + 1.
    assert_fds_back(&p, baseline + 1, "descriptors of each kind");
    drop(other_privd_conn);
    assert_recovered(&p, baseline, "descriptors of each kind");
}

// ---- names --------------------------------------------------------------------------------

/// The names in `dir` (none if it cannot be read).
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The listings of the tracefs directories a path built from an event name could
/// reach (the instances directory restricted to this privd's).
fn tracefs_listings(p: &Privd, instance: &Path) -> Vec<(PathBuf, BTreeSet<String>)> {
    let root = Path::new(TRACEFS);
    let dirs = vec![
        root.to_path_buf(),
        root.join("events"),
        root.join("events/sched"),
        root.join("events/sched/sched_switch"),
        root.join("per_cpu"),
        instance.to_path_buf(),
        instance.join("events"),
        instance.join("events/sched"),
        instance.join("events/sched/sched_switch"),
        instance.join("per_cpu"),
        instance.join("per_cpu/cpu0"),
    ];
    let mut out: Vec<(PathBuf, BTreeSet<String>)> = dirs
        .into_iter()
        .map(|d| (d.clone(), names_in(&d)))
        .collect();
    out.push((root.join("instances"), p.instances().into_iter().collect()));
    out
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn event_names_that_are_paths_or_syntax_are_denied_and_touch_nothing() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    let s = greeted(&p);
    let (session, _) = create(&s);
    let instances = p.instances();
    assert_eq!(instances.len(), 1, "{instances:?}");
    let instance = Path::new(TRACEFS).join("instances").join(&instances[0]);
    let before = tracefs_listings(&p, &instance);
    let enable_file = instance.join("events/sched/sched_switch/enable");
    let global_enable = Path::new(TRACEFS).join("events/sched/sched_switch/enable");
    let global_before = read_trim(&global_enable);
    assert_eq!(read_trim(&enable_file), "0");

    let pwned = format!("privd-pwned-{}", std::process::id());
    let bad: Vec<String> = [
        // paths
        "../../../../tmp/x:y",
        "sched:../../../../../tmp/x",
        "sched:sched_switch/../../../../x",
        "sched:sched_switch/enable",
        "sched/sched_switch",
        "sched:/sched_switch",
        "/sys/kernel/tracing/events/sched/sched_switch",
        "..:..",
        "sched:..",
        ".:.",
        "sched:.",
        "../sched:sched_switch",
        "sched:sched_switch/..",
        // NUL and other control characters
        "sched:sched_switch\0",
        "sched\0:sched_switch",
        "sched:sched\0/../../x",
        "\0",
        "sched:sched_switch\n",
        "sched:sched_switch\r\nlttng-privd: uid 0 (root) pid 1: forged -> ok",
        "sched:\u{1b}[31mred",
        " sched:sched_switch",
        "sched:sched_switch ",
        "sched:sched_switch\t",
        // TSDL
        "sched:x\"; } event { name = \"y\"",
        "sched:sched_switch; } event { name = y; };",
        "sched:x}",
        // shell
        "sched:x;touch /tmp/PWNED",
        "sched:$(touch /tmp/PWNED)",
        "sched:`touch /tmp/PWNED`",
        "sched:x|touch PWNED",
        "sched:x&&touch PWNED",
        "sched:x>PWNED",
        "sched:$HOME",
        "sched:sched_*",
        "sched:*",
        "*:*",
        "sched:sched_switch?",
        "sched:sched_switch[0]",
        "sched:{a,b}",
        "sched:~root",
        // shape
        "",
        ":",
        "sched",
        "sched:",
        ":sched_switch",
        "sched:sched_switch:x",
        "sched::sched_switch",
        "sched:schéd_switch",
        "sched:sched_switch\u{200b}",
        // allowlist
        "irq:irq_handler_entry",
        "ftrace:function",
        "syscalls:sys_enter_openat",
    ]
    .iter()
    .map(|n| n.replace("PWNED", &pwned))
    .chain([
        format!("sched:{}", "a".repeat(200)),
        format!("sched:{}", "a".repeat(60_000)),
    ])
    .collect();
    for name in &bad {
        let case = format!("EnableEvents [{name:?}]");
        assert_denied(
            call(
                &s,
                &PrivRequest::EnableEvents {
                    session,
                    events: vec![name.clone()],
                },
            ),
            &case,
            "is not allowed here",
        );
    }
    // All or nothing: an allowed event next to a bad one is not enabled either.
    for name in &bad[..3] {
        let case = format!("EnableEvents [sched:sched_switch, {name:?}]");
        assert_denied(
            call(
                &s,
                &PrivRequest::EnableEvents {
                    session,
                    events: vec!["sched:sched_switch".into(), name.clone()],
                },
            ),
            &case,
            "is not allowed here",
        );
        assert_eq!(read_trim(&enable_file), "0", "{case} enabled sched_switch");
    }
    // The bad names through a session that is not there: denied just the same.
    assert_denied(
        call(
            &s,
            &PrivRequest::EnableEvents {
                session: session + 1000,
                events: vec!["../x:y".into()],
            },
        ),
        "a bad name in a session that does not exist",
        "is not allowed here",
    );
    // Well-formed and allowlisted but not in the kernel: an error, nothing created.
    assert_error(
        call(
            &s,
            &PrivRequest::EnableEvents {
                session,
                events: vec!["sched:no_such_event_here".into()],
            },
        ),
        "an allowlisted event the kernel lacks",
        "the kernel has no event 'sched:no_such_event_here'",
    );
    // Too many events in one request.
    assert_error(
        call(
            &s,
            &PrivRequest::EnableEvents {
                session,
                events: vec!["sched:sched_switch".into(); 1025],
            },
        ),
        "1025 events",
        "at most 1024 events",
    );
    // Format texts are only those of enabled events: a path gets nothing read.
    for name in [
        "../../../../../../etc/passwd",
        "sched:sched_switch",
        "sched:../../../../../../etc/shadow",
        "sched:sched_switch\0",
    ] {
        let case = format!("Format {name:?}");
        match call(
            &s,
            &PrivRequest::Format {
                session,
                event: Some(name.into()),
            },
        ) {
            Seen::Reply(PrivReply::Error(t), 0) => {
                assert!(t.contains("has no event"), "{case}: {t}");
                assert!(!t.contains("root:"), "{case}: {t}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }

    // The connection still talks: the good event is enabled, then listed and read.
    assert!(matches!(
        call(
            &s,
            &PrivRequest::EnableEvents {
                session,
                events: vec!["sched:sched_switch".into()],
            },
        ),
        Seen::Reply(PrivReply::Done, 0)
    ));
    assert_eq!(read_trim(&enable_file), "1");
    match call(
        &s,
        &PrivRequest::Format {
            session,
            event: Some("sched:sched_switch".into()),
        },
    ) {
        Seen::Reply(PrivReply::Text(t), 0) => assert!(t.contains("name: sched_switch"), "{t}"),
        other => panic!("format sched:sched_switch: {other:?}"),
    }

    // Nothing appeared or went in tracefs, and the global (non-instance) event was not
    // touched.
    let after = tracefs_listings(&p, &instance);
    for ((dir, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(
            b,
            a,
            "{} changed: new {:?}, gone {:?}",
            dir.display(),
            a.difference(b).collect::<Vec<_>>(),
            b.difference(a).collect::<Vec<_>>()
        );
    }
    for (_, names) in &after {
        for n in names {
            assert!(
                !n.contains("PWNED") && !n.contains(&pwned) && !n.contains("no_such_event"),
                "{n}"
            );
        }
    }
    assert_eq!(read_trim(&global_enable), global_before);
    // No shell ran a name.
    for dir in [
        PathBuf::from("/tmp"),
        PathBuf::from(format!("/proc/{}/cwd", p.pid)),
        std::env::current_dir().unwrap(),
        PathBuf::from("/"),
    ] {
        assert!(
            !dir.join(&pwned).exists(),
            "{} exists",
            dir.join(&pwned).display()
        );
    }
    drop(s);
    assert_recovered(&p, baseline, "bad event names");
}

// ---- numbers: cpus, sessions ---------------------------------------------------------------

/// Sends `req` with the credentials `uid`/`gid` (root may claim any: privd then judges
/// the message as `uid`'s, as if a socket had been handed to that user).
fn call_as(s: &OwnedFd, req_bytes: &[u8], uid: u32, gid: u32, what: &str) -> Seen {
    let cred = UnixCredentials::from(libc::ucred {
        pid: std::process::id() as i32,
        uid,
        gid,
    });
    nix::sys::socket::sendmsg::<()>(
        s.as_raw_fd(),
        &[IoSlice::new(req_bytes)],
        &[ControlMessage::ScmCredentials(&cred)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .unwrap_or_else(|e| panic!("{what}: sendmsg with credentials: {e}"));
    recv(s, what)
}

#[test]
fn out_of_range_cpus_and_sessions_of_others_are_refused() {
    let Some((acc, p, baseline)) = setup() else {
        return;
    };
    let a = greeted(&p);
    let (session, cpus) = create(&a);
    assert!(cpus > 0);
    let instance = Path::new(TRACEFS).join("instances").join(&p.instances()[0]);
    let tracing_on = instance.join("tracing_on");

    // CPUs out of range: an error, no descriptor, the connection goes on.
    for cpu in [cpus, cpus + 1, 1 << 16, 1 << 31, u32::MAX] {
        assert_error(
            call(&a, &PrivRequest::Stream { session, cpu }),
            &format!("Stream cpu {cpu}"),
            &format!("cpu {cpu} does not exist"),
        );
    }
    match call(&a, &PrivRequest::Stream { session, cpu: 0 }) {
        Seen::Reply(PrivReply::Stream { cpu: 0 }, 1) => {}
        other => panic!("Stream cpu 0: {other:?}"),
    }
    assert_fds_back(&p, baseline + 1, "Stream cpu 0");

    // System call filters: numbers only, bounded; nothing else reaches the filter file.
    let filter = instance.join("events/raw_syscalls/sys_enter/filter");
    let before = read_trim(&filter);
    for (ids, case) in [
        (vec![1024], "a number past the table"),
        (vec![u32::MAX], "u32::MAX"),
        ((0..65).collect::<Vec<u32>>(), "65 numbers"),
    ] {
        assert_error(
            call(&a, &PrivRequest::SyscallFilter { session, ids }),
            case,
            "at most 64 system call numbers below 1024",
        );
        assert_eq!(read_trim(&filter), before, "{case}: the filter changed");
    }
    assert!(matches!(
        call(
            &a,
            &PrivRequest::SyscallFilter {
                session,
                ids: vec![0, 257]
            }
        ),
        Seen::Reply(PrivReply::Done, 0)
    ));
    assert!(
        read_trim(&filter).contains("id == 0 || id == 257"),
        "{}",
        read_trim(&filter)
    );

    // Session numbers this connection never had: an error each.
    for n in [0, session + 1, 1 << 31, u32::MAX] {
        for req in [
            PrivRequest::Start { session: n },
            PrivRequest::Stop { session: n },
            PrivRequest::Stream { session: n, cpu: 0 },
            PrivRequest::Format {
                session: n,
                event: None,
            },
            PrivRequest::Destroy { session: n },
        ] {
            let case = format!("{req:?}");
            assert_error(
                call(&a, &req),
                &case,
                &format!("no kernel session {n} on this connection"),
            );
        }
    }

    // Another connection names A's session: its numbers are per connection, so it
    // has no such session, and A's instance is untouched.
    let b = greeted(&p);
    for req in [
        PrivRequest::Start { session },
        PrivRequest::Stop { session },
        PrivRequest::Stream { session, cpu: 0 },
        PrivRequest::Format {
            session,
            event: None,
        },
        PrivRequest::EnableEvents {
            session,
            events: vec!["sched:sched_switch".into()],
        },
        PrivRequest::SyscallFilter {
            session,
            ids: vec![1],
        },
        PrivRequest::Destroy { session },
    ] {
        let case = format!("{req:?} from another connection");
        assert_error(
            call(&b, &req),
            &case,
            &format!("no kernel session {session} on this connection"),
        );
    }
    assert_eq!(
        read_trim(&tracing_on),
        "0",
        "started from another connection"
    );
    assert_eq!(
        read_trim(&instance.join("events/sched/sched_switch/enable")),
        "0",
        "enabled from another connection"
    );
    assert_eq!(p.instances().len(), 1, "destroyed from another connection");
    drop(b);

    // A member of the group sending on A's connection (a handed-over socket): root's
    // session is not theirs.
    let (uid, gid) = (id("-u", &acc.member), id("-g", &acc.member));
    let s = varint(session.into());
    let start: Vec<u8> = [&[4u8][..], &s].concat();
    let stream: Vec<u8> = [&[6u8][..], &s, &[0]].concat();
    let format: Vec<u8> = [&[7u8][..], &s, &[0]].concat();
    let destroy: Vec<u8> = [&[8u8][..], &s].concat();
    for (what, bytes) in [
        ("Start", &start),
        ("Stream", &stream),
        ("Format", &format),
        ("Destroy", &destroy),
    ] {
        let case = format!("{what} of root's session by uid {uid}");
        assert_denied(
            call_as(&a, bytes, uid, gid, &case),
            &case,
            &format!("session {session} is not yours"),
        );
    }
    assert_eq!(read_trim(&tracing_on), "0", "started by another user");
    assert_eq!(p.instances().len(), 1, "destroyed by another user");
    // The member's own session on that connection is theirs, and root's stays root's.
    let create_bytes = [2u8, 64, 1];
    let member_session = match call_as(&a, &create_bytes, uid, gid, "create as member") {
        Seen::Reply(PrivReply::Session { session, .. }, 0) => session,
        other => panic!("create as member: {other:?}"),
    };
    assert_eq!(
        p.instances()
            .iter()
            .filter(|n| n.starts_with(&format!("lttng-rs-u{uid}-")))
            .count(),
        1,
        "{:?}",
        p.instances()
    );
    // Root may act on anyone's instance on its connection (privd trusts root).
    assert!(matches!(
        call(
            &a,
            &PrivRequest::Destroy {
                session: member_session
            }
        ),
        Seen::Reply(PrivReply::Done, 0)
    ));
    assert!(matches!(
        call(&a, &PrivRequest::Destroy { session }),
        Seen::Reply(PrivReply::Done, 0)
    ));
    assert!(p.instances().is_empty(), "{:?}", p.instances());
    assert_error(
        call(&a, &PrivRequest::Destroy { session }),
        "a second Destroy",
        "no kernel session",
    );
    drop(a);
    assert_recovered(&p, baseline, "cpus and sessions");

    // The per-user counts came back: root may create its full allowance again.
    let c = greeted(&p);
    for _ in 0..MAX_INSTANCES {
        create(&c);
    }
    assert_denied(
        call(
            &c,
            &PrivRequest::CreateSession {
                buffer_kb: 64,
                clock: Source::Monotonic,
            },
        ),
        "one instance too many",
        &format!("at most {MAX_INSTANCES}"),
    );
    drop(c);
    assert_recovered(&p, baseline, "the full allowance");
}

// ---- garbage after an instance -----------------------------------------------------------

#[test]
fn a_client_that_creates_instances_then_sends_garbage_loses_them() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    let garbage: [(&str, &str); 4] = [
        ("random bytes", "malformed message"),
        ("an oversized frame", "larger than 65536 bytes"),
        ("253 descriptors", "253 came with it"),
        ("a hello with a trailing byte", "1 bytes after its end"),
    ];
    for (case, fragment) in garbage {
        let s = greeted(&p);
        let (session, _) = create(&s);
        create(&s);
        assert!(matches!(
            call(
                &s,
                &PrivRequest::EnableEvents {
                    session,
                    events: vec!["sched:sched_switch".into()],
                },
            ),
            Seen::Reply(PrivReply::Done, 0)
        ));
        assert!(matches!(
            call(&s, &PrivRequest::Start { session }),
            Seen::Reply(PrivReply::Done, 0)
        ));
        assert_eq!(p.instances().len(), 2, "{case}: {:?}", p.instances());
        match case {
            "random bytes" => send_raw(&s, &random_bytes(), &[]),
            "an oversized frame" => send_oversized(&s, socket::MAX_MESSAGE + 4096),
            "253 descriptors" => {
                let fds: Vec<OwnedFd> = (0..253).map(|_| dev_null()).collect();
                let b: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
                send_raw(&s, &[1], &b);
            }
            _ => send_raw(&s, &[0, VERSION as u8, 0xaa], &[]),
        }
        assert_error_then_closed(&s, case, fragment);
        // privd removes the instances when the connection ends, although the client
        // still holds the socket.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !p.instances().is_empty() {
            assert!(
                Instant::now() < deadline,
                "{case}: instances left behind while the client holds its socket: {:?}",
                p.instances()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(s);
        assert_recovered(&p, baseline, case);
    }
    // A client that connects and never says anything blocks nobody.
    let silent = connect(&p);
    assert_serves(&p, "a silent client");
    drop(silent);
    // The per-user counts came back.
    let c = greeted(&p);
    for _ in 0..MAX_INSTANCES {
        create(&c);
    }
    drop(c);
    assert_recovered(&p, baseline, "garbage after instances");
}

// ---- known limits ---------------------------------------------------------------------------

/// `MAX_MESSAGE` is the largest message: one byte more is oversized, and says so.
#[test]
fn a_frame_one_byte_over_64_kib_is_refused_as_oversized() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    let s = greeted(&p);
    send_oversized(&s, socket::MAX_MESSAGE + 1);
    assert_error_then_closed(&s, "a frame of 65537 bytes", "larger than 65536 bytes");
    drop(s);
    assert_recovered(&p, baseline, "a frame of 65537 bytes");
}

/// tracefs refuses to remove an instance while a `trace_pipe_raw` of it is open
/// (EBUSY). A client that still holds its streams when it destroys its session or
/// disconnects (a session daemon that crashed while its consumer reads) must not leave
/// the instance behind for good once it lets go of them.
#[test]
fn an_instance_whose_stream_a_client_still_holds_goes_when_it_lets_go() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    for how in ["Destroy", "disconnect", "garbage"] {
        let s = greeted(&p);
        let (session, _) = create(&s);
        assert!(matches!(
            call(&s, &PrivRequest::Start { session }),
            Seen::Reply(PrivReply::Done, 0)
        ));
        socket::send(s.as_fd(), &PrivRequest::Stream { session, cpu: 0 }, &[]).unwrap();
        let held = match socket::recv::<PrivReply>(s.as_fd()) {
            Ok(r) if r.fds.len() == 1 => r.fds.into_iter().next(),
            other => panic!("{how}: stream: {other:?}"),
        };
        match how {
            "Destroy" => assert!(matches!(
                call(&s, &PrivRequest::Destroy { session }),
                Seen::Reply(PrivReply::Done, 0)
            )),
            "disconnect" => {}
            _ => {
                send_raw(&s, &random_bytes(), &[]);
                assert_error_then_closed(&s, how, "malformed message");
            }
        }
        drop(s);
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !p.instances().is_empty() {
            assert!(
                Instant::now() < deadline,
                "{how} with a stream held, then the stream closed: instance left behind for good: {:?}",
                p.instances()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_recovered(&p, baseline, how);
    }
}

/// privd's log (who asked for what) is read by administrators: an event name a client
/// sends must not start a line of its own there.
#[test]
fn event_names_cannot_forge_lines_in_privds_log() {
    let Some((_acc, p, baseline)) = setup() else {
        return;
    };
    let s = greeted(&p);
    let (session, _) = create(&s);
    let forged = "lttng-privd: uid 0 (root) pid 1: forged";
    for name in [
        format!("sched:x\n{forged} newline"),
        format!("sched:x\r\n{forged} crlf"),
    ] {
        assert_denied(
            call(
                &s,
                &PrivRequest::EnableEvents {
                    session,
                    events: vec![name],
                },
            ),
            "a name with a newline",
            "is not allowed here",
        );
    }
    drop(s);
    assert_recovered(&p, baseline, "names with newlines");
    let log = p.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with(forged)).collect();
    assert!(lines.is_empty(), "forged log lines: {lines:#?}\n{log}");
}
