//! Helpers shared by the integration tests: run traced programs, read traces back.
#![allow(dead_code)]

pub mod c;
pub mod holder;
pub mod kernel_session;
pub mod sandbox;
pub mod tracing_group;
pub mod user;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use ctf::reader::{Discarded, Event, Item, ReadError, TraceSet};

/// A fresh, empty directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "libust-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A command for one of the test programs, traced in standalone mode into `dir`.
pub fn traced(bin: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env("LIBUST_TRACE_DIR", dir);
    for v in [
        "LIBUST_EVENTS",
        "LIBUST_CONTEXTS",
        "LIBUST_OVERWRITE",
        "LIBUST_SUBBUF_SIZE",
        "LIBUST_NUM_SUBBUF",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs a command and insists that it succeeds.
pub fn run_ok(c: &mut Command) -> Output {
    let out = c.output().expect("run test program");
    assert!(
        out.status.success(),
        "{c:?} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Everything read from the traces under `dir`.
pub struct Read {
    pub events: Vec<Event>,
    pub discarded: Vec<Discarded>,
    pub errors: Vec<ReadError>,
}

impl Read {
    /// The `seq` field of every event, in trace order (each event must have one).
    pub fn seqs(&self) -> Vec<u64> {
        self.events.iter().map(seq_of).collect()
    }

    /// The `seq` field of every event named `name`, in trace order.
    pub fn seqs_of(&self, name: &str) -> Vec<u64> {
        self.events
            .iter()
            .filter(|e| &*e.name == name)
            .map(seq_of)
            .collect()
    }

    /// The events the trace reports as discarded, summed; any other kind of loss
    /// report (lost packets) fails the test.
    pub fn discarded_events(&self) -> u64 {
        self.discarded
            .iter()
            .map(|d| match d.kind {
                ctf::reader::DiscardedKind::Events(n) => n,
                ref k => panic!("unexpected loss report {k:?}"),
            })
            .sum()
    }
}

fn seq_of(e: &Event) -> u64 {
    field(&e.fields, "seq")
        .and_then(ctf::reader::Value::as_u64)
        .unwrap_or_else(|| panic!("{} has no unsigned seq field", e.name))
}

pub fn read_trace(dir: &Path) -> Read {
    let mut set = TraceSet::open(dir).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    let mut r = Read {
        events: Vec::new(),
        discarded: Vec::new(),
        errors: Vec::new(),
    };
    for item in set.items() {
        match item {
            Item::Event(e) => r.events.push(e),
            Item::Discarded(d) => r.discarded.push(d),
            Item::Error(e) => r.errors.push(e),
        }
    }
    r
}

/// Runs `babeltrace2 ARGS`; `None` when babeltrace2 is not installed outside CI. Under
/// `CI=true` a missing babeltrace2 fails the test.
pub fn babeltrace2(args: &[&std::ffi::OsStr]) -> Option<Output> {
    match Command::new("babeltrace2")
        .args(args)
        .env("TZ", "UTC")
        .output()
    {
        Ok(o) => Some(o),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("babeltrace2 is required under CI=true: {e}");
            }
            eprintln!("NOTICE: babeltrace2 not found ({e}); skipping the babeltrace2 comparison");
            None
        }
    }
}

/// `babeltrace2 --clock-cycles DIR`, which must exit 0 with nothing on stderr: its
/// lines, each starting with the raw timestamp (see [`clock_cycles`]). `None` as for
/// [`babeltrace2`].
pub fn babeltrace2_clock_cycles(dir: &Path) -> Option<Vec<String>> {
    let bt = babeltrace2(&["--clock-cycles".as_ref(), dir.as_os_str()])?;
    let stderr = String::from_utf8_lossy(&bt.stderr);
    assert!(
        bt.status.success() && stderr.is_empty(),
        "babeltrace2: {:?} {stderr}",
        bt.status
    );
    let text = String::from_utf8(bt.stdout).expect("babeltrace2 prints utf-8");
    Some(text.lines().map(str::to_string).collect())
}

/// The raw timestamp of a `babeltrace2 --clock-cycles` line: `[00000000000000001234] …`.
pub fn clock_cycles(line: &str) -> u64 {
    line.strip_prefix('[')
        .and_then(|l| l.split_once(']'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no clock value in {line:?}"))
}

/// The metadata of a userspace trace with one stream class (compact event headers, a
/// nanosecond `monotonic` clock), for tests that write the stream files themselves.
pub fn ust_trace_desc(
    uuid: [u8; 16],
    events: Vec<ctf::metadata::EventClass>,
) -> ctf::metadata::TraceDesc {
    use ctf::metadata::{ClockDesc, EnvValue, EventHeader, StreamDesc, TraceDesc};
    TraceDesc {
        uuid,
        clock: ClockDesc {
            name: "monotonic".into(),
            uuid: proto::clock::boot_id(),
            description: "Monotonic Clock".into(),
            freq: 1_000_000_000,
            offset_s: 0,
            offset: 0,
        },
        env: vec![("domain".into(), EnvValue::Str("ust".into()))],
        streams: vec![StreamDesc {
            id: 0,
            header: EventHeader::Compact,
            contexts: proto::event::Contexts::default(),
            more_contexts: Vec::new(),
        }],
        events,
    }
}

/// The `lttng` binary built beside the test binaries.
pub fn lttng_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join("lttng");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p lttng)",
        p.display()
    );
    p
}

/// Looks up a field by name.
pub fn field<'a>(fields: &'a ctf::reader::Fields, name: &str) -> Option<&'a ctf::reader::Value> {
    fields.get(name)
}

/// The children of `pid` named `comm`.
pub fn children_named(pid: i32, comm: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                return false;
            };
            // pid (comm) state ppid ...
            let Some(close) = stat.rfind(')') else {
                return false;
            };
            let name = &stat[stat.find('(').unwrap_or(0) + 1..close];
            let ppid: i32 = stat[close + 2..]
                .split_whitespace()
                .nth(1)
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            ppid == pid && name == comm
        })
        .collect()
}

/// How many descriptors process `pid` has open.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e} (did the process die?)"))
        .count()
}

/// The descriptors of process `pid` and what they point to (for failure messages).
pub fn fd_list(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    format!(
                        "{} -> {}",
                        e.file_name().to_string_lossy(),
                        std::fs::read_link(e.path())
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Process `pid`'s descriptor count once it stops changing (at most 5 s).
pub fn stable_fd_count(pid: i32) -> usize {
    settled(|| fd_count(pid)).0
}

/// How many threads process `pid` has.
pub fn thread_count(pid: i32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e} (did the process die?)"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: in /proc/PID/status")
}

/// Process `pid`'s thread count once it has not changed for 300 ms (a connection
/// that is ending may still hold one); fails if it never settles within 5 s.
pub fn stable_thread_count(pid: i32) -> usize {
    let (n, settled) = settled(|| thread_count(pid));
    assert!(settled, "process {pid}'s thread count never settles");
    n
}

/// `count()` once it has not changed for 300 ms, and whether it settled so within
/// 5 s (if not: its last value).
fn settled(count: impl Fn() -> usize) -> (usize, bool) {
    use std::time::{Duration, Instant};
    let mut last = count();
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let n = count();
        if n != last {
            last = n;
            since = Instant::now();
        } else if since.elapsed() > Duration::from_millis(300) {
            return (last, true);
        }
    }
    (last, false)
}

/// Runs `c` to its end with its output captured, killing it after `limit`: a hang
/// fails the test.
pub fn run_bounded(c: &mut Command, limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{c:?} still runs after {limit:?}");
        }
    }
}

/// A CTF field type in the notation of the tests' tables written from LTTng-modules:
/// `i32`, `u64`, `x64` (unsigned, shown in hex), `str`, `text16` (a `char[16]` shown
/// as text), `i32[2]`, `be8*u32` (a sequence of big-endian bytes with a 32-bit count).
pub fn type_notation(t: &proto::event::FieldType) -> String {
    use proto::event::{Base, FieldType, IntType};
    let int = |i: &IntType| {
        let kind = match (i.base, i.signed, i.network) {
            (_, _, true) => "be",
            (Base::Hex, _, _) => "x",
            (_, true, _) => "i",
            (_, false, _) => "u",
        };
        format!("{kind}{}", i.bits)
    };
    match t {
        FieldType::Integer(i) => int(i),
        FieldType::String => "str".into(),
        FieldType::Array { elem, len } if elem.text => format!("text{len}"),
        FieldType::Array { elem, len } => format!("{}[{len}]", int(elem)),
        FieldType::Sequence { elem, length } => format!("{}*{}", int(elem), int(length)),
        other => format!("{other:?}"),
    }
}
