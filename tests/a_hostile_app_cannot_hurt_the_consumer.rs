//! Threat T4/T5 end to end, with real processes: an application that registers with
//! the session daemon by speaking the protocol itself (`hostile_app`) keeps the
//! sealed memfds it is handed, cannot resize or reseal them, and scribbles random
//! bytes, extreme counters and forged packet headers over them (control page and
//! data) while a well-behaved app records into its own per-process buffers in the
//! same session. The session's one consumer is never crashed or restarted, `lttng
//! stop` returns promptly, every event of the good app reaches its trace (which
//! babeltrace2 reads without a word), the damage is reported as lost packets, and
//! our CTF reader survives whatever reached the hostile app's trace.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use ctf::reader::{Item, TraceSet};
use support::user::User;
use support::*;

const SESSION: &str = "hostile";
const SUBBUF: u64 = 64 * 1024;
/// 2 MiB per CPU: the good app's rate below fills it in about 1.3 s, longer than the
/// longest write stall seen on the test machines' disks (330 ms), during which the
/// consumer, writing another stream, drains nothing.
const NUM_SUBBUF: u64 = 32;

/// The running `hostile_app`: commands on its stdin, its answers line by line.
struct Hostile {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Hostile {
    fn start(u: &User) -> Hostile {
        let mut child = u
            .cmd(env!("CARGO_BIN_EXE_hostile_app"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start hostile_app");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Hostile {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to hostile_app");
        self.stdin.flush().unwrap();
    }

    /// The next line it prints, within `within`.
    fn line(&self, within: Duration) -> String {
        self.lines
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("hostile_app said nothing for {within:?}: {e}"))
    }
}

/// The consumer is the very process it was at the start.
fn same_consumer(daemon: i32, consumer: i32, when: &str) {
    assert_eq!(
        children_named(daemon, "lttng-consumerd"),
        [consumer],
        "{when}: the session's consumer crashed or was replaced"
    );
}

/// The sum of the `Lost packets:` lines of `lttng list SESSION`.
fn lost_packets(u: &User) -> (u64, String) {
    let out = u.lttng(&["list", SESSION]);
    assert!(
        out.status.success(),
        "lttng list {SESSION} failed ({}): {}\ndaemon {:?} alive: {}\ndaemon log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        u.daemon_pid(),
        u.daemon_pid()
            .is_some_and(|p| Path::new(&format!("/proc/{p}")).exists()),
        daemon_log(u)
    );
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let lost = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Lost packets:"))
        .map(|n| n.trim().parse::<u64>().expect("a packet count"))
        .sum();
    (lost, out)
}

/// The per-process trace directory of `procname` (`ust/pid/<procname>-<pid>-<date>`).
fn pid_trace(out: &Path, procname: &str, pid: u32) -> PathBuf {
    let prefix = format!("{procname}-{pid}-");
    let dirs: Vec<PathBuf> = std::fs::read_dir(out.join("ust/pid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect();
    assert_eq!(dirs.len(), 1, "one trace for {prefix}: {dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
fn a_hostile_app_cannot_hurt_the_consumer_or_a_healthy_stream() {
    let u = User::new("hostile-app");
    u.lttng_ok(&["create", SESSION]);
    u.lttng_ok(&[
        "enable-channel",
        "-u",
        "--buffers-pid",
        "--subbuf-size",
        &SUBBUF.to_string(),
        "--num-subbuf",
        &NUM_SUBBUF.to_string(),
        "chan",
    ]);
    u.lttng_ok(&["enable-event", "-u", "-c", "chan", "myapp:request"]);
    u.lttng_ok(&["enable-event", "-u", "-c", "chan", "hostile:x"]);
    u.lttng_ok(&["start"]);
    let daemon = u.daemon_pid().expect("daemon pid");

    // The hostile app registers and is handed (and maps) its per-CPU buffers.
    let mut evil = Hostile::start(&u);
    let ready = evil.line(Duration::from_secs(30));
    // The ring, then spare sub-buffers (which the hostile app maps and damages too).
    let ring_size = 4096 + SUBBUF * NUM_SUBBUF;
    let (streams, memfd_size): (usize, u64) =
        match ready.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["ready", n, size] => (n.parse().unwrap(), size.parse().unwrap()),
            _ => panic!("hostile_app: {ready}"),
        };
    assert!(
        memfd_size > ring_size && (memfd_size - ring_size).is_multiple_of(SUBBUF),
        "{ready}: the ring and whole spare sub-buffers"
    );
    assert!(streams >= 1, "no buffer was handed over: {ready}");
    let mut app = u.app();
    let consumers = children_named(daemon, "lttng-consumerd");
    assert_eq!(consumers.len(), 1, "one consumer: {consumers:?}");
    let consumer = consumers[0];

    // T4: the buffers cannot be resized or sealed against the consumer's writes.
    evil.send("seals");
    let second = Duration::from_secs(10);
    assert_eq!(evil.line(second), "shrink EPERM");
    assert_eq!(evil.line(second), "grow EPERM");
    assert_eq!(evil.line(second), "seal-write EPERM");
    assert_eq!(evil.line(second), format!("size {memfd_size}"));

    // T5: damage for 3 s while the good app records into its own buffers.
    evil.send("scribble 3000");
    let t = Instant::now();
    let mut last = 0;
    while t.elapsed() < Duration::from_millis(2500) {
        // A steady rate the buffers absorb many times over (about 1.6 MB/s into 2 MiB
        // per CPU): a discarded event can only mean the consumer stopped draining it.
        last = app.emit(1000);
        std::thread::sleep(Duration::from_millis(20));
    }
    let scribbled = evil.line(Duration::from_secs(30));
    let rounds: u64 = scribbled
        .strip_prefix("scribbled ")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("hostile_app: {scribbled}"));
    assert!(rounds > 10, "{scribbled}");
    same_consumer(daemon, consumer, "after the damage");

    // The damage shows, while the hostile app is still registered (its streams' stats
    // go when it does). The consumer drains at least every 100 ms. The hostile app left
    // its discard counters near 2^64: the listing must survive adding them up.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut lost, mut listing) = lost_packets(&u);
    while lost == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        (lost, listing) = lost_packets(&u);
    }
    eprintln!(
        "hostile_app: {streams} stream(s), {rounds} rounds of damage; good app: {} events; \
         lost packets reported: {lost}",
        last + 1
    );
    assert!(
        !listing.contains("Consumer restarted"),
        "the consumer was restarted:\n{listing}"
    );

    // More damage while the session stops: the flush must not hang on it.
    evil.send("scribble 1500");
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    u.lttng_ok(&["stop"]);
    let stop_took = t.elapsed();
    eprintln!("lttng stop under damage took {stop_took:?}");
    assert!(
        stop_took < Duration::from_secs(10),
        "lttng stop took {stop_took:?}"
    );
    let scribbled = evil.line(Duration::from_secs(30));
    assert!(scribbled.starts_with("scribbled "), "{scribbled}");
    same_consumer(daemon, consumer, "after the stop");
    let (lost_after_stop, listing) = lost_packets(&u);
    eprintln!("lost packets after the stop: {lost_after_stop}");
    assert!(lost_after_stop >= lost, "{lost} then {lost_after_stop}");
    assert!(
        !listing.contains("Consumer restarted"),
        "the consumer was restarted:\n{listing}"
    );

    // Both apps leave; the consumer writes out and forgets their buffers.
    let evil_pid = evil.child.id();
    let good_pid = app.child.id();
    evil.send("quit");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = evil.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "hostile_app does not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "hostile_app: {status:?}");
    assert!(app.quit().success());
    // The daemon handles a departure asynchronously: give it a moment, then look.
    std::thread::sleep(Duration::from_millis(500));
    same_consumer(daemon, consumer, "after both apps left");

    // The damage was reported: in the statistics, or in the consumer's log.
    let log = daemon_log(&u);
    let skipped = log
        .lines()
        .filter(|l| l.contains("skipped a corrupt packet"))
        .count();
    eprintln!("consumer log lines about corrupt packets: {skipped}");
    assert!(
        lost_after_stop > 0 || skipped > 0,
        "the corruption was never reported; daemon log:\n{log}"
    );
    assert!(
        !log.contains("panicked"),
        "something panicked; daemon log:\n{log}"
    );

    // The good app lost nothing.
    let out = u.session_output(SESSION);
    let good = pid_trace(&out, "ust_app", good_pid);
    let read = read_trace(&good);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let seqs = read.seqs_of("myapp:request");
    assert_eq!(read.events.len(), seqs.len(), "only myapp:request events");
    assert!(
        seqs == (0..=last).collect::<Vec<_>>(),
        "the good app's trace holds {} events, not 0..={last}; first gap near {:?}",
        seqs.len(),
        seqs.iter()
            .enumerate()
            .find(|&(i, &s)| i as u64 != s)
            .map(|(i, _)| i)
    );
    if let Some(bt) = babeltrace2(&[good.as_os_str()]) {
        assert!(
            bt.status.success() && bt.stderr.is_empty(),
            "babeltrace2 on the good app's trace: {}",
            String::from_utf8_lossy(&bt.stderr)
        );
        assert_eq!(
            bt.stdout.iter().filter(|&&b| b == b'\n').count() as u64,
            last + 1
        );
    }

    // Our reader on the hostile app's trace: errors are fine, a panic is not.
    let evil_dir = pid_trace(&out, "hostile_app", evil_pid);
    let r = std::panic::catch_unwind(|| match TraceSet::open(&evil_dir) {
        Ok(mut set) => {
            let (mut events, mut errors, mut discarded) = (0, 0, 0);
            for item in set.items() {
                match item {
                    Item::Event(_) => events += 1,
                    Item::Error(_) => errors += 1,
                    Item::Discarded(_) => discarded += 1,
                }
            }
            format!("{events} events, {discarded} discard records, {errors} errors")
        }
        Err(e) => format!("refused: {e}"),
    });
    let summary = r.unwrap_or_else(|_| panic!("the CTF reader panicked on {}", evil_dir.display()));
    eprintln!("our reader on the hostile app's trace: {summary}");
}

/// The session daemon's log, where the consumer's stderr goes too.
fn daemon_log(u: &User) -> String {
    std::fs::read_to_string(u.rundir().join(proto::rundir::LOG_FILE)).unwrap_or_default()
}
