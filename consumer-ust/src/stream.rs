//! One stream: a ring buffer received from the session daemon, the reader that takes
//! its packets, and the file they go to.
//!
//! A drained discard-mode stream with spare sub-buffers is read by exchange: its
//! packets leave the ring at once and the writer thread writes them (see
//! [`crate::writer`]). Other streams (no spares, a slot table found inconsistent, no
//! writer thread) are written by the loop itself, straight from the ring ([`pump`]).
//!
//! Everything in the buffer is untrusted: the reader checks a private copy of each
//! packet's header page (the rest goes to the file straight from the memfd); a packet
//! that fails is counted in `lost_packets`, reported once per stream, and skipped. A
//! write that fails (a full disk) loses that batch of packets, counted the same way;
//! the stream keeps going.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use proto::ring::reader::{Exchanged, InPlace, PacketError, PageBuf, RingReader, Taken, HEAD_SIZE};
use proto::ring::shm::{check_sealed_memfd, ShmError};
use proto::wire::consumer::{StreamSpec, StreamStats};
use proto::wire::{check_name, NameError};

use crate::sink::{report_write_error, LocalFile, PacketSink, SinkError};
use crate::writer::{Counters, Writer};
use proto::ring::stream_file::WRITE_BYTES;

/// Why a stream was refused or a snapshot of it failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    #[error("stream file name refused: {0}")]
    File(#[from] NameError),
    #[error("trace directory '{0}' must be a relative path without '..' components")]
    TraceDir(String),
    #[error("output directory '{0}' must be an absolute path without '..' components")]
    Output(String),
    #[error("the ring buffer of stream {key} was refused: {source}")]
    Buffer { key: u64, source: ShmError },
    #[error("the wakeup descriptor of stream {key} is not an eventfd (it is {found})")]
    NotEventfd { key: u64, found: String },
    #[error("cannot make the wakeup eventfd of stream {key} non-blocking: {source}")]
    Wakeup { key: u64, source: nix::Error },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Most bytes of packets gathered for one vectored write.
const BATCH_BYTES: usize = 2 << 20;
/// Most packets gathered for one vectored write (well under `IOV_MAX`).
const BATCH_PACKETS: usize = 64;
/// Shortest switch-timer period honoured: a smaller value would keep the consumer busy
/// closing packets.
const MIN_SWITCH_PERIOD: Duration = Duration::from_millis(1);

/// How far one [`Stream::drain`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The ring holds no more complete packet.
    Empty,
    /// Stopped at the limit: drain again soon.
    Behind,
    /// Every spare sub-buffer is on its way to disk: drain again when the writer
    /// thread returns some.
    NoSpare,
}

/// What one [`pump`] did.
#[derive(Debug, Default)]
pub(crate) struct Pumped {
    /// Packets written to the sink.
    pub(crate) packets: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// Packets taken from the ring that the sink refused.
    pub(crate) unwritten: u64,
    /// The first packet that failed its check (the reader counts all of them).
    pub(crate) corrupt: Option<PacketError>,
    /// The first write error.
    pub(crate) write_error: Option<SinkError>,
    /// The ring had no more complete packet (false: stopped at the limit).
    pub(crate) empty: bool,
}

/// Moves up to `limit` complete packets from `reader` to `sink`, in batches of
/// contiguous packets written with one vectored write each. `scratch` is reused
/// between calls.
///
/// With `in_place` (the stream's own reader of a discard-mode ring) only each packet's
/// first page is copied, into `scratch`, and checked; the rest goes to the file
/// straight from the ring (see `RingReader::take_in_place`). Otherwise (overwrite
/// mode, snapshots) each packet is copied out whole before it is checked.
pub(crate) fn pump(
    reader: &mut RingReader,
    sink: &mut dyn PacketSink,
    scratch: &mut PageBuf,
    limit: u64,
    in_place: bool,
) -> Pumped {
    let s = reader.packet_size();
    let mut per_batch = (BATCH_BYTES / s).clamp(1, BATCH_PACKETS);
    if in_place {
        // Packets written from the ring stay out of the writers' reach until the write
        // returns: hold at most half the ring, so that the writers keep the other half
        // (with LTTng's default 4 x 512 KiB, two packets per write, not all four).
        per_batch = per_batch.min((reader.num_subbufs() / 2).max(1) as usize);
    }
    let slot = if in_place { HEAD_SIZE } else { s };
    if scratch.capacity() < per_batch * slot {
        *scratch = PageBuf::new(per_batch * slot);
    }
    let mut out = Pumped::default();
    let mut taken = 0u64;
    let mut lens = Vec::with_capacity(per_batch);
    let mut in_ring: Vec<InPlace> = Vec::with_capacity(per_batch);
    loop {
        lens.clear();
        in_ring.clear();
        while lens.len() < per_batch && taken < limit {
            let at = lens.len() * slot;
            taken += 1;
            let buf = &mut scratch.as_mut_slice()[at..at + slot];
            let next = if in_place {
                reader.take_in_place(buf).map(|p| {
                    let len = p.len();
                    in_ring.push(p);
                    len
                })
            } else {
                reader.take(buf)
            };
            match next {
                Taken::Packet(len) => lens.push(len),
                Taken::Corrupt(e) => {
                    out.corrupt.get_or_insert(e);
                }
                Taken::Empty => {
                    out.empty = true;
                    break;
                }
            }
        }
        if !lens.is_empty() {
            let all = scratch.bytes(lens.len() * slot);
            let result = if in_place {
                let packets: Vec<(&[u8], &InPlace)> = all.chunks(slot).zip(&in_ring).collect();
                sink.write_from_ring(reader, &packets)
            } else {
                let slices: Vec<IoSlice<'_>> = lens
                    .iter()
                    .enumerate()
                    .map(|(i, &len)| IoSlice::new(&all[i * s..i * s + len]))
                    .collect();
                sink.write_packets(&slices)
            };
            let count = lens.len() as u64;
            match result {
                Ok(()) => {
                    out.packets += count;
                    out.bytes += lens.iter().map(|&l| l as u64).sum::<u64>();
                }
                Err(e) => {
                    out.unwritten += count;
                    out.write_error.get_or_insert(e);
                }
            }
        }
        // Written, lost to a write error or corrupt: the ring may reuse them now.
        reader.release();
        if out.empty || taken >= limit {
            return out;
        }
    }
}

/// One ring buffer being consumed.
pub(crate) struct Stream {
    spec: StreamSpec,
    wakeup: OwnedFd,
    reader: RingReader,
    /// Where the loop writes the packets of a stream it drains itself; `None` for
    /// exchanged streams and those not drained (snapshot sessions).
    sink: Option<Box<dyn PacketSink>>,
    /// The writer thread's counters of an exchanged stream.
    exchanged: Option<Arc<Counters>>,
    packets: u64,
    bytes: u64,
    /// Packets lost to write errors.
    unwritten: u64,
    corrupt_reported: bool,
    write_error_reported: bool,
    switch_period: Option<Duration>,
    next_switch: Option<Instant>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("key", &self.spec.key)
            .field("file", &self.spec.file)
            .finish_non_exhaustive()
    }
}

/// Checks the paths of a stream spec: the file is a plain name, the trace directory
/// stays below the output directory, which is absolute.
fn check_paths(spec: &StreamSpec) -> Result<(), StreamError> {
    check_name("stream file", &spec.file, 255)?;
    let inside = |p: &Path| {
        p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    };
    let dir = Path::new(&spec.trace_dir);
    if !inside(dir) || spec.trace_dir.contains('\0') {
        return Err(StreamError::TraceDir(spec.trace_dir.clone()));
    }
    let out = Path::new(&spec.output);
    let escapes = out.components().any(|c| c == Component::ParentDir);
    if !out.is_absolute() || escapes || spec.output.contains('\0') {
        return Err(StreamError::Output(spec.output.clone()));
    }
    Ok(())
}

/// Checks that `fd` is an eventfd (where `/proc` tells) and makes it non-blocking, so
/// that clearing it can never block, whoever else reads it.
fn prepare_wakeup(key: u64, fd: &OwnedFd) -> Result<(), StreamError> {
    if let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
        let target = target.to_string_lossy().into_owned();
        if target != "anon_inode:[eventfd]" {
            return Err(StreamError::NotEventfd { key, found: target });
        }
    }
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)
        .map_err(|source| StreamError::Wakeup { key, source })?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags))
        .map_err(|source| StreamError::Wakeup { key, source })?;
    Ok(())
}

impl Stream {
    /// Takes over a stream: checks its spec and buffer, resumes reading where a
    /// previous consumer stopped, and (for drained streams) opens its file for
    /// appending. With spare sub-buffers and a `writer`, the stream is exchanged: its
    /// file goes to the writer thread, first with the packets a previous consumer had
    /// exchanged out of the ring and not written.
    pub(crate) fn new(
        spec: StreamSpec,
        memfd: OwnedFd,
        wakeup: OwnedFd,
        writer: Option<&Writer>,
    ) -> Result<Stream, StreamError> {
        check_paths(&spec)?;
        let key = spec.key;
        let buffer = |source| StreamError::Buffer { key, source };
        spec.config
            .validate()
            .map_err(|e| buffer(ShmError::Map(std::io::Error::other(e))))?;
        let file_size = spec.config.file_size(spec.spares);
        check_sealed_memfd(memfd.as_fd(), file_size).map_err(buffer)?;
        let mut reader = if spec.spares > 0 {
            RingReader::resume_with_spares(memfd.as_fd(), spec.config, spec.identity, spec.spares)
        } else {
            RingReader::resume(memfd.as_fd(), spec.config, spec.identity)
        }
        .map_err(buffer)?;
        let exchange = spec.drain && reader.can_exchange() && writer.is_some();
        if spec.spares > 0 && !reader.can_exchange() && spec.drain {
            eprintln!(
                "lttng-consumerd-ust: stream {key} ({}): its slot table shows a sub-buffer twice; \
                 it is read in place, without spares",
                spec.file
            );
        }
        if !exchange {
            // Packets are freed only once written: a consumer killed in between loses
            // nothing, and its successor skips what already reached the file.
            reader.defer_release();
        }
        prepare_wakeup(key, &wakeup)?;
        let mut stream_sink: Option<Box<dyn PacketSink>> = None;
        let mut exchanged = None;
        if spec.drain {
            let dir = Path::new(&spec.output).join(&spec.trace_dir);
            let file = LocalFile::append(&dir, &spec.file)?;
            let first = file.last_seq().map_or(0, |seq| seq.saturating_add(1));
            reader.skip_to_packet(first);
            reader.release();
            match writer.filter(|_| exchange) {
                Some(writer) => {
                    // Exchanged packets left the ring before they were written: what a
                    // killed predecessor held is in sub-buffers no slot shows.
                    let held = reader.recover_held(first);
                    if !held.is_empty() {
                        eprintln!(
                            "lttng-consumerd-ust: stream {key} ({}): writing {} packet(s) the previous consumer took and did not write",
                            spec.file,
                            held.len()
                        );
                    }
                    let counters = Arc::new(Counters::default());
                    writer.open(key, file, counters.clone());
                    writer.write(key, held);
                    exchanged = Some(counters);
                }
                None => stream_sink = Some(Box::new(file)),
            }
        }
        // The reader's mapping keeps the buffer; the descriptor is not needed any more.
        drop(memfd);
        let mut s = Stream::assemble(spec, wakeup, reader, stream_sink);
        s.exchanged = exchanged;
        Ok(s)
    }

    fn assemble(
        spec: StreamSpec,
        wakeup: OwnedFd,
        reader: RingReader,
        sink: Option<Box<dyn PacketSink>>,
    ) -> Stream {
        let switch_period = (spec.switch_timer_us > 0)
            .then(|| Duration::from_micros(spec.switch_timer_us).max(MIN_SWITCH_PERIOD));
        Stream {
            next_switch: switch_period.map(|p| Instant::now() + p),
            switch_period,
            spec,
            wakeup,
            reader,
            sink,
            exchanged: None,
            packets: 0,
            bytes: 0,
            unwritten: 0,
            corrupt_reported: false,
            write_error_reported: false,
        }
    }

    pub(crate) fn spec(&self) -> &StreamSpec {
        &self.spec
    }

    /// Whether the stream is drained into its file as packets complete.
    pub(crate) fn drains(&self) -> bool {
        self.sink.is_some() || self.exchanged.is_some()
    }

    /// The eventfd writers signal when a packet completes.
    pub(crate) fn wakeup(&self) -> std::os::fd::BorrowedFd<'_> {
        self.wakeup.as_fd()
    }

    /// Resets the eventfd after it woke us (non-blocking: it may be empty already).
    pub(crate) fn clear_wakeup(&self) {
        let mut count = [0u8; 8];
        let _ = nix::unistd::read(self.wakeup.as_raw_fd(), &mut count);
    }

    /// When the switch timer next fires, if the stream has one.
    pub(crate) fn next_switch(&self) -> Option<Instant> {
        self.next_switch
    }

    /// Runs the switch timer if it is due: closes the open packet so that it reaches
    /// the file. Returns whether it was due.
    pub(crate) fn switch_if_due(&mut self, now: Instant) -> bool {
        match (self.next_switch, self.switch_period) {
            (Some(at), Some(period)) if at <= now => {
                self.flush();
                // Skip missed periods rather than firing in a burst.
                self.next_switch = Some((at + period).max(now));
                true
            }
            _ => false,
        }
    }

    /// Closes the writers' open packet, if any.
    pub(crate) fn flush(&self) -> bool {
        self.reader.flush(proto::clock::now)
    }

    /// Has the writers' final discarded-event count written in a packet of its own if
    /// no packet reported it yet. Returns whether such a packet is ready.
    /// Completes packets left unfinished by writers that died (all of them must be).
    pub(crate) fn recover_abandoned(&self) -> u64 {
        self.reader.recover_abandoned()
    }

    pub(crate) fn report_final_discards(&self) -> bool {
        self.drains() && self.reader.report_final_discards(proto::clock::now)
    }

    /// Packets reserved up to their end that are not taken yet: after a flush and a
    /// drain, writers still committing into them.
    pub(crate) fn uncommitted_packets(&self) -> u64 {
        self.reader.unread_closed_packets()
    }

    /// Moves the complete packets waiting in the ring towards the file, at most one
    /// ring's worth (so that a writer that never stops cannot keep us here): exchanged
    /// ones to the writer thread, others written here.
    pub(crate) fn drain(&mut self, scratch: &mut PageBuf, writer: Option<&Writer>) -> Drained {
        if let (Some(_), Some(writer)) = (&self.exchanged, writer) {
            return self.exchange(writer);
        }
        let Some(sink) = self.sink.as_mut() else {
            return Drained::Empty;
        };
        let limit = self.spec.config.num_subbuf;
        let in_place = self.reader.is_discard_mode();
        let p = pump(&mut self.reader, sink.as_mut(), scratch, limit, in_place);
        self.packets += p.packets;
        self.bytes += p.bytes;
        self.unwritten += p.unwritten;
        if let Some(e) = p.corrupt {
            self.report_corrupt(&e);
        }
        if let Some(e) = p.write_error {
            report_write_error(&mut self.write_error_reported, self.spec.key, &e);
        }
        if p.empty {
            Drained::Empty
        } else {
            Drained::Behind
        }
    }

    /// Takes up to a ring's worth of packets by exchange and queues them for the
    /// writer thread, in batches of about one write.
    fn exchange(&mut self, writer: &Writer) -> Drained {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let mut outcome = Drained::Behind;
        for _ in 0..self.spec.config.num_subbuf {
            let mut taken = self.reader.take_exchanging();
            if matches!(taken, Exchanged::NoSpare) {
                writer.mark_starved();
                taken = self.reader.take_exchanging();
            }
            match taken {
                Exchanged::Packet(p) => {
                    bytes += p.len();
                    batch.push(p);
                    if bytes >= WRITE_BYTES {
                        self.queue(writer, std::mem::take(&mut batch));
                        bytes = 0;
                    }
                }
                Exchanged::Corrupt(e) => self.report_corrupt(&e),
                Exchanged::Empty => {
                    outcome = Drained::Empty;
                    break;
                }
                Exchanged::NoSpare => {
                    outcome = Drained::NoSpare;
                    break;
                }
            }
        }
        self.queue(writer, batch);
        outcome
    }

    fn queue(&mut self, writer: &Writer, batch: Vec<proto::ring::reader::Held>) {
        let n = batch.len() as u64;
        if !writer.write(self.spec.key, batch) {
            self.unwritten += n;
        }
    }

    fn report_corrupt(&mut self, e: &PacketError) {
        if !std::mem::replace(&mut self.corrupt_reported, true) {
            eprintln!(
                "lttng-consumerd-ust: stream {} ({}): skipped a corrupt packet: {e} \
                 (further ones are only counted in lost_packets)",
                self.spec.key, self.spec.file
            );
        }
    }

    /// Writes what the buffer holds now to `dir/<trace_dir>/<file>` without consuming
    /// it: closes the open packet, then reads with a reader of its own. Returns the
    /// number of packets written.
    pub(crate) fn snapshot(&self, dir: &Path, scratch: &mut PageBuf) -> Result<u64, StreamError> {
        self.flush();
        let mut reader = self.reader.observe();
        let mut sink = LocalFile::create(&dir.join(&self.spec.trace_dir), &self.spec.file)?;
        // A ring holds at most `num_subbuf` complete packets.
        let p = pump(
            &mut reader,
            &mut sink,
            scratch,
            self.spec.config.num_subbuf + 1,
            false,
        );
        if let Some(e) = p.write_error {
            return Err(e.into());
        }
        Ok(p.packets)
    }

    /// The stream's counters.
    pub(crate) fn stats(&self) -> StreamStats {
        let (mut packets, mut bytes, mut unwritten) = (self.packets, self.bytes, self.unwritten);
        if let Some(c) = &self.exchanged {
            packets += c.packets.load(Ordering::Relaxed);
            bytes += c.bytes.load(Ordering::Relaxed);
            unwritten += c.unwritten.load(Ordering::Relaxed);
        }
        StreamStats {
            key: self.spec.key,
            discarded: self.reader.discarded_hint(),
            lost_packets: self.reader.lost_packets().saturating_add(unwritten),
            packets,
            bytes,
        }
    }

    /// Closes the file (the writer thread's, once it wrote what is queued) and unmaps
    /// the buffer.
    pub(crate) fn close(self, writer: Option<&Writer>) {
        if let Some(sink) = self.sink {
            sink.close();
        }
        if let (Some(_), Some(writer)) = (self.exchanged, writer) {
            writer.close(self.spec.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use nix::sys::eventfd::{EfdFlags, EventFd};
    use proto::ring::layout::StreamIdentity;
    use proto::ring::writer::RingWriter;
    use proto::ring::{BufferConfig, Mode};

    use super::*;

    const ID: StreamIdentity = StreamIdentity {
        uuid: [3; 16],
        stream_id: 0,
        stream_instance_id: 0,
        cpu_id: 0,
    };
    const CFG: BufferConfig = BufferConfig {
        subbuf_size: 4096,
        num_subbuf: 4,
        mode: Mode::Discard,
    };

    fn spec(file: &str, trace_dir: &str, output: &str) -> StreamSpec {
        StreamSpec {
            key: 1,
            session: 1,
            trace: 1,
            output: output.into(),
            trace_dir: trace_dir.into(),
            file: file.into(),
            config: CFG,
            spares: 0,
            identity: ID,
            switch_timer_us: 0,
            drain: true,
        }
    }

    /// A sink that records batches, or fails every write.
    struct Recorder {
        batches: Rc<RefCell<Vec<usize>>>,
        fail: bool,
    }

    impl Recorder {
        fn batch(&mut self, packets: usize) -> Result<(), SinkError> {
            if self.fail {
                return Err(SinkError::Write {
                    path: "full".into(),
                    source: std::io::Error::from_raw_os_error(libc::ENOSPC),
                });
            }
            self.batches.borrow_mut().push(packets);
            Ok(())
        }
    }

    impl PacketSink for Recorder {
        fn write_packets(&mut self, packets: &[IoSlice<'_>]) -> Result<(), SinkError> {
            self.batch(packets.len())
        }

        fn write_from_ring(
            &mut self,
            _: &RingReader,
            packets: &[(&[u8], &InPlace)],
        ) -> Result<(), SinkError> {
            self.batch(packets.len())
        }

        fn close(self: Box<Self>) {}
    }

    fn stream_with(fail: bool) -> (RingWriter, Stream, Rc<RefCell<Vec<usize>>>) {
        let (w, memfd) = RingWriter::create(c"t", CFG, ID, None).unwrap();
        let reader = RingReader::resume(memfd.as_fd(), CFG, ID).unwrap();
        let wakeup = OwnedFd::from(EventFd::from_flags(EfdFlags::EFD_CLOEXEC).unwrap());
        let batches = Rc::new(RefCell::new(Vec::new()));
        let sink = Recorder {
            batches: batches.clone(),
            fail,
        };
        let spec = spec("channel0_0", "ust", "/nonexistent");
        drop(memfd);
        let s = Stream::assemble(spec, wakeup, reader, Some(Box::new(sink)));
        (w, s, batches)
    }

    fn record(w: &RingWriter, events: usize) {
        for _ in 0..events {
            w.record(1, 994, proto::clock::monotonic_ns, |b| b.put(&[7; 994]));
        }
    }

    #[test]
    fn paths_that_leave_the_output_directory_are_refused() {
        for (file, dir, out) in [
            ("../x", "ust", "/out"),
            ("a/b", "ust", "/out"),
            ("..", "ust", "/out"),
            ("", "ust", "/out"),
            ("c_0", "../ust", "/out"),
            ("c_0", "ust/../../x", "/out"),
            ("c_0", "/etc", "/out"),
            ("c_0", "ust", "relative"),
            ("c_0", "ust", "/out/../etc"),
        ] {
            assert!(
                check_paths(&spec(file, dir, out)).is_err(),
                "{file} {dir} {out}"
            );
        }
        assert!(check_paths(&spec("channel0_1", "ust/uid/1000/64-bit", "/out")).is_ok());
    }

    #[test]
    fn complete_packets_go_out_in_vectored_writes_of_half_the_ring() {
        let (w, mut s, batches) = stream_with(false);
        // 4 events of 1000 bytes fill a 4 KiB packet; the 13th opens packet 3.
        record(&w, 13);
        let mut scratch = PageBuf::new(0);
        assert_eq!(s.drain(&mut scratch, None), Drained::Empty);
        // Written from the ring: at most 2 of the 4 sub-buffers held per write.
        assert_eq!(*batches.borrow(), [2, 1]);
        let st = s.stats();
        assert_eq!((st.packets, st.bytes, st.lost_packets), (3, 3 * 4096, 0));
        assert!(s.flush());
        assert_eq!(s.drain(&mut scratch, None), Drained::Empty);
        assert_eq!(s.stats().packets, 4);
    }

    #[test]
    fn a_failed_write_counts_its_packets_as_lost_and_the_stream_goes_on() {
        let (w, mut s, _) = stream_with(true);
        record(&w, 9);
        let mut scratch = PageBuf::new(0);
        assert_eq!(s.drain(&mut scratch, None), Drained::Empty);
        let st = s.stats();
        assert_eq!((st.packets, st.lost_packets), (0, 2));
        // The ring was freed: writers can go on.
        record(&w, 8);
        assert_eq!(s.drain(&mut scratch, None), Drained::Empty);
        assert_eq!(s.stats().lost_packets, 4);
        assert_eq!(w.discarded(), 0);
    }
}
