//! Daemon mode, with this test playing the session daemon: a program registers its
//! tracepoints, is given a channel and one binding before `main` starts, and the
//! events it fires first thing in `main` land in the buffers with the daemon's event
//! id. Without a daemon the same program starts and exits at once.
#![allow(unsafe_code)]

mod support;

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctf::metadata::{self, EventClass};
use proto::clock::Source;
use proto::event::{Contexts, EventDesc};
use proto::ring::layout::StreamIdentity;
use proto::ring::reader::{Next, RingReader};
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};
use proto::wire::app::{AppMessage, Binding, DaemonMessage};
use proto::wire::socket;
use proto::wire::VERSION;
use support::{read_trace, TempDir};

const UUID: [u8; 16] = [7; 16];
const EVENT_ID: u32 = 42;

fn eventfd() -> OwnedFd {
    // SAFETY: plain syscall; a valid result is a fresh descriptor nobody else owns.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: fd is valid and ours alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn possible_cpus() -> u32 {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    s.trim()
        .split([',', '-'])
        .filter_map(|x| x.parse::<u32>().ok())
        .max()
        .unwrap()
        + 1
}

fn program(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_registered"));
    c.env("LTTNG_HOME", home)
        .env_remove("LIBUST_TRACE_DIR")
        .env_remove("LIBUST_DAEMON")
        .env_remove("LIBUST_DEBUG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn make_rundir(home: &Path) -> std::path::PathBuf {
    let dir = home.join(".lttng-rs");
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    dir
}

fn reply(sock: &OwnedFd) -> Option<String> {
    match socket::recv::<AppMessage>(sock.as_fd()).unwrap().msg {
        AppMessage::Reply(r) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// Sends a message and insists that the application applied it.
fn call(sock: &OwnedFd, msg: &DaemonMessage, fds: &[std::os::fd::BorrowedFd<'_>]) {
    socket::send(sock.as_fd(), msg, fds).unwrap();
    assert_eq!(reply(sock), None, "{msg:?} refused");
}

#[test]
fn an_app_registers_with_a_fake_daemon() {
    let home = TempDir::new("fake-daemon");
    let rundir = make_rundir(home.path());
    let listener = socket::listen(&rundir.join("app.sock")).unwrap();
    socket::set_timeout(listener.as_fd(), Some(Duration::from_secs(20))).unwrap();

    // A generous start-up wait: this test checks that the first events of `main` are
    // recorded, which needs `Ready` before `main`, however loaded the machine is.
    let child = program(home.path())
        .env("LIBUST_REGISTER_TIMEOUT_MS", "20000")
        .spawn()
        .unwrap();
    let sock = socket::accept(listener.as_fd()).unwrap();
    socket::set_timeout(sock.as_fd(), Some(Duration::from_secs(20))).unwrap();
    assert_eq!(
        socket::peer_cred(sock.as_fd()).unwrap().pid,
        child.id() as i32
    );

    // Registration: Hello, then every description, in order.
    let count = match socket::recv::<AppMessage>(sock.as_fd()).unwrap().msg {
        AppMessage::Hello {
            version,
            pid,
            procname,
            tracepoints,
        } => {
            assert_eq!(version, VERSION);
            assert_eq!(pid, child.id());
            assert_eq!(procname, "registered");
            tracepoints as usize
        }
        other => panic!("expected Hello, got {other:?}"),
    };
    let mut descs: Vec<EventDesc> = Vec::new();
    while descs.len() < count {
        match socket::recv::<AppMessage>(sock.as_fd()).unwrap().msg {
            AppMessage::Tracepoints(d) => descs.extend(d),
            other => panic!("expected Tracepoints, got {other:?}"),
        }
    }
    assert_eq!(descs.len(), count);
    let names: Vec<String> = descs
        .iter()
        .map(|d| format!("{}:{}", d.provider, d.name))
        .collect();
    for n in ["regtest:first", "regtest:other", "lttng_ust_tracef:event"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let first = names.iter().position(|n| n == "regtest:first").unwrap();
    assert_eq!(descs[first].fields.len(), 1);
    assert_eq!(descs[first].fields[0].name, "seq");

    socket::send(
        sock.as_fd(),
        &DaemonMessage::Accepted {
            version: VERSION,
            clock: Source::Monotonic,
        },
        &[],
    )
    .unwrap();

    // Garbage gets an error reply, and the conversation goes on.
    socket::send_bytes(sock.as_fd(), &[0xff, 0xff, 0xff], &[]).unwrap();
    assert!(reply(&sock).is_some(), "garbage must be refused");
    // So does a binding to a channel that does not exist.
    socket::send(
        sock.as_fd(),
        &DaemonMessage::SetEvents {
            bindings: vec![Binding {
                tracepoint: first as u32,
                channel: 99,
                event_id: 1,
            }],
            last: true,
        },
        &[],
    )
    .unwrap();
    assert!(reply(&sock).is_some(), "unknown channel must be refused");

    // One channel, one stream per possible CPU.
    const SPARES: u64 = 2;
    let cfg = BufferConfig {
        subbuf_size: 16384,
        num_subbuf: 4,
        mode: Mode::Discard,
    };
    let ncpu = possible_cpus();
    call(
        &sock,
        &DaemonMessage::AddChannel {
            key: 1,
            config: cfg,
            spares: SPARES,
            contexts: Contexts::default(),
            full_wait_us: 0,
            streams: ncpu,
        },
        &[],
    );
    let wakeup = Arc::new(eventfd());
    let mut readers = Vec::new();
    for cpu in 0..ncpu {
        let identity = StreamIdentity {
            uuid: UUID,
            stream_id: 0,
            stream_instance_id: u64::from(cpu),
            cpu_id: cpu,
        };
        // Memfds with spare sub-buffers after the ring, as the session daemon makes
        // them: the app maps them whole.
        let (_writer, memfd) = RingWriter::create_with_spares(
            c"fake-daemon",
            cfg,
            identity,
            Some(wakeup.clone()),
            SPARES,
        )
        .unwrap();
        readers.push(RingReader::open_with_spares(memfd.as_fd(), cfg, identity, SPARES).unwrap());
        call(
            &sock,
            &DaemonMessage::AddStream {
                channel: 1,
                index: cpu,
                identity,
            },
            &[memfd.as_fd(), wakeup.as_fd()],
        );
    }
    call(
        &sock,
        &DaemonMessage::SetEvents {
            bindings: vec![Binding {
                tracepoint: first as u32,
                channel: 1,
                event_id: EVENT_ID,
            }],
            last: true,
        },
        &[],
    );
    call(&sock, &DaemonMessage::Ready, &[]);

    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The program is gone: its end of the connection is closed.
    assert!(socket::recv::<AppMessage>(sock.as_fd()).is_err());

    // Read the buffers back as the consumer would, and decode them as a CTF trace.
    let trace_dir = home.path().join("trace");
    std::fs::create_dir_all(&trace_dir).unwrap();
    for (cpu, r) in readers.iter_mut().enumerate() {
        r.flush(proto::clock::monotonic_ns);
        let mut stream = Vec::new();
        let mut buf = Vec::new();
        loop {
            match r.next_packet(&mut buf) {
                Next::Packet => stream.extend_from_slice(&buf),
                Next::Empty => break,
                Next::Corrupt(e) => panic!("corrupted packet: {e}"),
            }
        }
        std::fs::write(trace_dir.join(format!("channel0_{cpu}")), stream).unwrap();
    }
    let trace = support::ust_trace_desc(
        UUID,
        vec![EventClass {
            id: EVENT_ID,
            stream_id: 0,
            desc: descs[first].clone(),
        }],
    );
    std::fs::write(
        trace_dir.join("metadata"),
        metadata::generate(&trace).unwrap(),
    )
    .unwrap();

    let read = read_trace(&trace_dir);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    // Every event of `main`'s first loop, none of the unbound tracepoint.
    assert_eq!(read.events.len(), 100);
    for (i, e) in read.events.iter().enumerate() {
        assert_eq!(&*e.name, "regtest:first");
        assert_eq!(e.id, u64::from(EVENT_ID));
        match e.fields.get("seq") {
            Some(ctf::reader::Value::Unsigned(v, _)) => assert_eq!(*v, i as u64),
            other => panic!("seq: {other:?}"),
        }
    }
}

#[test]
fn without_a_daemon_a_program_starts_and_exits_at_once() {
    let home = TempDir::new("no-daemon");
    // A run directory without a socket, then no run directory at all.
    make_rundir(home.path());
    let missing = home.path().join("nothing-here");
    for dir in [home.path(), missing.as_path()] {
        let t = Instant::now();
        let out = program(dir).output().unwrap();
        let took = t.elapsed();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
        assert!(out.stderr.is_empty(), "nothing logged: {out:?}");
        assert!(took < Duration::from_millis(500), "took {took:?}");
    }
}
