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
//!   ring full waits for the consumer before dropping the event (default 20000, at
//!   most 100000; 0 drops at once, as LTTng's default discard mode does);
//! - `LIBUST_TRACE_NAME` — the `trace_name` in the metadata (default: the program name);
//! - `LIBUST_DIRECT_IO=0` — write stream files through the page cache instead of with
//!   direct I/O;
//! - `LIBUST_DEBUG=1` — print the consumer's statistics at exit.
//!
//! One consumer thread does the work, as LTTng's consumer daemon does for its rings:
//! it wakes when a sub-buffer completes, checks each complete packet's header where it
//! lies, writes the packets straight from the ring to the stream file with direct I/O
//! (see [`write_packets`]), and only then gives their sub-buffers back to the writers.
//! Nothing is copied in this process, and with direct I/O the device reads the ring
//! itself: the consumer's share of the CPUs, which the traced program's own threads
//! need, is a few system calls per packet. It asks the scheduler for a short time
//! slice, so that it runs soon after it wakes even when the program keeps every CPU
//! busy; while it writes, a thread that finds its ring full waits for it (the blocking
//! timeout) before dropping an event.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ctf::metadata::{self, ClockDesc, Contexts, EnvValue, EventClass, StreamDesc, TraceDesc};
use proto::ring::layout::StreamIdentity;
use proto::ring::reader::{InPlace, PageBuf, RingReader, Taken, TakenInPlace, HEAD_SIZE};
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

/// Everything the consumer side needs.
struct Session {
    readers: Vec<RingReader>,
    /// The stream directory and its files, `channel0_<cpu>`, created on first write.
    dir: PathBuf,
    files: Vec<Option<File>>,
    /// Where packets are copied in overwrite mode, whose writers may take a
    /// sub-buffer back at any time (written out only at the end).
    scratch: PageBuf,
    /// The checked first pages of the packets being written in place.
    heads: PageBuf,
    overwrite: bool,
    finished: bool,
}

/// What the metadata file is made of; fixed once tracing starts.
struct Meta {
    dir: PathBuf,
    trace: TraceDesc,
    start: Sample,
    source: clock::Source,
    /// Serializes writers of the metadata file (the consumer thread and `finish`).
    write_lock: Mutex<()>,
}

struct State {
    /// The process that started tracing (children of `fork` only write events).
    owner_pid: u32,
    meta: Meta,
    session: Mutex<Session>,
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
        let (mut w, fd) = RingWriter::create(&name, cfg, id, Some(wakeup.clone()))?;
        if cfg.mode == Mode::Discard {
            w.set_full_wait(full_wait);
        }
        readers.push(RingReader::open(fd.as_fd(), cfg, id)?);
        writers.push(w);
    }

    let tracepoints = tracepoint::registered();
    let mut events = Vec::with_capacity(tracepoints.len());
    for (i, tp) in tracepoints.iter().enumerate() {
        events.push(EventClass {
            id: i as u32,
            stream_id: 0,
            desc: tp.desc().to_desc(),
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
        streams: vec![StreamDesc { id: 0, contexts }],
        events,
    };
    // Refuse bad descriptions now rather than at exit.
    metadata::generate(&trace)?;

    let session = Session {
        readers,
        dir: out.clone(),
        files: (0..ncpu).map(|_| None).collect(),
        scratch: PageBuf::new(0),
        heads: PageBuf::new(0),
        overwrite: cfg.mode == Mode::Overwrite,
        finished: false,
    };
    let meta = Meta {
        dir: out.clone(),
        trace,
        start,
        source,
        write_lock: Mutex::new(()),
    };
    if STATE
        .set(State {
            owner_pid: std::process::id(),
            meta,
            session: Mutex::new(session),
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
    sys::at_exit(finish);
    sys::install_stop_handlers();
    std::thread::Builder::new()
        .name("libust-consumer".into())
        .spawn(consumer_thread)
        .map_err(StandaloneError::Thread)?;
    Ok(())
}

/// Binds every tracepoint whose name matches one of `patterns` to the channel, with
/// its position in `tps` as event id.
fn enable_matching(tps: &[&'static Tracepoint], patterns: &[String], channel: &'static Channel) {
    for (i, tp) in tps.iter().enumerate() {
        let name = tp.full_name();
        let on = patterns.iter().any(|p| tracepoint::glob_match(p, &name));
        let list = if on {
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
        sys::iso8601_now().replace('+', "-")
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
        ("trace_creation_datetime".into(), s(&sys::iso8601_now())),
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

/// Time slice asked for the consumer thread: it runs briefly and often.
const CONSUMER_SLICE_NS: u64 = 100_000;

/// How long after the start of tracing the first metadata file is written: once the
/// TSC has been calibrated over 20 ms, which keeps the trace readable if the process is
/// killed with SIGKILL.
const FIRST_METADATA_NS: u64 = 20_000_000;

fn consumer_thread() {
    let Some(state) = STATE.get() else { return };
    proto::sched::request_short_slice(CONSUMER_SLICE_NS);
    let first_metadata_at = state.meta.start.mono_ns + FIRST_METADATA_NS;
    let mut metadata_written = false;
    loop {
        let timeout_ms = if metadata_written {
            200
        } else {
            let wait = first_metadata_at.saturating_sub(clock::monotonic_ns());
            wait.div_ceil(1_000_000).clamp(1, 200) as i32
        };
        if let Some(sig) = sys::wait_readable(state.wakeup.as_fd(), timeout_ms) {
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
                s.write_ready();
            }
        }
        if !metadata_written && clock::monotonic_ns() >= first_metadata_at {
            write_metadata(&state.meta);
            metadata_written = true;
        }
    }
}

/// Most packets written with one system call.
const WRITE_BATCH: usize = 32;

impl Session {
    /// Writes every complete packet of every ring to its stream file.
    fn write_ready(&mut self) {
        if self.overwrite {
            self.write_copies();
        } else {
            self.write_in_place();
        }
    }

    /// Discard mode: packets go to the file straight from the ring, a batch at a time,
    /// and their sub-buffers are released once written.
    fn write_in_place(&mut self) {
        if self.heads.capacity() < WRITE_BATCH * HEAD_SIZE {
            self.heads = PageBuf::new(WRITE_BATCH * HEAD_SIZE);
        }
        for cpu in 0..self.readers.len() {
            let reader = &mut self.readers[cpu];
            loop {
                let mut batch = Vec::new();
                let mut taken = 0;
                let heads = self.heads.as_mut_slice();
                while taken < WRITE_BATCH {
                    let head = &mut heads[batch.len() * HEAD_SIZE..];
                    match reader.take_in_place(head) {
                        TakenInPlace::Packet(p) => batch.push(p),
                        TakenInPlace::Corrupt(e) => {
                            eprintln!("libust: channel0_{cpu}: skipped a corrupted packet: {e}");
                        }
                        TakenInPlace::Empty => break,
                    }
                    taken += 1;
                }
                if !batch.is_empty() {
                    let heads = self.heads.bytes(batch.len() * HEAD_SIZE);
                    let packets: Vec<(&[u8], &InPlace)> =
                        heads.chunks(HEAD_SIZE).zip(&batch).collect();
                    write_packets(&self.dir, &mut self.files[cpu], cpu, batch.len(), |f| {
                        reader.write_in_place(f.as_fd(), &packets)
                    });
                }
                reader.release();
                if taken < WRITE_BATCH {
                    break;
                }
            }
        }
    }

    /// Overwrite mode (at the end of tracing): each packet is copied out of the ring
    /// and checked before it is written, since a writer may take its sub-buffer back.
    fn write_copies(&mut self) {
        for cpu in 0..self.readers.len() {
            let reader = &mut self.readers[cpu];
            if self.scratch.capacity() < reader.packet_size() {
                self.scratch = PageBuf::new(reader.packet_size());
            }
            loop {
                match reader.take(self.scratch.as_mut_slice()) {
                    Taken::Packet(len) => {
                        let bytes = self.scratch.bytes(len);
                        write_packets(&self.dir, &mut self.files[cpu], cpu, 1, |f| {
                            f.write_all(bytes)
                        });
                    }
                    Taken::Corrupt(e) => {
                        eprintln!("libust: channel0_{cpu}: skipped a corrupted packet: {e}");
                    }
                    Taken::Empty => break,
                }
            }
        }
    }
}

/// Whether stream files use direct I/O (`LIBUST_DIRECT_IO`, default on).
fn direct_io() -> bool {
    static DIRECT: OnceLock<bool> = OnceLock::new();
    *DIRECT.get_or_init(|| std::env::var("LIBUST_DIRECT_IO").map_or(true, |v| v != "0"))
}

/// Appends `count` packets to a stream file with `write`, creating the file on first
/// use.
///
/// Stream files are written with direct I/O (`O_DIRECT`) where the file system allows
/// it: packets are whole pages at page-aligned addresses, so the device reads them
/// where they are, without a copy into the page cache. On this project's VMs that copy
/// (about 0.2 ns per byte, 2.5 ns on memory never touched before) is what limits how
/// fast a consumer can drain. Where direct I/O is refused (EINVAL), the file is reopened
/// for ordinary buffered appends.
fn write_packets(
    dir: &Path,
    file: &mut Option<File>,
    cpu: usize,
    count: usize,
    mut write: impl FnMut(&mut File) -> std::io::Result<()>,
) {
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
    let mut res = write(f);
    if matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
        // Direct I/O refused for this file or buffer: continue buffered. (A refused
        // direct write writes nothing, so the whole batch is written again.)
        match fs::OpenOptions::new().append(true).open(&path) {
            Ok(buffered) => {
                *f = buffered;
                res = write(f);
            }
            Err(e) => res = Err(e),
        }
    }
    if let Err(e) = res {
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
    // Write out every complete packet; then make sure the trace reports every
    // discarded event, and write that packet too.
    s.write_ready();
    if s.readers
        .iter()
        .any(|r| r.report_final_discards(clock::now))
    {
        s.write_ready();
    }
    write_metadata(&state.meta);
    s.finished = true;
    if std::env::var_os("LIBUST_DEBUG").is_some() {
        eprintln!(
            "libust: ring discards {:?}",
            s.readers
                .iter()
                .map(|r| r.discarded_hint())
                .collect::<Vec<_>>()
        );
    }
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
    let mut trace = meta.trace.clone();
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
