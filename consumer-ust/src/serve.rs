//! The consumer's loop: answer the session daemon's requests and drain the streams.
//! Packets taken by exchange go to the writer thread ([`crate::writer`]), the only
//! other thread.
//!
//! The loop sleeps in `poll` on the control socket, every drained stream's eventfd
//! and the writer thread's spares eventfd, for at most [`TICK`] (a packet completed
//! without a wakeup is drained at the next tick) or until the next switch timer. Each
//! request gets exactly one reply; a request that cannot be decoded gets an error
//! reply and the loop goes on. When the daemon closes the socket (or dies), every
//! stream is flushed and written out and the loop ends.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use proto::clock::Source;
use proto::ring::reader::PageBuf;
use proto::wire::consumer::{ConsumerReply, ConsumerRequest, StreamSpec};
use proto::wire::socket::{self, Received};
use proto::wire::{WireError, VERSION};

use crate::stream::{Drained, Stream};
use crate::writer::Writer;

/// Drain every stream at least this often.
pub(crate) const TICK: Duration = Duration::from_millis(100);
/// How long a flush waits, per session, for writers still committing into the packets
/// it closed; packets still incomplete then stay in the ring for a later drain.
pub(crate) const COMMIT_WAIT: Duration = Duration::from_millis(200);
/// Most time a flush spends waiting for the writer thread to return spares, after
/// which packets still in the rings stay there for later drains.
const WRITE_OUT_LIMIT: Duration = Duration::from_secs(10);
/// A send to the daemon that blocks this long means it stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the consumer stopped serving.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    #[error("{0}")]
    Version(WireError),
    #[error("the session daemon sent {0} before hello: it must say hello first")]
    NoHello(&'static str),
    #[error("control socket: {0}")]
    Control(WireError),
    #[error("cannot wait for events: {0}")]
    Poll(Errno),
}

impl ServeError {
    /// The process exit code (see the crate documentation).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            ServeError::Version(_) | ServeError::NoHello(_) => crate::EXIT_USAGE,
            ServeError::Control(_) | ServeError::Poll(_) => crate::EXIT_RUNTIME,
        }
    }
}

/// What one `poll` found ready.
#[derive(Debug, Default)]
struct Woke {
    control: bool,
    /// The writer thread returned spares that some stream waited for.
    spares_back: bool,
    streams: Vec<u64>,
}

/// Streams to drain again, sorted by why.
#[derive(Debug, Default)]
struct Later {
    /// Stopped at their limit: drained again at once.
    behind: BTreeSet<u64>,
    /// Found no spare: drained again when the writer thread returns some.
    starved: BTreeSet<u64>,
}

impl Later {
    fn note(&mut self, key: u64, drained: Drained) {
        match drained {
            Drained::Empty => false,
            Drained::Behind => self.behind.insert(key),
            Drained::NoSpare => self.starved.insert(key),
        };
    }
}

/// What the loop does after a request.
enum Step {
    Continue,
    /// The daemon is gone.
    Closed,
}

/// The consumer's state: the streams it drains, by key.
struct Consumer {
    control: OwnedFd,
    /// Whether the whole sandbox is in force (reported in the hello).
    sandboxed: bool,
    greeted: bool,
    streams: BTreeMap<u64, Stream>,
    /// Packet buffer reused by every drain (page-aligned for direct I/O).
    scratch: PageBuf,
    /// `None` if it could not be started: every stream is then written by the loop.
    writer: Option<Writer>,
}

/// Sets up the control socket; before the sandbox (setsockopt is not in it).
pub(crate) fn prepare(control: &OwnedFd) -> Result<(), ServeError> {
    socket::set_timeout(control.as_fd(), Some(SEND_TIMEOUT)).map_err(ServeError::Control)
}

/// Serves the daemon on `control` until it closes the connection.
pub(crate) fn run(
    control: OwnedFd,
    sandboxed: bool,
    writer: Option<Writer>,
) -> Result<(), ServeError> {
    let mut c = Consumer {
        control,
        sandboxed,
        greeted: false,
        streams: BTreeMap::new(),
        scratch: PageBuf::new(0),
        writer,
    };
    let result = c.serve();
    // Whatever ended the loop, what the buffers hold goes to the files.
    let keys: Vec<u64> = c.streams.keys().copied().collect();
    c.write_out(&keys);
    for (_, s) in std::mem::take(&mut c.streams) {
        s.close(c.writer.as_ref());
    }
    // Joins the writer thread once it has written everything.
    drop(c.writer.take());
    result
}

impl Consumer {
    fn serve(&mut self) -> Result<(), ServeError> {
        let mut next_tick = Instant::now() + TICK;
        let mut later = Later::default();
        loop {
            let now = Instant::now();
            let wake_at = self
                .streams
                .values()
                .filter_map(Stream::next_switch)
                .fold(next_tick, Instant::min);
            let timeout = if !later.behind.is_empty() {
                PollTimeout::ZERO
            } else {
                let ms = wake_at
                    .saturating_duration_since(now)
                    .as_micros()
                    .div_ceil(1000);
                PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
            };
            let woke = self.wait(timeout)?;
            if woke.control {
                if let Step::Closed = self.serve_one()? {
                    return Ok(());
                }
            }
            let mut todo: BTreeSet<u64> = woke.streams.into_iter().collect();
            todo.append(&mut later.behind);
            if woke.spares_back {
                if let Some(w) = &self.writer {
                    w.clear_spares_back();
                }
                todo.append(&mut later.starved);
            }
            for key in todo {
                if let Some(s) = self.streams.get_mut(&key) {
                    s.clear_wakeup();
                    later.note(key, s.drain(&mut self.scratch, self.writer.as_ref()));
                }
            }
            let now = Instant::now();
            let tick = now >= next_tick;
            if tick {
                next_tick = now + TICK;
            }
            for (key, s) in self.streams.iter_mut() {
                let switched = s.switch_if_due(now);
                if tick || switched {
                    later.note(*key, s.drain(&mut self.scratch, self.writer.as_ref()));
                }
            }
        }
    }

    /// Polls the control socket, the drained streams' eventfds and the writer
    /// thread's spares eventfd.
    fn wait(&self, timeout: PollTimeout) -> Result<Woke, ServeError> {
        let mut keys = Vec::with_capacity(self.streams.len());
        let mut fds = vec![PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
        if let Some(w) = &self.writer {
            fds.push(PollFd::new(w.spares_back(), PollFlags::POLLIN));
        }
        let first_stream = fds.len();
        for (key, s) in self.streams.iter().filter(|(_, s)| s.drains()) {
            keys.push(*key);
            fds.push(PollFd::new(s.wakeup(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(Woke::default()),
            Err(e) => return Err(ServeError::Poll(e)),
        }
        let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
        Ok(Woke {
            control: ready(&fds[0]),
            spares_back: first_stream > 1 && ready(&fds[1]),
            streams: keys
                .into_iter()
                .zip(&fds[first_stream..])
                .filter(|(_, f)| ready(f))
                .map(|(k, _)| k)
                .collect(),
        })
    }

    /// Receives one request and answers it.
    fn serve_one(&mut self) -> Result<Step, ServeError> {
        let received = if self.greeted {
            socket::recv::<ConsumerRequest>(self.control.as_fd())
        } else {
            socket::recv_hello::<ConsumerRequest>(self.control.as_fd())
        };
        let reply = match received {
            // A session daemon of another release: it learns ours from our hello.
            Err(WireError::Version { peer }) => {
                proto::wire::consumer::answer_other_release(self.control.as_fd(), self.sandboxed);
                return Err(ServeError::Version(WireError::Version { peer }));
            }
            Ok(Received { msg, fds }) => match self.handle(msg, fds) {
                Ok(reply) => reply,
                Err(fatal) => {
                    let reply = ConsumerReply::Error(fatal.to_string());
                    let _ = socket::send(self.control.as_fd(), &reply, &[]);
                    return Err(fatal);
                }
            },
            Err(WireError::Closed) => return Ok(Step::Closed),
            Err(WireError::Timeout) => return Ok(Step::Continue),
            Err(WireError::Io(e)) => return Err(ServeError::Control(WireError::Io(e))),
            // Malformed: the descriptors that came with it are closed already.
            Err(e) => ConsumerReply::Error(format!(
                "{e}: the request was ignored; send requests of this consumer's protocol"
            )),
        };
        match socket::send(self.control.as_fd(), &reply, &[]) {
            Ok(()) => Ok(Step::Continue),
            Err(WireError::Closed) => Ok(Step::Closed),
            Err(e) => Err(ServeError::Control(e)),
        }
    }

    /// Answers one request; an error means the conversation cannot go on.
    fn handle(
        &mut self,
        msg: ConsumerRequest,
        fds: Vec<OwnedFd>,
    ) -> Result<ConsumerReply, ServeError> {
        let name = match &msg {
            ConsumerRequest::Hello { .. } => "hello",
            ConsumerRequest::AddStream(_) => "add-stream",
            ConsumerRequest::Flush { .. } => "flush",
            ConsumerRequest::WritersGone { .. } => "writers-gone",
            ConsumerRequest::RemoveTrace { .. } => "remove-trace",
            ConsumerRequest::RemoveSession { .. } => "remove-session",
            ConsumerRequest::Snapshot { .. } => "snapshot",
            ConsumerRequest::Stats { .. } => "stats",
            ConsumerRequest::KernelSetup { .. }
            | ConsumerRequest::KernelFormat { .. }
            | ConsumerRequest::KernelStatedump { .. }
            | ConsumerRequest::AddKernelStream(_) => "kernel",
        };
        if !self.greeted && name != "hello" {
            return Err(ServeError::NoHello(name));
        }
        Ok(match msg {
            ConsumerRequest::Hello { version, clock } => return self.hello(version, clock),
            ConsumerRequest::KernelSetup { .. }
            | ConsumerRequest::KernelFormat { .. }
            | ConsumerRequest::KernelStatedump { .. }
            | ConsumerRequest::AddKernelStream(_) => ConsumerReply::Error(
                "kernel streams go to the kernel consumer (lttng-consumerd-kernel)".into(),
            ),
            ConsumerRequest::AddStream(spec) => self.add_stream(spec, fds),
            ConsumerRequest::Flush { session } => {
                let keys = self.keys(|s| s.session == session);
                self.write_out(&keys);
                ConsumerReply::Done
            }
            ConsumerRequest::WritersGone { trace } => {
                let keys = self.keys(|s| s.trace == trace);
                self.recover(&keys);
                ConsumerReply::Done
            }
            ConsumerRequest::RemoveTrace { trace } => {
                let keys = self.keys(|s| s.trace == trace);
                self.recover(&keys);
                self.remove(&keys)
            }
            ConsumerRequest::RemoveSession { session } => {
                let keys = self.keys(|s| s.session == session);
                self.remove(&keys)
            }
            ConsumerRequest::Snapshot { session, dir } => self.snapshot(session, &dir),
            ConsumerRequest::Stats { session } => ConsumerReply::Stats(
                self.streams
                    .values()
                    .filter(|s| s.spec().session == session)
                    .map(Stream::stats)
                    .collect(),
            ),
        })
    }

    fn hello(&mut self, version: u32, clock: Source) -> Result<ConsumerReply, ServeError> {
        if version != VERSION {
            return Err(ServeError::Version(WireError::Version { peer: version }));
        }
        if self.greeted {
            return Ok(ConsumerReply::Error(
                "hello was already received: send it once per connection".into(),
            ));
        }
        proto::clock::set_source(clock);
        self.greeted = true;
        Ok(ConsumerReply::Hello {
            version: VERSION,
            sandboxed: self.sandboxed,
        })
    }

    fn add_stream(&mut self, spec: StreamSpec, fds: Vec<OwnedFd>) -> ConsumerReply {
        if self.streams.contains_key(&spec.key) {
            return ConsumerReply::Error(format!(
                "stream {} is already being consumed: give each stream its own key",
                spec.key
            ));
        }
        let mut fds = fds.into_iter();
        let (Some(memfd), Some(wakeup)) = (fds.next(), fds.next()) else {
            return ConsumerReply::Error(
                "add-stream needs the buffer memfd and the wakeup eventfd".into(),
            );
        };
        let key = spec.key;
        match Stream::new(spec, memfd, wakeup, self.writer.as_ref()) {
            Ok(s) => {
                self.streams.insert(key, s);
                ConsumerReply::Done
            }
            Err(e) => ConsumerReply::Error(format!("{e}: the stream was not added")),
        }
    }

    fn keys(&self, pick: impl Fn(&StreamSpec) -> bool) -> Vec<u64> {
        self.streams
            .iter()
            .filter(|(_, s)| pick(s.spec()))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Flushes the streams `keys` and writes out everything they hold: closes the
    /// open packets, drains, waits up to [`COMMIT_WAIT`] for packets still being
    /// committed, then has the final discarded-event counts reported and drains that;
    /// returns once the writer thread has written it all. A stream that runs out of
    /// spares waits for the writer thread to return them (up to [`WRITE_OUT_LIMIT`]
    /// in all). Streams that are not drained (snapshot sessions) are only flushed.
    fn write_out(&mut self, keys: &[u64]) {
        let writer = self.writer.as_ref();
        let mut streams: Vec<&mut Stream> = self
            .streams
            .iter_mut()
            .filter(|(k, _)| keys.contains(k))
            .map(|(_, s)| s)
            .collect();
        for s in streams.iter() {
            s.flush();
        }
        streams.retain(|s| s.drains());
        let start = Instant::now();
        let mut deadline = start + COMMIT_WAIT;
        loop {
            let mut more = false;
            let mut starved = false;
            let mut waiting = false;
            for s in streams.iter_mut() {
                match s.drain(&mut self.scratch, writer) {
                    Drained::Empty => {}
                    Drained::Behind => more = true,
                    Drained::NoSpare => starved = true,
                }
                waiting |= s.uncommitted_packets() > 0;
            }
            if let (true, Some(w)) = (starved, writer) {
                if start.elapsed() < WRITE_OUT_LIMIT {
                    // Every spare is on its way to disk: once written, they are free.
                    w.sync();
                    deadline = deadline.max(Instant::now() + COMMIT_WAIT);
                    continue;
                }
            }
            if !(more || waiting) || Instant::now() >= deadline {
                break;
            }
            if !more {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for s in streams.iter_mut() {
            if s.report_final_discards() {
                s.drain(&mut self.scratch, writer);
            }
        }
        if let Some(w) = writer {
            w.sync();
        }
    }

    /// Completes what dead writers left unfinished in the streams `keys`, and writes
    /// it out.
    fn recover(&mut self, keys: &[u64]) {
        let writer = self.writer.as_ref();
        for k in keys {
            if let Some(s) = self.streams.get_mut(k) {
                s.drain(&mut self.scratch, writer);
                let n = s.recover_abandoned();
                if n > 0 {
                    eprintln!(
                        "lttng-consumerd-ust: stream {k}: completed {n} packet(s) left unfinished by a writer that died mid-event"
                    );
                    s.drain(&mut self.scratch, writer);
                }
            }
        }
        if let Some(w) = writer {
            w.sync();
        }
    }

    fn remove(&mut self, keys: &[u64]) -> ConsumerReply {
        self.write_out(keys);
        for k in keys {
            if let Some(s) = self.streams.remove(k) {
                s.close(self.writer.as_ref());
            }
        }
        ConsumerReply::Done
    }

    fn snapshot(&mut self, session: u64, dir: &str) -> ConsumerReply {
        let dir = Path::new(dir);
        if !dir.is_absolute()
            || dir
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return ConsumerReply::Error(format!(
                "snapshot directory '{}' must be an absolute path without '..' components",
                dir.display()
            ));
        }
        for s in self.streams.values() {
            if s.spec().session != session {
                continue;
            }
            if let Err(e) = s.snapshot(dir, &mut self.scratch) {
                return ConsumerReply::Error(format!(
                    "snapshot of stream {} failed: {e}",
                    s.spec().key
                ));
            }
        }
        ConsumerReply::Done
    }
}
