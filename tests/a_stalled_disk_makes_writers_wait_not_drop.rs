//! A disk that stops taking data for a while (a stall) holds up the threads that trace
//! once the buffers are full. By default they wait it out and lose nothing; with a
//! blocking timeout shorter than the stall they drop events, and count every one.
//!
//! The "disk" is a pipe: every stream file is a FIFO whose reader, in this test, takes
//! 4 MiB and then stops reading for 30 ms, over and over. The buffers (4 x 64 KiB per
//! CPU) and the queue between the consumer's threads (256 KiB) are small, so that they
//! are full soon after a pause begins even when the machine is busy.

mod support;

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

const THREADS: u64 = 2;
const PER_THREAD: u64 = 1_000_000;
const BURST: usize = 4 << 20;
const PAUSE: Duration = Duration::from_millis(30);

/// The CPUs libust makes a ring for: every possible one.
fn possible_cpus() -> u32 {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").expect("cpu list");
    let last = s.trim().rsplit(['-', ',']).next().expect("a cpu number");
    last.parse::<u32>().expect("a cpu number") + 1
}

/// Reads `fifo` in bursts of [`BURST`] bytes with a [`PAUSE`] after each, until the
/// traced program has exited and the pipe is empty; returns what was read.
fn stalling_reader(fifo: PathBuf, exited: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        // Non-blocking, so that opening does not wait for a writer that may never come
        // (a CPU the program never ran on).
        let mut f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .expect("open the fifo");
        let mut data = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut since_pause = 0;
        loop {
            match f.read(&mut buf) {
                Ok(0) if exited.load(Ordering::Acquire) => return data,
                Ok(0) => std::thread::sleep(Duration::from_millis(1)),
                Ok(n) => {
                    data.extend_from_slice(&buf[..n]);
                    since_pause += n;
                    if since_pause >= BURST {
                        std::thread::sleep(PAUSE);
                        since_pause = 0;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_micros(100))
                }
                Err(e) => panic!("reading {}: {e}", fifo.display()),
            }
        }
    })
}

/// Runs the stress program into stream files that stall, with `timeout_us` as its
/// blocking timeout (`None`: the default); returns (recorded, discarded), after checking
/// that together they are exactly what the program emitted.
fn trace_through_stalls(timeout_us: Option<&str>) -> (u64, u64) {
    let dir = TempDir::new("stall");
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let streams = dir
        .path()
        .join(format!("ust/uid/{}/64-bit", uid.expect("own uid")));
    std::fs::create_dir_all(&streams).unwrap();
    let exited = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for cpu in 0..possible_cpus() {
        let fifo = streams.join(format!("channel0_{cpu}"));
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
        readers.push((fifo.clone(), stalling_reader(fifo, exited.clone())));
    }

    let mut cmd = traced(env!("CARGO_BIN_EXE_stress"), dir.path());
    cmd.env("LIBUST_SUBBUF_SIZE", "64K")
        .env("LIBUST_NUM_SUBBUF", "4")
        .env("LIBUST_QUEUE_SIZE", "256K")
        .args([THREADS.to_string(), PER_THREAD.to_string()]);
    match timeout_us {
        Some(t) => cmd.env("LIBUST_BLOCKING_TIMEOUT_US", t),
        None => cmd.env_remove("LIBUST_BLOCKING_TIMEOUT_US"),
    };
    let out = cmd.output().expect("run the stress program");
    exited.store(true, Ordering::Release);
    // Whatever the outcome, the readers must finish before the directory goes.
    let read: Vec<(PathBuf, Vec<u8>)> = readers
        .into_iter()
        .map(|(fifo, r)| (fifo, r.join().expect("reader thread")))
        .collect();
    assert!(
        out.status.success(),
        "stress failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The pipes' contents become the stream files.
    for (fifo, data) in read {
        replace_with_file(&fifo, &data);
    }

    let trace = read_trace(dir.path());
    assert!(trace.errors.is_empty(), "{:?}", trace.errors);
    let recorded = trace.events.len() as u64;
    let discarded = trace.discarded_events();
    assert_eq!(
        recorded + discarded,
        THREADS * PER_THREAD,
        "recorded {recorded} + discarded {discarded}"
    );
    (recorded, discarded)
}

fn replace_with_file(fifo: &Path, data: &[u8]) {
    std::fs::remove_file(fifo).unwrap();
    if data.is_empty() {
        return;
    }
    let mut f = File::create(fifo).unwrap();
    std::io::Write::write_all(&mut f, data).unwrap();
}

#[test]
fn by_default_writers_wait_out_a_stall_and_lose_nothing() {
    let (recorded, discarded) = trace_through_stalls(None);
    assert_eq!(
        discarded, 0,
        "a 30 ms stall is shorter than the default wait"
    );
    assert_eq!(recorded, THREADS * PER_THREAD);
}

#[test]
fn a_timeout_shorter_than_the_stall_drops_and_counts() {
    let (_, discarded) = trace_through_stalls(Some("5000"));
    assert!(
        discarded > 0,
        "writers that wait at most 5 ms must drop during 30 ms stalls"
    );
}
