//! A hostile client of the session daemon, for `the_session_daemon_survives_hostile_clients`.
//!
//! `wire_probe SCENARIO` connects to the user's `client.sock` or `app.sock` (the run
//! directory comes from `LTTNG_HOME`, as for every program of the tracer), performs one
//! named hostile scenario and prints what it observed, one fact per line:
//!
//! - `reply: <Reply, Debug-formatted>` a control reply;
//! - `daemon: <DaemonMessage, Debug-formatted>` a message on the app socket;
//! - `closed` the daemon closed the connection;
//! - `sent: <what>` a scenario step that went out;
//! - `ok` the scenario ran to its end.
//!
//! It exits 1 (after `unexpected: ...`) when something happens that the scenario did
//! not foresee (no answer at all, a send refused, a daemon message it cannot parse).
#![allow(unsafe_code)]

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::event::{Base, EventDesc, FieldDesc, FieldType, IntType, LogLevel};
use proto::rundir;
use proto::wire::app::{AppMessage, DaemonMessage};
use proto::wire::control::{CreateSession, EventRule, Reply, Request};
use proto::wire::socket;
use proto::wire::{WireError, VERSION};

/// How long the probe waits for any answer.
const WAIT: Duration = Duration::from_secs(10);

type Res = Result<(), String>;

fn main() -> ExitCode {
    let Some(scenario) = std::env::args().nth(1) else {
        eprintln!("usage: wire_probe SCENARIO");
        return ExitCode::from(2);
    };
    let r = match scenario.as_str() {
        "hello" => hello_only(),
        "random-bytes" => malformed(&random_bytes()),
        "oversized" => oversized(),
        "huge-string-length" => {
            // DestroySession { session }: variant 2, then a string length of 2^60.
            let mut b = vec![2];
            b.extend(varint(1 << 60));
            b.extend(b"abc");
            malformed(&b)
        }
        "huge-vec-length" => {
            // AddContext { session: "s", channel: None, contexts }: variant 8, then a
            // vec length of 2^60.
            let mut b = vec![8, 1, b's', 0];
            b.extend(varint(1 << 60));
            b.extend([0, 1, 2]);
            malformed(&b)
        }
        "varint-overflow" => malformed(&[
            0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ]),
        "unknown-variant" => malformed(&[0x7f]),
        "trailing-bytes" => trailing_bytes(),
        "before-hello" => before_hello(),
        "three-fds" => with_fds(3),
        "many-fds" => with_fds(253),
        "wrong-fd-types" => wrong_fd_types(),
        "bad-names" => bad_names(),
        "other-uid-client" => other_uid_client(),
        "other-uid-app" => app_refused(app_hello(1), &[]),
        "app-huge-count" => app_refused(app_hello(1_000_000_000), &[]),
        "app-silent" => app_stall(None),
        "app-stall" => app_stall(Some(app_hello(2))),
        "app-inject" => app_inject(),
        "app-more" => app_more(),
        "more-unregistered" => more_unregistered(),
        "hold-clients" => hold_clients(std::env::args().nth(2)),
        "silent-client" => silent_client(),
        "newer-hello" => newer_hello(),
        "fake-daemon" => fake_daemon(std::env::args().nth(2)),
        other => Err(format!("no scenario named {other}")),
    };
    match r {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("unexpected: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sock_path(name: &str) -> Result<PathBuf, String> {
    Ok(rundir::resolve().map_err(|e| e.to_string())?.join(name))
}

fn connect(name: &str) -> Result<OwnedFd, String> {
    let s = socket::connect(&sock_path(name)?).map_err(|e| format!("connect {name}: {e}"))?;
    socket::set_timeout(s.as_fd(), Some(WAIT)).map_err(|e| e.to_string())?;
    Ok(s)
}

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

/// Receives one control reply and prints it; `false` if the daemon closed.
fn read_reply(s: &OwnedFd) -> Result<bool, String> {
    match socket::recv::<Reply>(s.as_fd()) {
        Ok(r) => {
            println!("reply: {:?}", r.msg);
            Ok(true)
        }
        Err(WireError::Closed) => {
            println!("closed");
            Ok(false)
        }
        Err(WireError::Io(e)) if e.raw_os_error() == Some(libc::ECONNRESET) => {
            println!("closed");
            Ok(false)
        }
        Err(e) => Err(format!("no reply: {e}")),
    }
}

fn request(s: &OwnedFd, req: &Request) -> Result<bool, String> {
    if let Err(e) = socket::send(s.as_fd(), req, &[]) {
        return match e {
            WireError::Closed => {
                println!("closed");
                Ok(false)
            }
            e => Err(format!("send: {e}")),
        };
    }
    read_reply(s)
}

fn greeted() -> Result<OwnedFd, String> {
    let s = connect(rundir::CLIENT_SOCKET)?;
    request(&s, &Request::Hello { version: VERSION })?;
    Ok(s)
}

/// After a hostile message: does the connection still talk?
fn follow_up(s: &OwnedFd) -> Res {
    println!("sent: follow-up ListSessions");
    request(s, &Request::ListSessions)?;
    Ok(())
}

fn send_raw(s: &OwnedFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Res {
    match socket::send_bytes(s.as_fd(), bytes, fds) {
        Ok(()) => Ok(()),
        Err(e) => Err(format!("send: {e}")),
    }
}

fn hello_only() -> Res {
    let s = greeted()?;
    follow_up(&s)
}

/// `hold-clients N`: N connections, each greeted (its reply printed), then `held`;
/// all stay open until stdin closes.
fn hold_clients(n: Option<String>) -> Res {
    let n: usize = n
        .and_then(|n| n.parse().ok())
        .ok_or("hold-clients needs a number")?;
    let mut held = Vec::new();
    for _ in 0..n {
        let s = connect(rundir::CLIENT_SOCKET)?;
        socket::send(s.as_fd(), &Request::Hello { version: VERSION }, &[])
            .map_err(|e| format!("send hello: {e}"))?;
        read_reply(&s)?;
        held.push(s);
    }
    println!("held");
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}

/// A client that connects and says nothing: what the daemon says, and when.
fn silent_client() -> Res {
    let s = connect(rundir::CLIENT_SOCKET)?;
    let t = Instant::now();
    if read_reply(&s)? {
        read_reply(&s)?;
    }
    println!("after: {} ms", t.elapsed().as_millis());
    Ok(())
}

fn malformed(bytes: &[u8]) -> Res {
    let s = greeted()?;
    send_raw(&s, bytes, &[])?;
    println!("sent: {} malformed bytes", bytes.len());
    if read_reply(&s)? {
        follow_up(&s)?;
    }
    Ok(())
}

/// One packet larger than the daemon's 64 KiB limit: it sees MSG_TRUNC.
fn oversized() -> Res {
    let s = greeted()?;
    let mut big = vec![3u8]; // ListSessions, then far too much.
    big.resize(socket::MAX_MESSAGE + 36 * 1024, 0);
    // send(2) on the connected SOCK_SEQPACKET socket: socket::send_bytes would refuse.
    let d = UnixDatagram::from(s.try_clone().map_err(|e| e.to_string())?);
    let n = d.send(&big).map_err(|e| format!("send oversized: {e}"))?;
    println!("sent: {n} bytes in one packet");
    if read_reply(&s)? {
        follow_up(&s)?;
    }
    Ok(())
}

fn trailing_bytes() -> Res {
    let s = connect(rundir::CLIENT_SOCKET)?;
    // Hello { version: VERSION } is [0, VERSION]; one byte more.
    send_raw(&s, &[0, VERSION as u8, 0xaa], &[])?;
    println!("sent: hello with a trailing byte");
    if read_reply(&s)? {
        follow_up(&s)?;
    }
    Ok(())
}

fn before_hello() -> Res {
    let s = connect(rundir::CLIENT_SOCKET)?;
    println!("sent: ListSessions before Hello");
    if request(&s, &Request::ListSessions)? {
        println!("sent: Hello");
        if request(&s, &Request::Hello { version: VERSION })? {
            follow_up(&s)?;
        }
    }
    Ok(())
}

fn dev_null() -> Result<OwnedFd, String> {
    std::fs::File::open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| e.to_string())
}

/// `ListSessions` (which carries no descriptor) with `n` descriptors attached.
fn with_fds(n: usize) -> Res {
    let s = greeted()?;
    let fds: Vec<OwnedFd> = (0..n).map(|_| dev_null()).collect::<Result<_, _>>()?;
    let b: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    send_raw(&s, &[3], &b)?;
    println!("sent: ListSessions with {n} descriptors");
    if read_reply(&s)? {
        follow_up(&s)?;
    }
    Ok(())
}

fn libc_fd(what: &str, fd: libc::c_int) -> Result<OwnedFd, String> {
    if fd < 0 {
        return Err(format!("{what}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the call above just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A descriptor of each kind a hostile client could slip in, one per connection.
fn wrong_fd_types() -> Res {
    let (a, _b) = socket::pair().map_err(|e| e.to_string())?;
    let (pr, _pw) = std::io::pipe().map_err(|e| e.to_string())?;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open("/")
        .map_err(|e| e.to_string())?;
    // SAFETY: memfd_create with a NUL-terminated name and valid flags.
    let memfd = libc_fd("memfd", unsafe {
        libc::memfd_create(c"probe".as_ptr(), libc::MFD_CLOEXEC)
    })?;
    // SAFETY: eventfd with valid flags.
    let efd = libc_fd("eventfd", unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) })?;
    let listener = socket::listen(
        &std::env::temp_dir().join(format!("wire-probe-{}.sock", std::process::id())),
    )
    .map_err(|e| e.to_string())?;
    let kinds: [(&str, BorrowedFd<'_>); 6] = [
        ("socket", a.as_fd()),
        ("pipe", pr.as_fd()),
        ("directory", dir.as_fd()),
        ("memfd", memfd.as_fd()),
        ("eventfd", efd.as_fd()),
        ("listening-socket", listener.as_fd()),
    ];
    let mut result = Ok(());
    for (kind, fd) in kinds {
        let s = greeted()?;
        println!(
            "sent: Hello with a {kind} descriptor (fd {})",
            fd.as_raw_fd()
        );
        if let Err(e) = send_raw(&s, &[0, VERSION as u8], &[fd]) {
            result = Err(e);
            break;
        }
        if read_reply(&s)? {
            follow_up(&s)?;
        }
    }
    let _ = std::fs::remove_file(
        std::env::temp_dir().join(format!("wire-probe-{}.sock", std::process::id())),
    );
    result
}

/// Session names and event patterns that must not reach a path, the metadata or a
/// terminal: each request is well-formed, so the connection goes on.
fn bad_names() -> Res {
    let s = greeted()?;
    for name in ["../x", "a/b", "a\0b", "x\"; }", "..", "x\ny"] {
        println!("sent: CreateSession {name:?}");
        let req = Request::CreateSession(CreateSession {
            name: Some(name.into()),
            output: None,
            snapshot: false,
        });
        if !request(&s, &req)? {
            return Err("closed after a well-formed request".into());
        }
    }
    println!("sent: CreateSession \"good\"");
    let req = Request::CreateSession(CreateSession {
        name: Some("good".into()),
        output: None,
        snapshot: false,
    });
    request(&s, &req)?;
    for pattern in ["a\nb", "x\u{1b}[31m", "x\0y", "\t*", "ok:\u{7f}"] {
        println!("sent: EnableEvent {pattern:?}");
        let req = Request::EnableEvent {
            session: "good".into(),
            channel: None,
            rule: EventRule::pattern(pattern),
        };
        if !request(&s, &req)? {
            return Err("closed after a well-formed request".into());
        }
    }
    println!("sent: EnableEvent with an excluded pattern \"a\\rb\"");
    let mut rule = EventRule::pattern("x:*");
    rule.exclude.push("a\rb".into());
    request(
        &s,
        &Request::EnableEvent {
            session: "good".into(),
            channel: None,
            rule,
        },
    )?;
    follow_up(&s)
}

fn other_uid_client() -> Res {
    let s = connect(rundir::CLIENT_SOCKET)?;
    // The daemon answers a refused peer at once; the hello may meet a closed socket.
    let _ = socket::send(s.as_fd(), &Request::Hello { version: VERSION }, &[]);
    println!("sent: Hello");
    while read_reply(&s)? {}
    Ok(())
}

fn app_hello(tracepoints: u32) -> AppMessage {
    AppMessage::Hello {
        version: VERSION,
        pid: std::process::id(),
        procname: "wire_probe".into(),
        tracepoints,
    }
}

/// Reads daemon messages until the connection closes; the first must come.
fn read_daemon_until_closed(s: &OwnedFd) -> Res {
    let mut any = false;
    loop {
        match socket::recv::<DaemonMessage>(s.as_fd()) {
            Ok(m) => {
                any = true;
                println!("daemon: {:?}", m.msg);
            }
            Err(WireError::Closed) => {
                println!("closed");
                return Ok(());
            }
            Err(WireError::Io(e)) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                println!("closed");
                return Ok(());
            }
            Err(e) if !any => return Err(format!("no answer: {e}")),
            Err(e) => return Err(format!("after an answer: {e}")),
        }
    }
}

fn app_refused(hello: AppMessage, then: &[AppMessage]) -> Res {
    let s = connect(rundir::APP_SOCKET)?;
    let mut msgs = vec![hello];
    msgs.extend_from_slice(then);
    for m in &msgs {
        // A refused peer may find the socket closed before it is done.
        if socket::send(s.as_fd(), m, &[]).is_err() {
            break;
        }
        println!("sent: {}", short(m));
    }
    read_daemon_until_closed(&s)
}

fn short(m: &AppMessage) -> String {
    match m {
        AppMessage::Hello { tracepoints, .. } => format!("Hello announcing {tracepoints}"),
        AppMessage::Tracepoints(v) => format!("{} descriptions", v.len()),
        AppMessage::MoreTracepoints { first, descs } => {
            format!("{} more descriptions from {first}", descs.len())
        }
        AppMessage::Reply(r) => format!("Reply({r:?})"),
    }
}

/// An application that never finishes its registration.
fn app_stall(hello: Option<AppMessage>) -> Res {
    let s = connect(rundir::APP_SOCKET)?;
    let t0 = Instant::now();
    if let Some(h) = hello {
        socket::send(s.as_fd(), &h, &[]).map_err(|e| e.to_string())?;
        println!("sent: {}", short(&h));
        let one = AppMessage::Tracepoints(vec![desc("probe", "ok")]);
        socket::send(s.as_fd(), &one, &[]).map_err(|e| e.to_string())?;
        println!("sent: {}", short(&one));
    }
    println!("sent: nothing more");
    let r = read_daemon_until_closed(&s);
    println!("after_ms: {}", t0.elapsed().as_millis());
    r
}

fn desc(provider: &str, name: &str) -> EventDesc {
    EventDesc {
        provider: provider.into(),
        name: name.into(),
        loglevel: LogLevel::Info,
        model_emf_uri: None,
        fields: vec![FieldDesc {
            name: "v".into(),
            ty: FieldType::Integer(IntType::new(32, false, Base::Dec)),
        }],
    }
}

/// Registers one valid tracepoint (index 0) and three whose names would inject TSDL
/// (indices 1 to 3), then behaves as an application until its stdin closes: answers
/// every daemon message and prints the bindings it receives.
fn app_inject() -> Res {
    let mut evil_field = desc("probe", "field");
    evil_field.fields[0].name = "v;\n} event { name = \"y\"".into();
    let descs = vec![
        desc("probe", "ok"),
        desc("probe", "x; } event {"),
        desc("x\"; } event { name = \"y", "z"),
        evil_field,
    ];
    let s = register(descs)?;
    serve(&s, &stdin_closer(), &AtomicBool::new(false))
}

/// Registers `probe:ok` (index 0), then, once the daemon is ready, sends late batches
/// of tracepoints on connections of their own as libust does after a `dlopen`, each
/// answer printed as `more: <batch>: <answer>`, and `more: done` after the last;
/// meanwhile and until its stdin closes it serves the first connection as an
/// application does, printing the bindings it receives. The batches: one that starts
/// at the wrong index (7); one from index 1 whose first two descriptions would inject
/// TSDL and whose third, `probe:late` (index 3), is valid; one whose second message
/// does not follow on from its first.
fn app_more() -> Res {
    let s = register(vec![desc("probe", "ok")])?;
    let closed = stdin_closer();
    let ready = Arc::new(AtomicBool::new(false));
    let server = {
        let (closed, ready) = (closed.clone(), ready.clone());
        std::thread::spawn(move || serve(&s, &closed, &ready))
    };
    let t0 = Instant::now();
    while !ready.load(Ordering::SeqCst) {
        if server.is_finished() || t0.elapsed() > WAIT {
            return Err("the registration never became ready".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut evil_field = desc("probe", "field");
    evil_field.fields[0].name = "v;\n} event { name = \"y\"".into();
    let batches: [(&str, Vec<LateMessage>); 3] = [
        ("wrong-index", vec![(7, vec![desc("probe", "seven")])]),
        (
            "injecting",
            vec![(
                1,
                vec![
                    desc("x\"; } event { name = \"y", "z"),
                    evil_field,
                    desc("probe", "late"),
                ],
            )],
        ),
        (
            "out-of-order",
            vec![
                (4, vec![desc("probe", "four")]),
                (9, vec![desc("probe", "nine")]),
            ],
        ),
    ];
    for (name, messages) in batches {
        println!("more: {name}: {}", more(&messages)?);
    }
    println!("more: done");
    server.join().map_err(|_| "the serving thread panicked")?
}

/// One `MoreTracepoints` message: the index of its first description, and them.
type LateMessage = (u32, Vec<EventDesc>);

/// Sends late tracepoints from an application that never registered.
fn more_unregistered() -> Res {
    println!(
        "more: unregistered: {}",
        more(&[(0, vec![desc("probe", "x")])])?
    );
    Ok(())
}

/// One late batch on a connection of its own: its messages, the closing empty one
/// (at the index after the last), and the daemon's answer, Debug-formatted.
fn more(messages: &[LateMessage]) -> Result<String, String> {
    let s = connect(rundir::APP_SOCKET)?;
    let end = messages
        .last()
        .map_or(0, |(first, d)| first + d.len() as u32);
    let close = (end, Vec::new());
    for (first, descs) in messages.iter().chain([&close]) {
        let m = AppMessage::MoreTracepoints {
            first: *first,
            descs: descs.clone(),
        };
        if socket::send(s.as_fd(), &m, &[]).is_err() {
            break; // refused before the end: the answer says why
        }
    }
    match socket::recv::<DaemonMessage>(s.as_fd()) {
        Ok(m) => Ok(format!("{:?}", m.msg)),
        Err(WireError::Closed) => Ok("closed".into()),
        Err(e) => Err(format!("no answer to late tracepoints: {e}")),
    }
}

/// Connects to `app.sock` and sends a registration with `descs`.
fn register(descs: Vec<EventDesc>) -> Result<OwnedFd, String> {
    let s = connect(rundir::APP_SOCKET)?;
    let hello = app_hello(descs.len() as u32);
    socket::send(s.as_fd(), &hello, &[]).map_err(|e| e.to_string())?;
    let tps = AppMessage::Tracepoints(descs);
    socket::send(s.as_fd(), &tps, &[]).map_err(|e| e.to_string())?;
    println!("sent: {}", short(&tps));
    Ok(s)
}

/// A flag raised when stdin closes (the test's signal to leave).
fn stdin_closer() -> Arc<AtomicBool> {
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        flag.store(true, Ordering::SeqCst);
    });
    closed
}

/// Serves a registered application's connection until `closed` is raised: answers
/// every daemon message and prints it; raises `ready` at the daemon's `Ready`.
fn serve(s: &OwnedFd, closed: &AtomicBool, ready: &AtomicBool) -> Res {
    socket::set_timeout(s.as_fd(), Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut accepted = false;
    loop {
        match socket::recv::<DaemonMessage>(s.as_fd()) {
            Ok(m) => {
                match &m.msg {
                    DaemonMessage::Accepted { .. } => {
                        accepted = true;
                        println!("daemon: Accepted");
                        continue; // no reply to Accepted
                    }
                    DaemonMessage::Refused(r) => {
                        println!("daemon: Refused({r:?})");
                        return Ok(());
                    }
                    DaemonMessage::AddChannel { key, .. } => println!("daemon: AddChannel {key}"),
                    DaemonMessage::AddStream { channel, index, .. } => {
                        println!("daemon: AddStream {channel} {index} fds {}", m.fds.len())
                    }
                    DaemonMessage::SetEvents { bindings, last } => {
                        let tps: Vec<u32> = bindings.iter().map(|b| b.tracepoint).collect();
                        println!("daemon: SetEvents tracepoints {tps:?} last {last}");
                    }
                    DaemonMessage::RemoveChannel { key } => println!("daemon: RemoveChannel {key}"),
                    DaemonMessage::Ready => println!("daemon: Ready"),
                }
                socket::send(s.as_fd(), &AppMessage::Reply(None), &[])
                    .map_err(|e| format!("reply: {e}"))?;
                if matches!(m.msg, DaemonMessage::Ready) {
                    ready.store(true, Ordering::SeqCst);
                }
            }
            Err(WireError::Timeout) => {
                if closed.load(Ordering::SeqCst) {
                    return Ok(());
                }
                if !accepted && start.elapsed() > WAIT {
                    return Err("no answer to the registration".into());
                }
            }
            Err(WireError::Closed) => {
                println!("closed");
                return Ok(());
            }
            Err(e) => return Err(format!("daemon message: {e}")),
        }
    }
}

/// The hello of a future `lttng`: the next protocol version, then fields this release
/// does not know.
fn newer_hello() -> Res {
    let s = connect(rundir::CLIENT_SOCKET)?;
    let mut bytes = vec![0];
    bytes.extend(varint(u64::from(VERSION) + 1));
    bytes.extend([0xff, 0xff, 0x01, 0x07]);
    send_raw(&s, &bytes, &[])?;
    println!("sent: a hello of protocol {}", VERSION + 1);
    read_reply(&s)?;
    Ok(())
}

/// `fake-daemon MODE`: a session daemon of another release on the run directory's
/// client socket, answering every hello as MODE says: `older` refuses it in the words
/// of the releases before, `newer` greets with the next version and fields unknown
/// here, `garbage` sends bytes of no protocol, `silent` never answers. Prints
/// `listening`, serves until stdin closes.
fn fake_daemon(mode: Option<String>) -> Res {
    let mode = mode.ok_or("fake-daemon needs a mode")?;
    let dir = rundir::resolve().map_err(|e| e.to_string())?;
    rundir::ensure(&dir, rundir::current_uid()).map_err(|e| e.to_string())?;
    let path = dir.join(rundir::CLIENT_SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = socket::listen(&path).map_err(|e| e.to_string())?;
    let older = Reply::Error(format!(
        "protocol version {VERSION} is not ours ({}): use programs of the same release",
        VERSION - 1
    ));
    let answer: Option<Vec<u8>> = match mode.as_str() {
        "older" => None,
        "newer" => {
            let mut b = vec![0];
            b.extend(varint(u64::from(VERSION) + 1));
            b.extend(varint(u64::from(std::process::id())));
            b.extend([0xff, 0x03]);
            Some(b)
        }
        "garbage" => Some(vec![0x55, 0x66, 0x77]),
        "silent" => None,
        other => return Err(format!("no fake-daemon mode {other}")),
    };
    let older = (mode == "older").then_some(older);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok(s) = socket::accept(listener.as_fd()) {
            if let Ok((_, _)) = socket::recv_bytes(s.as_fd()) {
                if let Some(a) = &answer {
                    let _ = socket::send_bytes(s.as_fd(), a, &[]);
                } else if let Some(r) = &older {
                    let _ = socket::send(s.as_fd(), r, &[]);
                }
            }
            held.push(s);
        }
    });
    println!("listening");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    let _ = std::fs::remove_file(&path);
    Ok(())
}
