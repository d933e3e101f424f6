//! Daemon mode: the user's session daemon decides what this program records.
//!
//! Chosen when the program starts without `LIBUST_TRACE_DIR` (and without
//! `LIBUST_DAEMON=0`). A background thread, `libust-listener`, does all the work; the
//! traced threads never wait for it and never touch the socket.
//!
//! 1. It checks the run directory (`proto::rundir`: owned by us, mode 0700), connects
//!    to its `app.sock` and checks that the listening process runs under our uid
//!    (`SO_PEERCRED`). Anything else and it does not talk, quietly.
//! 2. It registers: `Hello` (version, pid, process name, tracepoint count), then the
//!    descriptions of [`crate::registered`] in `Tracepoints` chunks, in that order
//!    (the position is the tracepoint index the daemon uses).
//! 3. It serves the daemon: `Accepted` sets the trace clock; `AddChannel` and its
//!    `AddStream`s map the channel's per-CPU buffers (sealed memfds, checked);
//!    `SetEvents` installs a complete set of (tracepoint, channel, event id) bindings
//!    at once; `RemoveChannel` unbinds a channel; `Ready` releases the start-up wait.
//!    Every message after `Accepted` gets a reply, an error text when it could not be
//!    applied (malformed, unknown channel, bad descriptor...); the conversation goes on.
//!
//! **Start-up.** The constructor that runs before `main` waits for `Ready`, so that the
//! events a program fires first are recorded when a session is already running, but at
//! most `LIBUST_REGISTER_TIMEOUT_MS` (default 200 ms; LTTng waits up to 3 s), and not at
//! all when no daemon listens (no socket, connection refused, run directory refused).
//!
//! **Tracepoints registered later** (a C provider in a library loaded with `dlopen`,
//! or in the program itself, whose constructors run after this library's): once the
//! daemon has sent `Ready`, the registering thread sends their descriptions on a
//! connection of its own (`MoreTracepoints`, with the index of the first), and waits,
//! at most `LIBUST_REGISTER_TIMEOUT_MS`, for the daemon to set them up: events fired
//! right after the registration returns are recorded when a session selects them.
//! Registrations before `Ready` are sent with the listener's first batch or, if they
//! arrive after it, right after `Ready`.
//!
//! **No daemon, or a daemon that goes away.** Without a daemon the thread tries again
//! every 500 ms (a `connect` that fails on a missing path: a few microseconds), so a
//! program started before its daemon registers when the daemon appears. When the
//! connection closes, every tracepoint is disabled at once (the program runs at the
//! cost of a disabled check again) and the thread goes back to trying. A `Refused`
//! registration is final: the program stays untraced. A daemon that stops answering
//! only stalls the listener thread (socket time-outs of 5 s).
//!
//! **Memory.** A traced thread may be in the middle of an event in a channel when it is
//! removed, and nothing tells us when it is done, so a channel's address range is never
//! unmapped. On `RemoveChannel` its pages are swapped for private zero pages instead
//! (`RingWriter::retire`): the shared memory is freed, and a late writer writes into
//! pages nobody reads. After a lost connection the mappings stay as they are (the
//! consumer may still drain them). Replaced binding lists stay allocated, a few bytes
//! each (see [`crate::fastpath`]).
//!
//! **fork.** A child is a new application. The `fork` handler (async-signal-safe work
//! only) closes the inherited connection, so that the daemon sees the parent leave when
//! it does, and unbinds every tracepoint so the child never writes into its parent's
//! channels. It leaves them enabled without a list: the child's first event disables
//! them all and starts the child's own listener, which registers like any program (the
//! child pays one evaluation of one event's arguments; a child that only `exec`s starts
//! nothing). Events the child fires before its registration completes are not recorded.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use proto::event::{Contexts, EventDesc};
use proto::ring::layout::StreamIdentity;
use proto::ring::writer::{self, RingWriter, WriterError};
use proto::ring::{BufferConfig, ConfigError, Mode};
use proto::rundir::{self, RundirError};
use proto::wire::app::{AppMessage, Binding, DaemonMessage, MAX_TRACEPOINTS};
use proto::wire::socket::{self, MAX_MESSAGE};
use proto::wire::{WireError, VERSION};

use crate::fastpath::{self, Bound, Channel};
use crate::sys;
use crate::tracepoint::{self, Tracepoint};

/// Longest start-up wait for `Ready` by default (`LIBUST_REGISTER_TIMEOUT_MS`).
const DEFAULT_REGISTER_TIMEOUT_MS: u64 = 200;
/// Pause between connection attempts while no daemon answers.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// Bound on every send and on waiting for `Accepted`.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Target size of one `Tracepoints` message (a quarter of the message limit's headroom).
const CHUNK_BYTES: usize = MAX_MESSAGE / 2;
/// Most streams (CPUs) one channel may have.
const MAX_STREAMS: u32 = 4096;
/// Longest a traced thread waits for room in a full buffer, whatever the daemon asks.
const MAX_FULL_WAIT: Duration = Duration::from_micros(writer::MAX_BLOCKING_TIMEOUT_US);
/// Most bindings one `SetEvents` sequence may carry.
const MAX_BINDINGS: usize = 1 << 20;

/// Why a connection to the session daemon ended (or never started).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("run directory refused: {0}")]
    Rundir(#[from] RundirError),
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("the socket is served by uid {peer}, not by us (uid {own})")]
    PeerUid { peer: u32, own: u32 },
    #[error("cannot encode tracepoint {name}: {source}")]
    Encode {
        name: String,
        source: postcard::Error,
    },
    #[error("unexpected {0} before registration was accepted")]
    Unexpected(&'static str),
}

/// Why one daemon message could not be applied (the text of the error reply).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("{0}")]
    Malformed(#[from] WireError),
    #[error("unexpected {0}")]
    Unexpected(&'static str),
    #[error("channel {0} already exists")]
    DuplicateChannel(u64),
    #[error("no channel {0}")]
    UnknownChannel(u64),
    #[error("channel {0} still misses streams")]
    Incomplete(u64),
    #[error("a channel has 1 to {MAX_STREAMS} streams, not {0}")]
    StreamCount(u32),
    #[error("stream {index} of channel {channel} is out of range or already added")]
    StreamIndex { channel: u64, index: u32 },
    #[error("bad buffer configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot map stream {index} of channel {channel}: {source}")]
    Map {
        channel: u64,
        index: u32,
        source: WriterError,
    },
    #[error("the second descriptor of a stream must be an eventfd")]
    NotEventfd,
    #[error("no tracepoint {index} (this application has {count})")]
    UnknownTracepoint { index: u32, count: usize },
    #[error("more than {MAX_BINDINGS} bindings in one set")]
    TooManyBindings,
}

/// How a conversation with the daemon ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The daemon closed the connection: try again later.
    Closed,
    /// The daemon refused this application: stay untraced.
    Refused,
}

/// Whether daemon mode was chosen at start-up.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The open connection's descriptor (-1 when none), for the `fork` child handler.
static CONN_FD: AtomicI32 = AtomicI32::new(-1);
/// The run directory, resolved once at start-up (children of `fork` reuse it).
static RUNDIR: OnceLock<Option<PathBuf>> = OnceLock::new();
/// `LIBUST_DEBUG=1`.
static DEBUG: AtomicBool = AtomicBool::new(false);

/// The connection's registered tracepoints by index, shared by the listener and the
/// threads that register more (see the module docs). `None` until `Ready`.
static READY: Mutex<Option<Registered>> = Mutex::new(None);
/// Tracepoints registered since the connection took its list, not yet sent.
static QUEUED: Mutex<Vec<&'static Tracepoint>> = Mutex::new(Vec::new());
/// One announcement of late tracepoints at a time.
static ANNOUNCING: Mutex<()> = Mutex::new(());
/// `LIBUST_REGISTER_TIMEOUT_MS`.
static REGISTER_TIMEOUT: Mutex<Duration> =
    Mutex::new(Duration::from_millis(DEFAULT_REGISTER_TIMEOUT_MS));

/// What the daemon knows of this program's tracepoints.
#[derive(Clone, Debug)]
struct Registered {
    dir: PathBuf,
    tracepoints: Arc<Mutex<Vec<&'static Tracepoint>>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The registry's watcher in daemon mode: queues tracepoints registered after the
/// connection took its list (sent by [`announce_late`]).
fn queue_late(tps: &[&'static Tracepoint]) {
    locked(&QUEUED).extend_from_slice(tps);
}

/// Sends the queued tracepoints to the daemon, if it is ready for them, and waits for
/// it to set them up (bounded). Called by a thread that registered tracepoints, after
/// the registry is unlocked; does nothing outside daemon mode.
pub(crate) fn announce_late() {
    if !ACTIVE.load(Ordering::Acquire) {
        return;
    }
    let _one = locked(&ANNOUNCING);
    let Some(reg) = locked(&READY).clone() else {
        return;
    };
    let (first, descs) = {
        let mut known = locked(&reg.tracepoints);
        let first = known.len();
        for tp in std::mem::take(&mut *locked(&QUEUED)) {
            if !known.iter().any(|k| std::ptr::eq(*k, tp)) {
                known.push(tp);
            }
        }
        let descs: Vec<EventDesc> = known[first..].iter().map(|tp| tp.to_desc()).collect();
        (first, descs)
    };
    if descs.is_empty() {
        return;
    }
    let timeout = *locked(&REGISTER_TIMEOUT);
    if let Err(e) = send_more(&reg.dir, first, descs, timeout) {
        debug(format_args!(
            "the session daemon did not take the tracepoints registered late: {e}"
        ));
    }
}

/// One `MoreTracepoints` exchange on a connection of its own.
fn send_more(
    dir: &Path,
    first: usize,
    descs: Vec<EventDesc>,
    timeout: Duration,
) -> Result<(), SessionError> {
    let sock = connect(dir)?;
    socket::set_timeout(sock.as_fd(), Some(timeout.max(Duration::from_millis(1))))?;
    let mut first = first;
    for chunk in chunks(&descs)? {
        let n = chunk.len();
        let msg = AppMessage::MoreTracepoints {
            first: first as u32,
            descs: chunk,
        };
        socket::send(sock.as_fd(), &msg, &[])?;
        first += n;
    }
    socket::send(
        sock.as_fd(),
        &AppMessage::MoreTracepoints {
            first: first as u32,
            descs: Vec::new(),
        },
        &[],
    )?;
    match socket::recv::<DaemonMessage>(sock.as_fd())?.msg {
        DaemonMessage::Ready => Ok(()),
        DaemonMessage::Refused(why) => {
            debug(format_args!("late tracepoints refused: {why}"));
            Ok(())
        }
        _ => Err(SessionError::Unexpected("message")),
    }
}

/// Splits descriptions into messages of about [`CHUNK_BYTES`].
fn chunks(descs: &[EventDesc]) -> Result<Vec<Vec<EventDesc>>, SessionError> {
    let mut out = Vec::new();
    let mut chunk: Vec<EventDesc> = Vec::new();
    let mut size = 0;
    for desc in descs {
        let len = postcard::to_allocvec(desc)
            .map_err(|source| SessionError::Encode {
                name: desc.full_name(),
                source,
            })?
            .len();
        if !chunk.is_empty() && size + len > CHUNK_BYTES {
            out.push(std::mem::take(&mut chunk));
            size = 0;
        }
        chunk.push(desc.clone());
        size += len;
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    Ok(out)
}

/// Prints a diagnostic on stderr when `LIBUST_DEBUG=1`.
fn debug(msg: std::fmt::Arguments<'_>) {
    if DEBUG.load(Ordering::Relaxed) {
        eprintln!("libust[{}]: {msg}", std::process::id());
    }
}

/// Start-up rendezvous between the constructor and the listener thread.
#[derive(Debug, Default)]
struct Startup {
    done: Mutex<bool>,
    cv: Condvar,
}

impl Startup {
    /// Releases the constructor: `Ready` arrived, or there is nothing to wait for.
    fn release(&self) {
        if let Ok(mut d) = self.done.lock() {
            if !*d {
                *d = true;
                self.cv.notify_all();
            }
        }
    }

    /// Waits until released or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        if let Ok(d) = self.done.lock() {
            let _ = self.cv.wait_timeout_while(d, timeout, |done| !*done);
        }
    }
}

/// Starts daemon mode unless `LIBUST_DAEMON=0`. Called once, before `main`; returns
/// after registration completed, or after the bounded wait (see the module docs).
pub(crate) fn init_from_env() {
    if std::env::var_os("LIBUST_DAEMON").is_some_and(|v| v == "0") {
        return;
    }
    DEBUG.store(
        std::env::var_os("LIBUST_DEBUG").is_some_and(|v| v == "1"),
        Ordering::Relaxed,
    );
    let timeout_ms = std::env::var("LIBUST_REGISTER_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_REGISTER_TIMEOUT_MS);
    *locked(&REGISTER_TIMEOUT) = Duration::from_millis(timeout_ms);
    let dir = RUNDIR.get_or_init(|| rundir::resolve().ok()).clone();
    fastpath::init_process();
    ACTIVE.store(true, Ordering::Release);
    let startup = Arc::new(Startup::default());
    if spawn_listener(dir, startup.clone()) {
        startup.wait(Duration::from_millis(timeout_ms));
    }
}

/// Starts the listener of a forked child (from its first event; see the module docs).
pub(crate) fn start_after_fork() {
    let dir = RUNDIR.get().cloned().flatten();
    spawn_listener(dir, Arc::new(Startup::default()));
}

/// In a child of `fork` (async-signal-safe): closes the parent's connection, which the
/// child must not use nor keep open. Returns whether daemon mode is on.
pub(crate) fn forget_connection_after_fork() -> bool {
    let fd = CONN_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        sys::close_inherited(fd);
    }
    ACTIVE.load(Ordering::Acquire)
}

fn spawn_listener(dir: Option<PathBuf>, startup: Arc<Startup>) -> bool {
    let s = startup.clone();
    let spawned = std::thread::Builder::new()
        .name("libust-listener".into())
        .spawn(move || listen(dir, &s));
    if let Err(e) = &spawned {
        debug(format_args!("cannot start the listener thread: {e}"));
    }
    spawned.is_ok()
}

/// The listener thread: connect, serve, and try again while no daemon answers.
fn listen(dir: Option<PathBuf>, startup: &Startup) {
    let Some(dir) = dir else {
        debug(format_args!(
            "no run directory (set LTTNG_HOME, XDG_RUNTIME_DIR or HOME): not tracing"
        ));
        startup.release();
        return;
    };
    let mut last_error = String::new();
    loop {
        match session(&dir, startup) {
            Ok(End::Refused) => {
                startup.release();
                return;
            }
            Ok(End::Closed) => {
                debug(format_args!(
                    "the session daemon went away: tracing disabled"
                ));
                last_error.clear();
            }
            Err(e) => {
                let text = e.to_string();
                if text != last_error {
                    debug(format_args!("not connected to a session daemon: {text}"));
                    last_error = text;
                }
            }
        }
        startup.release();
        std::thread::sleep(RETRY_INTERVAL);
    }
}

/// Clears [`CONN_FD`] before the connection closes (declared after the socket, so it
/// drops first).
struct Published;

impl Drop for Published {
    fn drop(&mut self) {
        CONN_FD.store(-1, Ordering::Relaxed);
    }
}

/// Connects to the daemon's `app.sock` in `dir`, after checking the run directory,
/// and only if the listening process runs under our uid.
fn connect(dir: &Path) -> Result<OwnedFd, SessionError> {
    let uid = rundir::current_uid();
    rundir::check(dir, uid)?;
    let sock = socket::connect(&dir.join(rundir::APP_SOCKET))?;
    let peer = socket::peer_cred(sock.as_fd())?;
    if peer.uid != uid {
        return Err(SessionError::PeerUid {
            peer: peer.uid,
            own: uid,
        });
    }
    Ok(sock)
}

/// One conversation with the daemon, from connecting to the connection's end.
fn session(dir: &Path, startup: &Startup) -> Result<End, SessionError> {
    let sock = connect(dir)?;
    socket::set_timeout(sock.as_fd(), Some(IO_TIMEOUT))?;
    CONN_FD.store(sock.as_raw_fd(), Ordering::Relaxed);
    let _published = Published;

    let tracepoints = tracepoint::registered_and_watch(queue_late);
    register(sock.as_fd(), &tracepoints)?;
    match socket::recv_hello::<DaemonMessage>(sock.as_fd())?.msg {
        DaemonMessage::Accepted { version, clock } => {
            if version != VERSION {
                return Err(WireError::Version { peer: version }.into());
            }
            proto::clock::set_source(clock);
        }
        DaemonMessage::Refused(why) => {
            debug(format_args!(
                "the session daemon refused this program: {why}"
            ));
            return Ok(End::Refused);
        }
        _ => return Err(SessionError::Unexpected("message")),
    }
    debug(format_args!("registered with the session daemon"));
    let mut conn = Conn::new(dir, tracepoints);
    let end = serve(sock.as_fd(), &mut conn, startup);
    *locked(&READY) = None;
    // The daemon is gone (or broke the protocol): stop recording at once. The channels
    // stay mapped, as writers may be in the middle of an event.
    fastpath::unbind_all();
    tracepoint::enabled_changed();
    end
}

/// Sends `Hello` and the tracepoint descriptions.
fn register(sock: BorrowedFd<'_>, tracepoints: &[&'static Tracepoint]) -> Result<(), SessionError> {
    let hello = AppMessage::Hello {
        version: VERSION,
        pid: std::process::id(),
        procname: procname(),
        tracepoints: u32::try_from(tracepoints.len()).unwrap_or(MAX_TRACEPOINTS + 1),
    };
    socket::send(sock, &hello, &[])?;
    let descs: Vec<EventDesc> = tracepoints.iter().map(|tp| tp.to_desc()).collect();
    for chunk in chunks(&descs)? {
        socket::send(sock, &AppMessage::Tracepoints(chunk), &[])?;
    }
    Ok(())
}

/// Answers daemon messages until the connection closes.
fn serve(sock: BorrowedFd<'_>, conn: &mut Conn, startup: &Startup) -> Result<End, SessionError> {
    loop {
        let mut ready = false;
        let result = match socket::recv::<DaemonMessage>(sock) {
            Ok(r) => {
                ready = matches!(r.msg, DaemonMessage::Ready);
                conn.handle(r.msg, r.fds)
            }
            // An idle daemon: keep listening.
            Err(WireError::Timeout) => continue,
            Err(WireError::Closed) => return Ok(End::Closed),
            Err(WireError::Io(e)) => return Err(WireError::Io(e).into()),
            // Malformed (its descriptors are already closed): say so and go on.
            Err(e) => Err(MessageError::Malformed(e)),
        };
        let reply = match result {
            Ok(()) => None,
            Err(e) => {
                debug(format_args!("refused a daemon message: {e}"));
                Some(e.to_string())
            }
        };
        let sent = socket::send(sock, &AppMessage::Reply(reply), &[]);
        // `main` starts only once the daemon has its answer to `Ready`: a program
        // that exits at once must not take the reply with it.
        if ready {
            startup.release();
        }
        match sent {
            Ok(()) => {}
            Err(WireError::Closed) => return Ok(End::Closed),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The process name, as `comm` (at most 15 bytes).
fn procname() -> String {
    let mut name = std::fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim_end_matches('\n').to_string())
        .unwrap_or_default();
    while name.len() > 15 {
        name.pop();
    }
    name
}

/// A channel whose streams are still arriving.
#[derive(Debug)]
struct PendingChannel {
    config: BufferConfig,
    spares: u64,
    contexts: Contexts,
    full_wait: Duration,
    streams: Vec<Option<RingWriter>>,
}

/// What one connection has set up.
#[derive(Debug)]
struct Conn {
    dir: PathBuf,
    /// The registered tracepoints, by index (more arrive through [`announce_late`]).
    tracepoints: Arc<Mutex<Vec<&'static Tracepoint>>>,
    pending: HashMap<u64, PendingChannel>,
    channels: HashMap<u64, &'static Channel>,
    /// `SetEvents` bindings received since the last complete set.
    next_set: Vec<Binding>,
}

impl Conn {
    fn new(dir: &Path, tracepoints: Vec<&'static Tracepoint>) -> Conn {
        Conn {
            dir: dir.to_path_buf(),
            tracepoints: Arc::new(Mutex::new(tracepoints)),
            pending: HashMap::new(),
            channels: HashMap::new(),
            next_set: Vec::new(),
        }
    }

    fn handle(&mut self, msg: DaemonMessage, fds: Vec<OwnedFd>) -> Result<(), MessageError> {
        match msg {
            DaemonMessage::Accepted { .. } => Err(MessageError::Unexpected("Accepted")),
            DaemonMessage::Refused(_) => Err(MessageError::Unexpected("Refused")),
            DaemonMessage::AddChannel {
                key,
                config,
                spares,
                contexts,
                full_wait_us,
                streams,
            } => self.add_channel(key, config, spares, contexts, full_wait_us, streams),
            DaemonMessage::AddStream {
                channel,
                index,
                identity,
            } => self.add_stream(channel, index, identity, fds),
            DaemonMessage::SetEvents { bindings, last } => self.set_events(bindings, last),
            DaemonMessage::RemoveChannel { key } => self.remove_channel(key),
            DaemonMessage::Ready => {
                *locked(&READY) = Some(Registered {
                    dir: self.dir.clone(),
                    tracepoints: self.tracepoints.clone(),
                });
                // Tracepoints registered while this connection was being set up go
                // out now, from a thread of their own: the daemon sets them up by
                // talking to this one.
                if !locked(&QUEUED).is_empty() {
                    let _ = std::thread::Builder::new()
                        .name("libust-register".into())
                        .spawn(announce_late);
                }
                Ok(())
            }
        }
    }

    fn add_channel(
        &mut self,
        key: u64,
        config: BufferConfig,
        spares: u64,
        contexts: Contexts,
        full_wait_us: u64,
        streams: u32,
    ) -> Result<(), MessageError> {
        if self.pending.contains_key(&key) || self.channels.contains_key(&key) {
            return Err(MessageError::DuplicateChannel(key));
        }
        if streams == 0 || streams > MAX_STREAMS {
            return Err(MessageError::StreamCount(streams));
        }
        config.validate()?;
        let pending = PendingChannel {
            config,
            spares,
            contexts,
            full_wait: Duration::from_micros(full_wait_us).min(MAX_FULL_WAIT),
            streams: (0..streams).map(|_| None).collect(),
        };
        self.pending.insert(key, pending);
        Ok(())
    }

    fn add_stream(
        &mut self,
        channel: u64,
        index: u32,
        identity: StreamIdentity,
        fds: Vec<OwnedFd>,
    ) -> Result<(), MessageError> {
        let Some(p) = self.pending.get_mut(&channel) else {
            return Err(if self.channels.contains_key(&channel) {
                MessageError::StreamIndex { channel, index }
            } else {
                MessageError::UnknownChannel(channel)
            });
        };
        let slot = p
            .streams
            .get_mut(index as usize)
            .filter(|s| s.is_none())
            .ok_or(MessageError::StreamIndex { channel, index })?;
        let mut fds = fds.into_iter();
        let (Some(memfd), Some(wakeup)) = (fds.next(), fds.next()) else {
            return Err(WireError::FdCount {
                expected: 2,
                got: 0,
            }
            .into());
        };
        if !is_eventfd(wakeup.as_fd()) {
            return Err(MessageError::NotEventfd);
        }
        let wakeup = Some(Arc::new(wakeup));
        let mut w = RingWriter::open_with_spares(&memfd, p.config, identity, wakeup, p.spares)
            .map_err(|source| MessageError::Map {
                channel,
                index,
                source,
            })?;
        if p.config.mode == Mode::Discard {
            w.set_full_wait(p.full_wait);
        }
        *slot = Some(w);
        if p.streams.iter().all(Option::is_some) {
            if let Some(p) = self.pending.remove(&channel) {
                let writers: Vec<RingWriter> = p.streams.into_iter().flatten().collect();
                let ch = fastpath::leak_channel(Channel {
                    writers: writers.into_boxed_slice(),
                    contexts: p.contexts,
                });
                self.channels.insert(channel, ch);
            }
        }
        Ok(())
    }

    fn set_events(&mut self, bindings: Vec<Binding>, last: bool) -> Result<(), MessageError> {
        let mut first_error = None;
        let count = locked(&self.tracepoints).len();
        for b in bindings {
            let problem = if b.tracepoint as usize >= count {
                Some(MessageError::UnknownTracepoint {
                    index: b.tracepoint,
                    count,
                })
            } else if self.pending.contains_key(&b.channel) {
                Some(MessageError::Incomplete(b.channel))
            } else if !self.channels.contains_key(&b.channel) {
                Some(MessageError::UnknownChannel(b.channel))
            } else if self.next_set.len() >= MAX_BINDINGS {
                Some(MessageError::TooManyBindings)
            } else {
                self.next_set.push(b);
                None
            };
            if first_error.is_none() {
                first_error = problem;
            }
        }
        if last {
            let set = std::mem::take(&mut self.next_set);
            let tracepoints = locked(&self.tracepoints).clone();
            install(&tracepoints, &self.channels, &set);
        }
        first_error.map_or(Ok(()), Err)
    }

    fn remove_channel(&mut self, key: u64) -> Result<(), MessageError> {
        // A channel never bound was never written: dropping it unmaps its buffers.
        if self.pending.remove(&key).is_some() {
            return Ok(());
        }
        let Some(gone) = self.channels.remove(&key) else {
            return Err(MessageError::UnknownChannel(key));
        };
        self.next_set.retain(|b| b.channel != key);
        let tracepoints = locked(&self.tracepoints).clone();
        for tp in &tracepoints {
            let now = fastpath::bound(tp);
            if now.iter().any(|b| std::ptr::eq(b.channel, gone)) {
                let kept = now
                    .into_iter()
                    .filter(|b| !std::ptr::eq(b.channel, gone))
                    .collect();
                if fastpath::bind(tp, kept) {
                    tracepoint::enabled_changed();
                }
            }
        }
        // No new event picks the channel now; give its memory back (the channel
        // itself stays allocated for writers that still hold it).
        for w in gone.writers.iter() {
            if let Err(e) = w.retire() {
                debug(format_args!(
                    "cannot release a removed channel's buffer: {e}"
                ));
            }
        }
        Ok(())
    }
}

/// Installs a complete binding set: each tracepoint records into exactly the channels
/// the set names for it, and tracepoints it does not name are disabled. Bindings to
/// channels not in `channels` are ignored (checked by the caller).
fn install(
    tracepoints: &[&'static Tracepoint],
    channels: &HashMap<u64, &'static Channel>,
    set: &[Binding],
) {
    let mut lists: Vec<Vec<Bound>> = vec![Vec::new(); tracepoints.len()];
    for b in set {
        let (Some(list), Some(channel)) = (
            lists.get_mut(b.tracepoint as usize),
            channels.get(&b.channel),
        ) else {
            continue;
        };
        list.push(Bound {
            channel,
            event_id: b.event_id,
        });
    }
    let mut changed = false;
    for (tp, list) in tracepoints.iter().zip(lists) {
        changed |= fastpath::bind(tp, list);
    }
    if changed {
        tracepoint::enabled_changed();
    }
}

/// Whether `fd` is an eventfd (a wakeup descriptor we may write 8 bytes to without
/// blocking on a full pipe).
fn is_eventfd(fd: BorrowedFd<'_>) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|p| p.as_os_str() == "anon_inode:[eventfd]")
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::tracepoint! {
        /// First test tracepoint.
        pub tp_a = daemontest:a {
            v: u64,
        }
    }

    crate::tracepoint! {
        /// Second test tracepoint.
        pub tp_b = daemontest:b {
            v: u64,
        }
    }

    fn test_channel(n: u32) -> &'static Channel {
        let cfg = BufferConfig {
            subbuf_size: 4096,
            num_subbuf: 2,
            mode: Mode::Discard,
        };
        let id = StreamIdentity {
            uuid: [0; 16],
            stream_id: n,
            stream_instance_id: 0,
            cpu_id: 0,
        };
        let (w, _fd) = RingWriter::create(c"libust-test", cfg, id, None).unwrap();
        fastpath::leak_channel(Channel {
            writers: vec![w].into_boxed_slice(),
            contexts: Contexts::default(),
        })
    }

    /// Tests that change bindings run one at a time (`unbind_all` is global).
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn a_complete_set_replaces_the_previous_one() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let tps: Vec<&'static Tracepoint> = vec![&tp_a::TP, &tp_b::TP];
        let (c1, c2) = (test_channel(1), test_channel(2));
        let channels: HashMap<u64, &'static Channel> = [(1, c1), (2, c2)].into();
        let bind = |tracepoint, channel, event_id| Binding {
            tracepoint,
            channel,
            event_id,
        };

        install(
            &tps,
            &channels,
            &[bind(0, 1, 7), bind(0, 2, 3), bind(1, 2, 4)],
        );
        assert!(tp_a::TP.is_enabled() && tp_b::TP.is_enabled());
        let a = fastpath::bound(&tp_a::TP);
        assert_eq!(a.len(), 2);
        assert!(std::ptr::eq(a[0].channel, c1) && a[0].event_id == 7);
        assert!(std::ptr::eq(a[1].channel, c2) && a[1].event_id == 3);

        // Not named any more: disabled. The same bindings again: the list is kept.
        let before = tp_a::TP.bindings.load(Ordering::Acquire);
        install(
            &tps,
            &channels,
            &[bind(0, 1, 7), bind(0, 2, 3), bind(0, 1, 7)],
        );
        assert!(!tp_b::TP.is_enabled());
        assert!(fastpath::bound(&tp_b::TP).is_empty());
        assert_eq!(before, tp_a::TP.bindings.load(Ordering::Acquire));
        assert!(!fastpath::bind(&tp_a::TP, fastpath::bound(&tp_a::TP)));

        // A new id for one channel: a new list.
        install(&tps, &channels, &[bind(0, 1, 8)]);
        let a = fastpath::bound(&tp_a::TP);
        assert_eq!(a.len(), 1);
        assert!(std::ptr::eq(a[0].channel, c1) && a[0].event_id == 8);
        install(&tps, &channels, &[bind(0, 1, 7), bind(0, 2, 3)]);

        // Events go to every bound channel, with that channel's id.
        tp_a::emit(5);
        for c in [c1, c2] {
            assert!(c.writers[0].flush(crate::clock::now));
        }

        fastpath::unbind_all();
        assert!(!tp_a::TP.is_enabled() && fastpath::bound(&tp_a::TP).is_empty());
    }

    #[test]
    fn bad_bindings_are_reported_and_the_rest_installed() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut conn = Conn::new(Path::new("/nonexistent"), vec![&tp_a::TP, &tp_b::TP]);
        conn.channels.insert(9, test_channel(9));
        conn.pending.insert(
            5,
            PendingChannel {
                config: BufferConfig::DEFAULT,
                spares: 0,
                contexts: Contexts::default(),
                full_wait: Duration::ZERO,
                streams: vec![None],
            },
        );
        let set = |bindings, last| DaemonMessage::SetEvents { bindings, last };
        let b = |tracepoint, channel| Binding {
            tracepoint,
            channel,
            event_id: 1,
        };
        assert!(conn.handle(set(vec![b(0, 9)], false), Vec::new()).is_ok());
        assert!(!tp_a::TP.is_enabled(), "installed only with the last part");
        let err = conn
            .handle(set(vec![b(7, 9), b(1, 5), b(1, 4)], true), Vec::new())
            .unwrap_err();
        assert!(matches!(
            err,
            MessageError::UnknownTracepoint { index: 7, .. }
        ));
        assert!(tp_a::TP.is_enabled() && !tp_b::TP.is_enabled());

        // Removing the channel unbinds it; a second removal is an error.
        conn.handle(DaemonMessage::RemoveChannel { key: 9 }, Vec::new())
            .unwrap();
        assert!(!tp_a::TP.is_enabled());
        assert!(conn
            .handle(DaemonMessage::RemoveChannel { key: 9 }, Vec::new())
            .is_err());
        // A stream without its descriptors, a second Accepted: errors, no panic.
        let stream = DaemonMessage::AddStream {
            channel: 5,
            index: 0,
            identity: StreamIdentity {
                uuid: [0; 16],
                stream_id: 0,
                stream_instance_id: 0,
                cpu_id: 0,
            },
        };
        assert!(conn.handle(stream, Vec::new()).is_err());
        let accepted = DaemonMessage::Accepted {
            version: VERSION,
            clock: proto::clock::Source::Monotonic,
        };
        assert!(conn.handle(accepted, Vec::new()).is_err());
        let channel = DaemonMessage::AddChannel {
            key: 5,
            config: BufferConfig::DEFAULT,
            spares: 0,
            contexts: Contexts::default(),
            full_wait_us: 0,
            streams: 1,
        };
        assert!(matches!(
            conn.handle(channel, Vec::new()),
            Err(MessageError::DuplicateChannel(5))
        ));
    }
}
