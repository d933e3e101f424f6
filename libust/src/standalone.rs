//! Standalone mode: the program records its own events, with no daemon.
//!
//! Enabled by `LIBUST_TRACE_DIR=<dir>` in the environment when the program starts.
//! The same per-CPU ring buffers as in daemon mode are created in sealed memfds; an
//! in-process consumer thread drains complete packets into
//! `<dir>/ust/uid/<uid>/64-bit/channel0_<cpu>` and writes `metadata` beside them. At
//! normal exit (`atexit`) and on SIGTERM/SIGINT (when the program has not installed its
//! own handler) the open packets are flushed and everything is written out before the
//! process ends.
//!
//! Other variables:
//! - `LIBUST_EVENTS=<glob>,...` — which events to record (default `*`);
//! - `LIBUST_CONTEXTS=vpid,vtid,procname` — per-event contexts (default none);
//! - `LIBUST_SUBBUF_SIZE`, `LIBUST_NUM_SUBBUF` — buffer geometry (default LTTng's
//!   4 × 512 KiB per CPU); `LIBUST_OVERWRITE=1` — flight-recorder mode (the buffers
//!   are written out only at exit);
//! - `LIBUST_BLOCKING_TIMEOUT_US` — in discard mode, how long a thread that finds its
//!   ring full waits for the consumer before dropping the event (default and at most
//!   100000; 0 drops at once, as LTTng's default discard mode does);
//! - `LIBUST_TRACE_NAME` — the `trace_name` in the metadata (default: the program name);
//! - `LIBUST_QUEUE_SIZE` — most bytes of complete packets held between the drain thread
//!   and the file writer (default 64 MiB), shared out among the CPUs' rings as spare
//!   sub-buffers (at least 2 per ring); memory is touched only as far as the disk lags;
//! - `LIBUST_DIRECT_IO=0` — write stream files through the page cache instead of with
//!   direct I/O;
//! - `LIBUST_DEBUG=1` — print the consumer's statistics at exit.
//!
//! Two threads do the work. The drain thread wakes when a sub-buffer completes, takes
//! each complete packet out of the ring and queues it; the writer thread writes queued
//! packets to the stream files. A packet leaves the ring without a copy: each ring's
//! memfd holds spare sub-buffers beside the ring, and the drain thread exchanges the
//! packet's sub-buffer for a spare one (the ring's slot now shows the spare, see
//! `proto::ring::layout`), frees the slot at once, and hands the sub-buffer to the
//! writer thread, which writes it with direct I/O straight from the memfd and then
//! returns it as a spare. A write that stalls for milliseconds (page-cache
//! allocation, a busy disk) then costs spares instead of ring space: at 30 M events/s
//! a 2 MiB ring lasts 2 ms. (Overwrite mode, written out at exit, copies.) Both threads ask
//! the scheduler for a short time slice, so that they run soon after they wake even
//! when the traced program keeps every CPU busy, and stream files are written with
//! direct I/O in batches (see [`write_packets`]).

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use ctf::metadata::{
    self, ClockDesc, Contexts, EnvValue, EventClass, EventHeader, StreamDesc, TraceDesc,
};
use proto::ring::layout::StreamIdentity;
use proto::ring::reader::{Exchanged, Held, PageBuf, RingReader, Taken};
use proto::ring::stream_file::{each_write, write_all_vectored, WRITE_BYTES};
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

use crate::clock::{self, Sample};
use crate::fastpath::{self, Bound, Channel};
use crate::sys;
use crate::tracepoint::{self, Tracepoint};

/// Why standalone tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error("cannot create the trace directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad buffer settings: {0}")]
    Config(#[from] proto::ring::ConfigError),
    #[error("cannot create the ring buffers: {0}")]
    Buffers(#[from] proto::ring::writer::WriterError),
    #[error("cannot map the ring buffers for reading: {0}")]
    Reader(#[from] proto::ring::shm::ShmError),
    #[error("cannot create the consumer wakeup eventfd: {0}")]
    Eventfd(std::io::Error),
    #[error("cannot start the consumer threads: {0}")]
    Thread(std::io::Error),
    #[error("{name} must be a number, not '{value}'")]
    BadNumber { name: &'static str, value: String },
    #[error("{name} must be at most {max}, not {value}")]
    TooLarge {
        name: &'static str,
        value: u64,
        max: u64,
    },
    #[error("cannot generate the metadata: {0}")]
    Metadata(#[from] metadata::MetadataError),
}

/// How long a writer waits for room in a full ring before dropping its event, by
/// default (`LIBUST_BLOCKING_TIMEOUT_US`; 0 drops at once like LTTng's discard mode).
/// See [`proto::ring::writer::DEFAULT_BLOCKING_TIMEOUT_US`] for the measurements.
const DEFAULT_FULL_WAIT_US: u64 = proto::ring::writer::DEFAULT_BLOCKING_TIMEOUT_US;

/// Most spare sub-buffers per ring (`LIBUST_QUEUE_SIZE` is shared out among the rings
/// as spares; at least 2 each).
const MAX_SPARES: u64 = 4096;

/// Everything the consumer side needs.
struct Session {
    readers: Vec<RingReader>,
    /// Packets for the writer thread.
    queue: mpsc::Sender<ToWriter>,
    overwrite: bool,
    finished: bool,
}

/// What the metadata file is made of; fixed once tracing starts.
struct Meta {
    dir: PathBuf,
    /// Grows when tracepoints are registered while tracing (see [`add_late`]).
    trace: Mutex<TraceDesc>,
    start: Sample,
    source: clock::Source,
    /// Serializes writers of the metadata file (the writer thread and `finish`).
    write_lock: Mutex<()>,
}

/// What the drain thread sends the writer thread.
enum ToWriter {
    Packet {
        cpu: usize,
        data: Out,
    },
    /// Acknowledge once everything sent before has been written.
    Sync(mpsc::Sender<()>),
}

/// A packet on its way to its stream file.
enum Out {
    /// Still in the ring's memfd, in a sub-buffer exchanged for a spare (discard mode).
    Held(Held),
    /// Copied out of the ring: the first `len` bytes (overwrite mode, at exit).
    Copied(PageBuf, usize),
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Held(h) => h.len(),
            Out::Copied(_, len) => *len,
        }
    }
}

/// Packet buffers, recycled between the drain and writer threads, bounded in bytes.
struct Pool {
    free: Mutex<Vec<PageBuf>>,
    allocated: AtomicUsize,
    cap: usize,
    /// Set when `take` found no buffer: the writer then wakes the drain thread.
    starved: AtomicBool,
    /// The longest single write of packets so far, in ns (for `LIBUST_DEBUG`): while
    /// the queue is full, writers that wait for room wait for writes to return.
    longest_write_ns: AtomicU64,
    /// Bytes of packets in spare sub-buffers on their way to disk, and the most at
    /// once (for `LIBUST_DEBUG`).
    held: AtomicUsize,
    held_peak: AtomicUsize,
}

impl Pool {
    fn take(&self, size: usize) -> Option<PageBuf> {
        if let Some(b) = self.free.lock().ok()?.pop() {
            return Some(b);
        }
        let used = self.allocated.fetch_add(size, Ordering::Relaxed);
        if used + size > self.cap && used > 0 {
            self.allocated.fetch_sub(size, Ordering::Relaxed);
            self.starved.store(true, Ordering::Release);
            return None;
        }
        Some(PageBuf::new(size))
    }

    fn give(&self, b: PageBuf) {
        if let Ok(mut free) = self.free.lock() {
            free.push(b);
        }
    }
}

struct State {
    /// The process that started tracing (children of `fork` only write events).
    owner_pid: u32,
    meta: Meta,
    session: Mutex<Session>,
    pool: Pool,
    wakeup: Arc<OwnedFd>,
    stop: AtomicBool,
}

static STATE: OnceLock<State> = OnceLock::new();

/// Starts standalone tracing if `LIBUST_TRACE_DIR` is set. Called once, before `main`.
pub(crate) fn init_from_env() {
    let Some(dir) = std::env::var_os("LIBUST_TRACE_DIR") else {
        return;
    };
    if let Err(e) = start(Path::new(&dir)) {
        eprintln!("libust: standalone tracing disabled: {e}");
    }
}

fn env_u64(name: &'static str, default: u64) -> Result<u64, StandaloneError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => parse_size(&v).ok_or(StandaloneError::BadNumber { name, value: v }),
    }
}

/// Parses `4096`, `64k`, `1M`.
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1024),
        'm' | 'M' => (&v[..v.len() - 1], 1024 * 1024),
        'g' | 'G' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

fn contexts_from_env() -> Contexts {
    let mut c = Contexts::default();
    if let Ok(v) = std::env::var("LIBUST_CONTEXTS") {
        for name in v.split(',').map(str::trim) {
            match name {
                "vpid" => c.vpid = true,
                "vtid" => c.vtid = true,
                "procname" => c.procname = true,
                "" => {}
                other => eprintln!(
                    "libust: ignoring unknown context '{other}' (known: vpid, vtid, procname)"
                ),
            }
        }
    }
    c
}

fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into())
}

fn start(dir: &Path) -> Result<(), StandaloneError> {
    let source = clock::init();
    let start = Sample::take();
    let cfg = BufferConfig {
        subbuf_size: env_u64("LIBUST_SUBBUF_SIZE", BufferConfig::DEFAULT.subbuf_size)?,
        num_subbuf: env_u64("LIBUST_NUM_SUBBUF", BufferConfig::DEFAULT.num_subbuf)?,
        mode: if std::env::var("LIBUST_OVERWRITE").is_ok_and(|v| v == "1") {
            Mode::Overwrite
        } else {
            Mode::Discard
        },
    };
    cfg.validate()?;
    let name = "LIBUST_BLOCKING_TIMEOUT_US";
    let (wait_us, max) = (
        env_u64(name, DEFAULT_FULL_WAIT_US)?,
        proto::ring::writer::MAX_BLOCKING_TIMEOUT_US,
    );
    if wait_us > max {
        return Err(StandaloneError::TooLarge {
            name,
            value: wait_us,
            max,
        });
    }
    let full_wait = Duration::from_micros(wait_us);
    let contexts = contexts_from_env();
    let patterns: Vec<String> = std::env::var("LIBUST_EVENTS")
        .unwrap_or_else(|_| "*".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();

    let uid = sys::getuid();
    let (out, per_process) = claim_output_dir(dir, uid)?;

    let uuid = random_uuid();
    let wakeup = Arc::new(sys::eventfd().map_err(StandaloneError::Eventfd)?);
    let ncpu = sys::possible_cpus();
    let queue_size = env_u64("LIBUST_QUEUE_SIZE", 64 << 20)?;
    let spares = match cfg.mode {
        Mode::Discard => (queue_size / cfg.subbuf_size / ncpu as u64).clamp(2, MAX_SPARES),
        Mode::Overwrite => 0,
    };
    let mut writers = Vec::with_capacity(ncpu);
    let mut readers = Vec::with_capacity(ncpu);
    for cpu in 0..ncpu {
        let id = StreamIdentity {
            uuid,
            stream_id: 0,
            stream_instance_id: cpu as u64,
            cpu_id: cpu as u32,
        };
        let name = CString::new(format!("libust-channel0-{cpu}")).unwrap_or_default();
        let (mut w, fd) =
            RingWriter::create_with_spares(&name, cfg, id, Some(wakeup.clone()), spares)?;
        if cfg.mode == Mode::Discard {
            w.set_full_wait(full_wait);
        }
        readers.push(RingReader::open_with_spares(fd.as_fd(), cfg, id, spares)?);
        writers.push(w);
    }

    // Event ids are positions in this list, the recorded events first: ids below 31
    // get the 4-byte compact event header.
    let mut tracepoints = tracepoint::registered_and_watch(queue_late);
    tracepoints.sort_by_cached_key(|tp| !matches_any(&patterns, tp));
    let mut events = Vec::with_capacity(tracepoints.len());
    for (i, tp) in tracepoints.iter().enumerate() {
        events.push(EventClass {
            id: i as u32,
            stream_id: 0,
            desc: tp.to_desc(),
        });
    }
    let trace = TraceDesc {
        uuid,
        clock: ClockDesc {
            name: "monotonic".into(),
            uuid: clock::boot_id(),
            description: match source {
                clock::Source::Tsc => "Invariant TSC, calibrated against CLOCK_MONOTONIC".into(),
                clock::Source::Monotonic => "Monotonic Clock".into(),
            },
            freq: 1_000_000_000,
            offset_s: 0,
            offset: 0,
        },
        env: env_block(uid, per_process),
        streams: vec![StreamDesc {
            id: 0,
            header: EventHeader::Compact,
            contexts,
            more_contexts: Vec::new(),
        }],
        events,
    };
    // Refuse bad descriptions now rather than at exit.
    metadata::generate(&trace)?;

    let (queue, from_drain) = mpsc::channel();
    let session = Session {
        readers,
        queue,
        overwrite: cfg.mode == Mode::Overwrite,
        finished: false,
    };
    let meta = Meta {
        dir: out.clone(),
        trace: Mutex::new(trace),
        start,
        source,
        write_lock: Mutex::new(()),
    };
    if STATE
        .set(State {
            owner_pid: std::process::id(),
            meta,
            session: Mutex::new(session),
            pool: Pool {
                free: Mutex::new(Vec::new()),
                allocated: AtomicUsize::new(0),
                cap: queue_size as usize,
                starved: AtomicBool::new(false),
                longest_write_ns: AtomicU64::new(0),
                held: AtomicUsize::new(0),
                held_peak: AtomicUsize::new(0),
            },
            wakeup,
            stop: AtomicBool::new(false),
        })
        .is_err()
    {
        return Ok(());
    }
    if let Some(state) = STATE.get() {
        sys::set_signal_fd(state.wakeup.as_fd());
    }
    fastpath::init_process();
    let channel = fastpath::leak_channel(Channel {
        writers: writers.into_boxed_slice(),
        contexts,
    });
    enable_matching(&tracepoints, &patterns, channel);
    if let Ok(mut late) = LATE.lock() {
        late.ready = Some((channel, patterns));
    }
    add_late();
    sys::at_exit(finish);
    sys::install_stop_handlers();
    std::thread::Builder::new()
        .name("libust-writer".into())
        .spawn(move || writer_thread(out, ncpu, from_drain))
        .map_err(StandaloneError::Thread)?;
    std::thread::Builder::new()
        .name("libust-drain".into())
        .spawn(drain_thread)
        .map_err(StandaloneError::Thread)?;
    Ok(())
}

/// Tracepoints registered after tracing started, waiting for [`add_late`].
struct Late {
    queued: Vec<&'static Tracepoint>,
    /// The channel and the event patterns, once tracing runs.
    ready: Option<(&'static Channel, Vec<String>)>,
}

static LATE: Mutex<Late> = Mutex::new(Late {
    queued: Vec::new(),
    ready: None,
});

/// The registry's watcher: queues tracepoints registered after start-up and adds them
/// at once when tracing already runs.
fn queue_late(tps: &[&'static Tracepoint]) {
    if let Ok(mut late) = LATE.lock() {
        late.queued.extend_from_slice(tps);
    }
    add_late();
}

/// Gives each queued tracepoint the next event id, records it if it matches the
/// patterns, and adds its class to the metadata (written at the end).
fn add_late() {
    let Some(state) = STATE.get() else { return };
    let Ok(mut late) = LATE.lock() else { return };
    let Some((channel, patterns)) = late.ready.clone() else {
        return;
    };
    let queued = std::mem::take(&mut late.queued);
    let Ok(mut trace) = state.meta.trace.lock() else {
        return;
    };
    let mut changed = false;
    for tp in queued {
        let id = trace.events.len() as u32;
        let class = EventClass {
            id,
            stream_id: 0,
            desc: tp.to_desc(),
        };
        // The description was validated at registration.
        trace.events.push(class);
        if matches_any(&patterns, tp) {
            changed |= fastpath::bind(
                tp,
                vec![Bound {
                    channel,
                    event_id: id,
                }],
            );
        }
    }
    drop(trace);
    drop(late);
    if changed {
        tracepoint::enabled_changed();
    }
}

/// Whether `tp`'s full name matches one of `patterns`.
fn matches_any(patterns: &[String], tp: &Tracepoint) -> bool {
    let name = tp.full_name();
    patterns.iter().any(|p| tracepoint::glob_match(p, &name))
}

/// Binds every tracepoint whose name matches one of `patterns` to the channel, with
/// its position in `tps` as event id.
fn enable_matching(tps: &[&'static Tracepoint], patterns: &[String], channel: &'static Channel) {
    for (i, tp) in tps.iter().enumerate() {
        let list = if matches_any(patterns, tp) {
            vec![Bound {
                channel,
                event_id: i as u32,
            }]
        } else {
            Vec::new()
        };
        fastpath::bind(tp, list);
    }
}

/// Picks the directory this process writes its streams to: LTTng's per-user
/// `ust/uid/<uid>/64-bit/` for the first process, and for any other process tracing
/// into the same directory at the same time (a script running several instrumented
/// programs, a fork that execs) LTTng's per-process `ust/pid/<name>-<pid>-<datetime>/`,
/// so that no two processes ever write one file. Ownership is claimed with an
/// `O_EXCL` marker file (hidden from trace readers by its leading dot). Returns the
/// directory and whether it is per-process.
fn claim_output_dir(dir: &Path, uid: u32) -> Result<(PathBuf, bool), StandaloneError> {
    let mkdir = |p: &Path| {
        fs::create_dir_all(p).map_err(|source| StandaloneError::Dir {
            path: p.to_path_buf(),
            source,
        })
    };
    let per_uid = dir.join(format!("ust/uid/{uid}/64-bit"));
    mkdir(&per_uid)?;
    let claimed = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(per_uid.join(".libust-owner"))
        .map(|mut f| writeln!(f, "{}", std::process::id()))
        .is_ok();
    if claimed {
        return Ok((per_uid, false));
    }
    let per_pid = dir.join(format!(
        "ust/pid/{}-{}-{}",
        program_name(),
        std::process::id(),
        clock::iso8601_now().replace('+', "-")
    ));
    mkdir(&per_pid)?;
    Ok((per_pid, true))
}

fn env_block(uid: u32, per_process: bool) -> Vec<(String, EnvValue)> {
    let s = |v: &str| EnvValue::Str(v.to_string());
    let name = std::env::var("LIBUST_TRACE_NAME").unwrap_or_else(|_| program_name());
    let mut env = vec![
        ("hostname".into(), s(&sys::hostname())),
        ("domain".into(), s("ust")),
        ("tracer_name".into(), s("lttng-ust")),
        ("tracer_major".into(), EnvValue::Int(2)),
        ("tracer_minor".into(), EnvValue::Int(13)),
        ("tracer_patchlevel".into(), EnvValue::Int(0)),
        (
            "tracer_buffering_scheme".into(),
            s(if per_process { "pid" } else { "uid" }),
        ),
        ("architecture_bit_width".into(), EnvValue::Int(64)),
        ("trace_name".into(), s(&name)),
        ("trace_creation_datetime".into(), s(&clock::iso8601_now())),
        ("libust_mode".into(), s("standalone")),
    ];
    if per_process {
        let pid = i64::from(std::process::id());
        env.push(("tracer_buffering_id".into(), EnvValue::Int(pid)));
        env.push(("vpid".into(), EnvValue::Int(pid)));
        env.push(("procname".into(), s(&program_name())));
    } else {
        env.push(("tracer_buffering_id".into(), EnvValue::Int(i64::from(uid))));
    }
    env
}

fn random_uuid() -> [u8; 16] {
    fs::read_to_string("/proc/sys/kernel/random/uuid")
        .ok()
        .and_then(|s| metadata::parse_uuid(&s))
        .unwrap_or_else(|| {
            let t = clock::realtime_ns().to_le_bytes();
            let p = std::process::id().to_le_bytes();
            let mut u = [0u8; 16];
            u[..8].copy_from_slice(&t);
            u[8..12].copy_from_slice(&p);
            u
        })
}

/// Time slice asked for the consumer threads: they run briefly and often.
const CONSUMER_SLICE_NS: u64 = 100_000;

fn drain_thread() {
    let Some(state) = STATE.get() else { return };
    proto::sched::request_short_slice(CONSUMER_SLICE_NS);
    loop {
        if let Some(sig) = sys::wait_readable(state.wakeup.as_fd(), 200) {
            // A stop signal arrived: finish, then die of it as the program would have.
            finish();
            sys::reraise(sig);
        }
        if state.stop.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut s) = state.session.lock() {
            if s.finished {
                return;
            }
            if !s.overwrite {
                s.drain(&state.pool);
            }
        }
    }
}

fn writer_thread(dir: PathBuf, ncpu: usize, from_drain: mpsc::Receiver<ToWriter>) {
    proto::sched::request_short_slice(CONSUMER_SLICE_NS);
    let mut files: Vec<Option<File>> = (0..ncpu).map(|_| None).collect();
    // A first metadata file, written once the TSC has been calibrated over 20 ms, keeps
    // the trace readable if the process is killed with SIGKILL.
    let first_metadata_at = clock::monotonic_ns() + 20_000_000;
    let mut metadata_written = false;
    let mut batch: Vec<(usize, Out)> = Vec::new();
    loop {
        let msg = if metadata_written {
            match from_drain.recv() {
                Ok(m) => m,
                Err(_) => return,
            }
        } else {
            let wait = first_metadata_at.saturating_sub(clock::monotonic_ns());
            match from_drain.recv_timeout(Duration::from_nanos(wait)) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(state) = STATE.get() {
                        write_metadata(&state.meta);
                    }
                    metadata_written = true;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        };
        // Take whatever else is queued, so that packets of one stream go out in one
        // large write (direct I/O is faster with large requests).
        let mut sync = None;
        let mut next = Some(msg);
        while let Some(m) = next.take() {
            match m {
                ToWriter::Packet { cpu, data } => batch.push((cpu, data)),
                ToWriter::Sync(ack) => {
                    sync = Some(ack);
                    break;
                }
            }
            if batch.len() < WRITE_BATCH {
                next = from_drain.try_recv().ok();
            }
        }
        write_batch(&dir, &mut files, &mut batch);
        if let Some(ack) = sync {
            for f in files.iter_mut().flatten() {
                let _ = f.flush();
            }
            let _ = ack.send(());
        }
    }
}

/// Most packets taken from the queue in one go.
const WRITE_BATCH: usize = 32;

/// Writes a batch of packets, each stream's in order, in vectored writes of at most
/// [`WRITE_BYTES`] (or one packet), and frees each write's packets (spare sub-buffers,
/// queue buffers) as soon as it is done: while the disk is slower than the program,
/// the drain thread, and through it every writer waiting for room, waits for that.
fn write_batch(dir: &Path, files: &mut [Option<File>], batch: &mut Vec<(usize, Out)>) {
    let Some(state) = STATE.get() else { return };
    let held = |o: &Out| matches!(o, Out::Held(_));
    each_write(
        batch,
        WRITE_BYTES,
        Out::len,
        |a, b| held(a) == held(b),
        |cpu, write| {
            if let Some(file) = files.get_mut(cpu) {
                let start = clock::monotonic_ns();
                write_packets(dir, file, cpu, &write);
                let took = clock::monotonic_ns().saturating_sub(start);
                state
                    .pool
                    .longest_write_ns
                    .fetch_max(took, Ordering::Relaxed);
            }
            give_back(&state.pool, write);
        },
    );
}

/// Frees written packets: spare sub-buffers go back to their ring's reader, queue
/// buffers to the pool; wakes the drain thread if it waits for either.
fn give_back(pool: &Pool, packets: impl IntoIterator<Item = Out>) {
    for out in packets {
        match out {
            Out::Held(held) => {
                pool.held.fetch_sub(held.len(), Ordering::Relaxed);
                drop(held); // the sub-buffer is a spare again
            }
            Out::Copied(data, _) => pool.give(data),
        }
    }
    if pool.starved.swap(false, Ordering::SeqCst) {
        if let Some(state) = STATE.get() {
            sys::wake(state.wakeup.as_fd());
        }
    }
}

/// Whether stream files use direct I/O (`LIBUST_DIRECT_IO`, default on).
fn direct_io() -> bool {
    static DIRECT: OnceLock<bool> = OnceLock::new();
    *DIRECT.get_or_init(|| std::env::var("LIBUST_DIRECT_IO").map_or(true, |v| v != "0"))
}

/// Appends packets to a stream file, creating it on first use.
///
/// Stream files are written with direct I/O (`O_DIRECT`) where the file system allows
/// it: packets are whole pages in page-aligned buffers, so the data goes from our buffer
/// to the device without a copy into the page cache. On this project's VMs that copy
/// (about 0.2 ns per byte, 2.5 ns on memory never touched before) is what limits how
/// fast a consumer can drain. Where direct I/O is refused (EINVAL), the file is reopened
/// for ordinary buffered appends.
fn write_packets(dir: &Path, file: &mut Option<File>, cpu: usize, packets: &[Out]) {
    let path = dir.join(format!("channel0_{cpu}"));
    if file.is_none() {
        let flags = if direct_io() { libc::O_DIRECT } else { 0 };
        let opened = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(flags)
            .open(&path);
        match opened.or_else(|_| File::create(&path)) {
            Ok(f) => *file = Some(f),
            Err(e) => {
                eprintln!("libust: cannot create {}: {e}", path.display());
                return;
            }
        }
    }
    let Some(f) = file else { return };
    // Where this batch starts: on a failed write (a full disk) the file is cut back
    // here, so that it never ends with half a packet and stays readable.
    let start = f.stream_position().ok();
    let mut res = write_out(f, packets);
    if matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
        // Direct I/O refused for this file or buffer: continue buffered. (A refused
        // direct write writes nothing, so the whole batch is written again.)
        match fs::OpenOptions::new().append(true).open(&path) {
            Ok(buffered) => {
                *f = buffered;
                res = write_out(f, packets);
            }
            Err(e) => res = Err(e),
        }
    }
    if let Err(e) = res {
        let count = packets.len();
        if let Some(start) = start {
            let _ = f
                .set_len(start)
                .and_then(|_| f.seek(SeekFrom::Start(start)));
        }
        eprintln!(
            "libust: cannot write {}: {e} ({count} packets lost; the file keeps the packets before them)",
            path.display()
        );
    }
}

/// Writes `packets`, all held or all copied, at the file's position.
fn write_out(f: &mut File, packets: &[Out]) -> std::io::Result<()> {
    let mut held = Vec::new();
    let mut copied = Vec::new();
    for out in packets {
        match out {
            Out::Held(h) => held.push(h),
            Out::Copied(data, len) => copied.push(IoSlice::new(data.bytes(*len))),
        }
    }
    if copied.is_empty() {
        Held::write_all(f.as_fd(), &held)
    } else {
        write_all_vectored(f, &copied)
    }
}

/// How long [`finish`] waits for threads still inside an event in a closed packet: a
/// commit takes nanoseconds, unless the thread is stopped (a debugger) or gone.
const FINAL_COMMIT_WAIT_NS: u64 = 100_000_000;

/// Flushes the buffers, writes every remaining packet and the final metadata. Runs
/// once, at exit or on a stop signal.
pub(crate) fn finish() {
    let Some(state) = STATE.get() else { return };
    if std::process::id() != state.owner_pid {
        // A forked child shares the rings (its events reach the parent's trace) but
        // not the consumer threads: draining here would steal the parent's packets.
        return;
    }
    state.stop.store(true, Ordering::Release);
    let Ok(mut s) = state.session.lock() else {
        return;
    };
    if s.finished {
        return;
    }
    for r in &s.readers {
        r.flush(clock::now);
    }
    // Drain until every ring is empty, waiting for the writer to free buffers; then
    // make sure the trace reports every discarded event, and drain that too.
    s.drain_all(&state.pool, state.wakeup.as_fd());
    // A thread that was inside an event when its packet was closed above (or that the
    // stop signal interrupted there) commits it a moment later: until then the packet
    // is not complete and the drain skips it, with every event in it.
    let deadline = clock::monotonic_ns() + FINAL_COMMIT_WAIT_NS;
    while s.readers.iter().any(|r| r.unread_closed_packets() > 0)
        && clock::monotonic_ns() < deadline
    {
        std::thread::sleep(Duration::from_micros(200));
        s.drain_all(&state.pool, state.wakeup.as_fd());
    }
    if s.readers
        .iter()
        .any(|r| r.report_final_discards(clock::now))
    {
        s.drain_all(&state.pool, state.wakeup.as_fd());
    }
    let (ack, done) = mpsc::channel();
    if s.queue.send(ToWriter::Sync(ack)).is_ok() {
        let _ = done.recv();
    }
    write_metadata(&state.meta);
    s.finished = true;
    if std::env::var_os("LIBUST_DEBUG").is_some() {
        eprintln!(
            "libust: packets held at most {} KiB in spare sub-buffers, {} KiB in copies, longest write {} us, ring discards {:?}",
            state.pool.held_peak.load(Ordering::Relaxed) / 1024,
            state.pool.allocated.load(Ordering::Relaxed) / 1024,
            state.pool.longest_write_ns.load(Ordering::Relaxed) / 1000,
            s.readers
                .iter()
                .map(|r| r.discarded_hint())
                .collect::<Vec<_>>()
        );
    }
}

/// How a drain pass ended.
#[derive(Debug, PartialEq, Eq)]
enum Drained {
    /// Every ring is empty.
    All,
    /// The packet queue is full; some rings still hold complete packets.
    QueueFull,
}

impl Session {
    /// Drains until every ring is empty, waiting for free queue space as needed.
    fn drain_all(&mut self, pool: &Pool, wakeup: std::os::fd::BorrowedFd<'_>) {
        while self.drain(pool) == Drained::QueueFull {
            sys::wait_readable(wakeup, 10);
        }
    }

    /// Moves every complete packet from the rings to the writer's queue.
    fn drain(&mut self, pool: &Pool) -> Drained {
        for cpu in 0..self.readers.len() {
            loop {
                let out = match self.take(cpu, pool) {
                    Took::Packet(Out::Held(held)) => {
                        let now = pool.held.fetch_add(held.len(), Ordering::Relaxed);
                        pool.held_peak
                            .fetch_max(now + held.len(), Ordering::Relaxed);
                        Out::Held(held)
                    }
                    Took::Packet(out) => out,
                    Took::Corrupt(e) => {
                        eprintln!("libust: channel0_{cpu}: skipped a corrupted packet: {e}");
                        continue;
                    }
                    Took::Empty => break,
                    Took::Full => return Drained::QueueFull,
                };
                if let Err(mpsc::SendError(ToWriter::Packet { data, .. })) =
                    self.queue.send(ToWriter::Packet { cpu, data: out })
                {
                    give_back(pool, [data]);
                }
            }
        }
        Drained::All
    }

    /// Takes the next packet of `cpu`'s ring: in discard mode by exchanging its
    /// sub-buffer for a spare one, in overwrite mode by copying it.
    fn take(&mut self, cpu: usize, pool: &Pool) -> Took {
        let reader = &mut self.readers[cpu];
        if !self.overwrite {
            let mut taken = reader.take_exchanging();
            if matches!(taken, Exchanged::NoSpare) {
                // Announce the shortage, then look again: a spare freed in between
                // would otherwise wake nobody (see `give_back`).
                pool.starved.store(true, Ordering::SeqCst);
                taken = reader.take_exchanging();
            }
            return match taken {
                Exchanged::Packet(held) => Took::Packet(Out::Held(held)),
                Exchanged::Corrupt(e) => Took::Corrupt(e),
                Exchanged::Empty => Took::Empty,
                Exchanged::NoSpare => Took::Full,
            };
        }
        let Some(mut buf) = pool.take(reader.packet_size()) else {
            return Took::Full;
        };
        match reader.take(buf.as_mut_slice()) {
            Taken::Packet(len) => Took::Packet(Out::Copied(buf, len)),
            Taken::Corrupt(e) => {
                pool.give(buf);
                Took::Corrupt(e)
            }
            Taken::Empty => {
                pool.give(buf);
                Took::Empty
            }
        }
    }
}

/// What [`Session::take`] found.
enum Took {
    Packet(Out),
    Corrupt(proto::ring::reader::PacketError),
    Empty,
    /// Every spare sub-buffer (or queue buffer) is on its way to disk.
    Full,
}

/// Writes the metadata file, with the clock calibrated from the start of tracing to now.
fn write_metadata(meta: &Meta) {
    let _serialized = meta.write_lock.lock();
    // Calibrate the TSC over at least 10 ms, even for a very short run.
    let elapsed = clock::monotonic_ns().saturating_sub(meta.start.mono_ns);
    if meta.source == clock::Source::Tsc && elapsed < 10_000_000 {
        std::thread::sleep(Duration::from_nanos(10_000_000 - elapsed));
    }
    let now = Sample::take();
    let cal = clock::calibrate(meta.source, meta.start, now);
    let Ok(trace) = meta.trace.lock() else {
        return;
    };
    let mut trace = trace.clone();
    trace.clock.freq = cal.freq;
    trace.clock.offset_s = cal.offset_s;
    trace.clock.offset = cal.offset;
    let text = match metadata::generate(&trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("libust: cannot generate metadata: {e}");
            return;
        }
    };
    // Write beside, then rename: a reader never sees half a metadata file. The
    // temporary name starts with '.' so trace readers skip it.
    let tmp = meta.dir.join(".metadata.tmp");
    let res = fs::write(&tmp, text).and_then(|_| fs::rename(&tmp, meta.dir.join("metadata")));
    if let Err(e) = res {
        // The previous metadata file, if any, stays in place.
        let _ = fs::remove_file(&tmp);
        eprintln!("libust: cannot write {}/metadata: {e}", meta.dir.display());
    }
}
