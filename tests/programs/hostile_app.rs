//! A hostile application, for `a_hostile_app_cannot_hurt_the_consumer`.
//!
//! `hostile_app` speaks the application protocol itself (no libust): it registers one
//! valid tracepoint (`hostile:x`), answers every daemon message with `Reply(None)` (from
//! a background thread, for as long as it runs), and maps every buffer it is handed
//! (`AddStream`: the sealed memfd and the consumer's wakeup eventfd). Once the daemon
//! sent `Ready` it prints `ready STREAMS SIZE` (a memfd's size: ring and spare
//! sub-buffers), then obeys commands read from stdin,
//! one per line:
//!
//! - `seals`: on its first buffer, tries `ftruncate` to half and to twice the size and
//!   `fcntl(F_ADD_SEALS, F_SEAL_WRITE)`; prints `shrink R`, `grow R`, `seal-write R`
//!   (`R` is `ok` or the errno's name, e.g. `EPERM`), then `size N` (the memfd's size
//!   afterwards);
//! - `scribble MS`: for MS milliseconds, overwrites every buffer (control page and data)
//!   with random bytes, extreme counter values and forged packet headers, and rings the
//!   consumer's wakeup eventfds after each round; leaves every discard counter near
//!   2^64; then prints `scribbled ROUNDS`;
//! - `quit` (or the end of stdin): exits 0.
//!
//! It exits 1 (after `error: ...` on stdout) if the registration fails.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use proto::event::{Base, EventDesc, FieldDesc, FieldType, IntType, LogLevel};
use proto::ring::layout::{self, packet, StreamIdentity};
use proto::ring::shm::Mapping;
use proto::ring::BufferConfig;
use proto::rundir;
use proto::wire::app::{AppMessage, DaemonMessage};
use proto::wire::socket;
use proto::wire::{WireError, VERSION};

/// One buffer the daemon handed over.
struct Buf {
    memfd: OwnedFd,
    wakeup: File,
    map: Mapping,
    config: BufferConfig,
    identity: StreamIdentity,
}

/// What the socket thread tells the main thread.
enum Event {
    Ready,
    Failed(String),
}

/// xorshift64*: cheap noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, b: &mut [u8]) {
        for c in b.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let dir = rundir::resolve().map_err(|e| e.to_string())?;
    let sock = socket::connect(&dir.join(rundir::APP_SOCKET)).map_err(|e| e.to_string())?;
    socket::set_timeout(sock.as_fd(), Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let hello = AppMessage::Hello {
        version: VERSION,
        pid: std::process::id(),
        procname: "hostile_app".into(),
        tracepoints: 1,
    };
    socket::send(sock.as_fd(), &hello, &[]).map_err(|e| format!("hello: {e}"))?;
    let desc = EventDesc {
        provider: "hostile".into(),
        name: "x".into(),
        loglevel: LogLevel::Info,
        model_emf_uri: None,
        fields: vec![FieldDesc {
            name: "v".into(),
            ty: FieldType::Integer(IntType::new(64, false, Base::Dec)),
        }],
    };
    socket::send(sock.as_fd(), &AppMessage::Tracepoints(vec![desc]), &[])
        .map_err(|e| format!("tracepoints: {e}"))?;

    let bufs: Arc<Mutex<Vec<Buf>>> = Arc::default();
    let quit = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let server = {
        let (bufs, quit) = (bufs.clone(), quit.clone());
        std::thread::spawn(move || serve(&sock, &bufs, &quit, &tx))
    };
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Event::Ready) => {}
        Ok(Event::Failed(e)) => return Err(e),
        Err(_) => return Err("no Ready from the daemon".into()),
    }
    {
        let b = bufs.lock().unwrap();
        let size = b.first().map_or(0, |b| b.map.len());
        say(&format!("ready {} {size}", b.len()));
    }
    let mut rng = Rng(u64::from(std::process::id()) << 32 | 0x9e37_79b9);
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["seals"] => seals(&bufs.lock().unwrap())?,
            ["scribble", ms] => {
                let ms: u64 = ms.parse().map_err(|_| format!("scribble {ms}?"))?;
                let rounds = scribble(&bufs, &mut rng, Duration::from_millis(ms));
                say(&format!("scribbled {rounds}"));
            }
            ["quit"] => break,
            _ => eprintln!("hostile_app: unknown command {line:?}"),
        }
    }
    quit.store(true, Ordering::SeqCst);
    let _ = server.join();
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Answers the daemon until the connection closes or `quit` is set.
fn serve(sock: &OwnedFd, bufs: &Mutex<Vec<Buf>>, quit: &AtomicBool, tx: &mpsc::Sender<Event>) {
    // Each channel's geometry and spare sub-buffers.
    let mut channels: HashMap<u64, (BufferConfig, u64)> = HashMap::new();
    let fail = |e: String| {
        let _ = tx.send(Event::Failed(e));
    };
    while !quit.load(Ordering::SeqCst) {
        let r = match socket::recv::<DaemonMessage>(sock.as_fd()) {
            Ok(r) => r,
            Err(WireError::Timeout) => continue,
            Err(e) => {
                eprintln!("hostile_app: daemon connection: {e}");
                return fail(format!("daemon connection: {e}"));
            }
        };
        let mut reply = None;
        match r.msg {
            DaemonMessage::Accepted { .. } => continue, // no reply
            DaemonMessage::Refused(why) => return fail(format!("refused: {why}")),
            DaemonMessage::AddChannel {
                key,
                config,
                spares,
                ..
            } => {
                channels.insert(key, (config, spares));
            }
            DaemonMessage::AddStream {
                channel, identity, ..
            } => match (channels.get(&channel), <[OwnedFd; 2]>::try_from(r.fds)) {
                (Some(&(config, spares)), Ok([memfd, wakeup])) => {
                    match Mapping::map(memfd.as_fd(), config.file_size(spares) as usize) {
                        Ok(map) => bufs.lock().unwrap().push(Buf {
                            memfd,
                            wakeup: File::from(wakeup),
                            map,
                            config,
                            identity,
                        }),
                        Err(e) => {
                            eprintln!("hostile_app: cannot map a buffer: {e}");
                            reply = Some(e.to_string());
                        }
                    }
                }
                _ => reply = Some("bad AddStream".into()),
            },
            DaemonMessage::SetEvents { .. } | DaemonMessage::RemoveChannel { .. } => {}
            DaemonMessage::Ready => {
                let _ = tx.send(Event::Ready);
            }
        }
        if let Err(e) = socket::send(sock.as_fd(), &AppMessage::Reply(reply), &[]) {
            return fail(format!("reply: {e}"));
        }
    }
}

fn errno_name(r: Result<(), i32>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(code) => format!("{:?}", Errno::from_raw(code)),
    }
}

/// Tries to resize the first buffer and to seal it against writes.
fn seals(bufs: &[Buf]) -> Result<(), String> {
    let b = bufs.first().ok_or("no buffer to resize")?;
    let size = b.map.len() as u64;
    let file = File::from(b.memfd.try_clone().map_err(|e| e.to_string())?);
    let set_len = |len: u64| file.set_len(len).map_err(|e| e.raw_os_error().unwrap_or(0));
    say(&format!("shrink {}", errno_name(set_len(size / 2))));
    say(&format!("grow {}", errno_name(set_len(size * 2))));
    let sealed = fcntl(
        b.memfd.as_raw_fd(),
        FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_WRITE),
    );
    say(&format!(
        "seal-write {}",
        errno_name(sealed.map(|_| ()).map_err(|e| e as i32))
    ));
    let now = file.metadata().map_err(|e| e.to_string())?.len();
    say(&format!("size {now}"));
    Ok(())
}

/// Values a counter should never hold.
fn extreme(rng: &mut Rng) -> u64 {
    match rng.next() % 6 {
        0 => 0,
        1 => u64::MAX,
        2 => 1 << 63,
        3 => u64::MAX - (rng.next() % 8192),
        4 => rng.next() % (1 << 24),
        _ => rng.next(),
    }
}

/// Damages every buffer, round after round, for `how_long`; returns the rounds.
fn scribble(bufs: &Mutex<Vec<Buf>>, rng: &mut Rng, how_long: Duration) -> u64 {
    let bufs = bufs.lock().unwrap();
    let t0 = Instant::now();
    let mut rounds = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    while t0.elapsed() < how_long {
        for b in bufs.iter() {
            let m = &b.map;
            let sub = b.config.subbuf_size as usize;
            match rounds % 4 {
                // Everything, control page and data.
                0 => {
                    let mut off = 0;
                    while off < m.len() {
                        let n = chunk.len().min(m.len() - off);
                        rng.fill(&mut chunk[..n]);
                        m.write_bytes(off, &chunk[..n]);
                        off += n;
                    }
                }
                // The control page.
                1 => {
                    rng.fill(&mut chunk[..layout::CONTROL_SIZE]);
                    m.write_bytes(0, &chunk[..layout::CONTROL_SIZE]);
                }
                // Extreme counters: positions, commit counts, discards, waiters.
                2 => {
                    let mut offs = vec![
                        layout::OFF_WRITE_POS,
                        layout::OFF_CONSUMED,
                        layout::OFF_DISCARDED,
                        layout::OFF_WAITER,
                        layout::OFF_WAITERS,
                        layout::OFF_LAST_TS,
                    ];
                    offs.extend(
                        (0..b.config.num_subbuf as usize).map(|i| layout::OFF_COMMIT + 8 * i),
                    );
                    for off in offs {
                        m.write_bytes(off, &extreme(rng).to_le_bytes());
                    }
                }
                // Forged packet headers: the right magic, uuid and stream ids, with
                // lying sizes, sequence numbers, timestamps and discard counts.
                _ => {
                    for i in 0..b.config.num_subbuf as usize {
                        let at = layout::CONTROL_SIZE + i * sub;
                        let mut h = [0u8; packet::HEADER_SIZE];
                        rng.fill(&mut h);
                        h[packet::MAGIC..][..4].copy_from_slice(&layout::CTF_MAGIC.to_le_bytes());
                        h[packet::UUID..][..16].copy_from_slice(&b.identity.uuid);
                        h[packet::STREAM_ID..][..4]
                            .copy_from_slice(&b.identity.stream_id.to_le_bytes());
                        h[packet::STREAM_INSTANCE_ID..][..8]
                            .copy_from_slice(&b.identity.stream_instance_id.to_le_bytes());
                        h[packet::CPU_ID..][..4].copy_from_slice(&b.identity.cpu_id.to_le_bytes());
                        for f in [
                            packet::CONTENT_SIZE,
                            packet::PACKET_SIZE,
                            packet::PACKET_SEQ_NUM,
                            packet::TIMESTAMP_END,
                        ] {
                            h[f..][..8].copy_from_slice(&extreme(rng).to_le_bytes());
                        }
                        m.write_bytes(at, &h);
                        // Make the packet look complete more often than not.
                        let commit = if rng.next().is_multiple_of(2) {
                            u64::MAX / 2
                        } else {
                            extreme(rng)
                        };
                        m.write_bytes(layout::OFF_COMMIT + 8 * i, &commit.to_le_bytes());
                    }
                    let wp = (rng.next() % 64) * sub as u64;
                    m.write_bytes(layout::OFF_WRITE_POS, &wp.to_le_bytes());
                }
            }
            // Spurious wakeups for the consumer (errors: the counter is full; fine).
            let _ = (&b.wakeup).write(&1u64.to_ne_bytes());
        }
        rounds += 1;
    }
    // The last word: every discard counter claims nearly 2^64 dropped events (two of
    // them add up to more than a u64 holds).
    for (i, b) in bufs.iter().enumerate() {
        let lie = u64::MAX - i as u64;
        b.map.write_bytes(layout::OFF_DISCARDED, &lie.to_le_bytes());
    }
    rounds
}
