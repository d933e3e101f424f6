//! The writer side: lock-free reserve and commit into a shared ring buffer.
//!
//! ## Algorithm
//!
//! `write_pos` counts bytes reserved since the buffer was created. A writer reads it,
//! reads the clock, and computes where its record goes:
//!
//! - *fast path*: the record fits in the open packet: reserve `[pos, pos + len)`;
//! - *switch*: the packet is full (or none is open): close the open packet at `pos`
//!   (the rest of the sub-buffer becomes padding), and open the next packet with its
//!   header followed by the record.
//!
//! It then publishes the new position together with its timestamp with one 16-byte
//! compare-and-swap on the reservation word `(write_pos, last_ts)`, its timestamp
//! raised to at least `last_ts` first; on failure it starts over with a fresh clock
//! reading. So timestamps never decrease in reservation order within a buffer, even
//! though `rdtsc` is not ordered with the load of the word (no fence needed). This holds when a thread migrates to another CPU between choosing the
//! buffer and reserving (several CPUs may write one buffer; the CAS orders them) and
//! when a signal handler traces in the middle of an event (it simply reserves after the
//! interrupted reservation, or makes the interrupted CAS fail and retry).
//!
//! After writing, the writer adds its byte count to the sub-buffer's commit counter.
//! The counter reaching the end of the current lap means every byte of the packet is
//! written (commits may arrive in any order); that writer wakes the consumer.
//!
//! Entering a sub-buffer requires its previous lap to be fully committed and, in
//! discard mode, consumed; otherwise the event is dropped and counted in `discarded`,
//! whose value is copied into `events_discarded` when a packet is closed.
//!
//! Builds without `cmpxchg16b` CAS the write position alone; their clock must then be
//! read *after* the load of `write_pos` (an ordered read: `lfence; rdtsc`, or
//! `clock_gettime`): see [`NEEDS_ORDERED_CLOCK`].

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::layout::{
    self, event_header::compact as event_header, packet, BufferConfig, Mode, StreamIdentity,
};
use super::shm::{self, Mapping, RecordWriter, ShmError};

/// Why a buffer could not be set up for writing.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error(transparent)]
    Config(#[from] layout::ConfigError),
    #[error(transparent)]
    Shm(#[from] ShmError),
    #[error("the ring buffer's control page does not match the expected layout (magic, version or geometry)")]
    Layout,
}

/// A record reserved by [`RingWriter::begin_record`], to commit once its body is written.
#[derive(Debug)]
#[must_use = "a reserved record that is never committed holds up its packet"]
pub struct PendingCommit {
    begin: u64,
    amount: u64,
}

/// The producing side of one ring buffer.
#[derive(Debug)]
pub struct RingWriter {
    map: Mapping,
    s: u64,
    /// log2 of `s`.
    s_shift: u32,
    n: u64,
    /// Data sub-buffers in the memfd: the ring's `n` and the spares.
    subbufs: u64,
    mode: Mode,
    id: StreamIdentity,
    wakeup: Option<Arc<OwnedFd>>,
    full_wait: std::time::Duration,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The record is larger than a sub-buffer can hold.
    TooBig,
    /// The next sub-buffer is not consumed (or not fully committed) yet.
    Full,
}

/// Where a reservation landed.
struct Reserved {
    /// Stream position of the record (its event header).
    begin: u64,
    /// Stream position where the previous packet was closed, if this record closed it.
    closed: Option<u64>,
    /// Whether this record opened a packet (and so must write its header).
    opened: bool,
    compact: bool,
    ts: u64,
    discarded: u64,
}

impl RingWriter {
    /// Creates a buffer in a new sealed memfd and returns the writer and the memfd (to
    /// hand to a consumer or keep for an in-process one).
    pub fn create(
        name: &CStr,
        cfg: BufferConfig,
        id: StreamIdentity,
        wakeup: Option<Arc<OwnedFd>>,
    ) -> Result<(RingWriter, OwnedFd), WriterError> {
        RingWriter::create_with_spares(name, cfg, id, wakeup, 0)
    }

    /// Like [`Self::create`], with `spares` more sub-buffers at the end of the memfd,
    /// which no ring slot shows at first: a consumer exchanges the sub-buffer of a full
    /// packet for a spare one instead of copying the packet out
    /// ([`super::reader::RingReader::take_exchanging`]; see the layout).
    pub fn create_with_spares(
        name: &CStr,
        cfg: BufferConfig,
        id: StreamIdentity,
        wakeup: Option<Arc<OwnedFd>>,
        spares: u64,
    ) -> Result<(RingWriter, OwnedFd), WriterError> {
        let file_len = cfg.mapped_len(spares)?;
        let fd = shm::create_sealed_memfd(name, file_len)?;
        let map = Mapping::map_owned(&fd, file_len)?;
        map.write_bytes(layout::OFF_MAGIC, &layout::MAGIC.to_le_bytes());
        map.write_bytes(layout::OFF_VERSION, &layout::LAYOUT_VERSION.to_le_bytes());
        map.write_bytes(layout::OFF_CPU, &id.cpu_id.to_le_bytes());
        map.write_bytes(layout::OFF_SUBBUF_SIZE, &cfg.subbuf_size.to_le_bytes());
        map.write_bytes(layout::OFF_NUM_SUBBUF, &cfg.num_subbuf.to_le_bytes());
        let w = RingWriter::from_mapping(map, cfg, id, wakeup)?;
        Ok((w, fd))
    }

    /// Maps a buffer created by someone else, after checking the seals, the size and
    /// the control page against the geometry we were told.
    pub fn open(
        fd: &OwnedFd,
        cfg: BufferConfig,
        id: StreamIdentity,
        wakeup: Option<Arc<OwnedFd>>,
    ) -> Result<RingWriter, WriterError> {
        RingWriter::open_with_spares(fd, cfg, id, wakeup, 0)
    }

    /// Like [`Self::open`], for a buffer with `spares` sub-buffers after the ring (see
    /// [`Self::create_with_spares`]): the memfd must be exactly that much larger.
    pub fn open_with_spares(
        fd: &OwnedFd,
        cfg: BufferConfig,
        id: StreamIdentity,
        wakeup: Option<Arc<OwnedFd>>,
        spares: u64,
    ) -> Result<RingWriter, WriterError> {
        let map = Mapping::map(fd.as_fd(), cfg.mapped_len(spares)?)?;
        RingWriter::from_mapping(map, cfg, id, wakeup)
    }

    fn from_mapping(
        map: Mapping,
        cfg: BufferConfig,
        id: StreamIdentity,
        wakeup: Option<Arc<OwnedFd>>,
    ) -> Result<RingWriter, WriterError> {
        let mut head = [0u8; 32];
        map.read_bytes(0, &mut head);
        let u64_at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().unwrap_or([0; 8]));
        let version = u32::from_le_bytes(head[8..12].try_into().unwrap_or([0; 4]));
        if u64_at(layout::OFF_MAGIC) != layout::MAGIC
            || version != layout::LAYOUT_VERSION
            || u64_at(layout::OFF_SUBBUF_SIZE) != cfg.subbuf_size
            || u64_at(layout::OFF_NUM_SUBBUF) != cfg.num_subbuf
        {
            return Err(WriterError::Layout);
        }
        let subbufs = (map.len() - layout::CONTROL_SIZE) as u64 / cfg.subbuf_size;
        Ok(RingWriter {
            map,
            s: cfg.subbuf_size,
            s_shift: cfg.subbuf_size.trailing_zeros(),
            n: cfg.num_subbuf,
            subbufs,
            mode: cfg.mode,
            id,
            wakeup,
            full_wait: std::time::Duration::ZERO,
        })
    }

    #[inline(always)]
    fn counter(&self, off: usize) -> &AtomicU64 {
        self.map.atomic(off)
    }

    /// Offset in the mapping of stream position `pos`, in the sub-buffer its slot
    /// shows.
    #[inline(always)]
    fn map_offset(&self, pos: u64) -> usize {
        let slot = (pos >> self.s_shift) & (self.n - 1);
        let sub = shared_subbuf(&self.map, self.subbufs, slot);
        layout::CONTROL_SIZE + ((sub << self.s_shift) | (pos & (self.s - 1))) as usize
    }

    /// Where this writer finds its slots' bytes.
    fn slots(&self) -> Slots<'static> {
        Slots::Shared(self.subbufs)
    }

    /// Events dropped so far (buffer full, record larger than a sub-buffer, or the
    /// sub-buffer to enter still being written by a stalled writer).
    pub fn discarded(&self) -> u64 {
        self.counter(layout::OFF_DISCARDED).load(Ordering::Relaxed)
    }

    /// Records one event: event header (id and timestamp from `now`), then `body_len`
    /// bytes written by `body`. Returns false if the event was dropped (and counted).
    #[inline(always)]
    pub fn record(
        &self,
        event_id: u32,
        body_len: usize,
        now: impl FnMut() -> u64,
        body: impl FnOnce(&mut RecordWriter<'_>),
    ) -> bool {
        match self.begin_record(event_id, body_len, now) {
            Some((mut w, pending)) => {
                body(&mut w);
                debug_assert_eq!(w.remaining(), 0, "record body shorter than announced");
                self.end_record(pending);
                true
            }
            None => false,
        }
    }

    /// The first half of [`RingWriter::record`], for callers that write the body
    /// themselves (the C interface): reserves the record, writes its event header and
    /// returns a cursor over the `body_len` bytes of its body, which must all be
    /// written before [`RingWriter::end_record`] commits them. None if the event was
    /// dropped (and counted).
    #[inline(always)]
    pub fn begin_record(
        &self,
        event_id: u32,
        body_len: usize,
        mut now: impl FnMut() -> u64,
    ) -> Option<(RecordWriter<'_>, PendingCommit)> {
        let r = match self.reserve(event_id, body_len, &mut now, 0) {
            Ok(r) => r,
            Err(Refused::Full) if !self.full_wait.is_zero() => {
                match self.wait_for_room(event_id, body_len, &mut now) {
                    Some(r) => r,
                    None => {
                        self.drop_event();
                        return None;
                    }
                }
            }
            Err(_) => {
                self.drop_event();
                return None;
            }
        };
        let hdr = if r.compact {
            event_header::COMPACT_SIZE
        } else {
            event_header::EXTENDED_SIZE
        };
        let len = hdr + body_len;
        if let Some(end) = r.closed {
            self.close_packet(end, r.ts, r.discarded);
        }
        if r.opened {
            self.open_packet(r.begin - packet::HEADER_SIZE as u64, r.ts);
        }
        let mut w = self.map.record(self.map_offset(r.begin), len);
        if r.compact {
            // event_id < EXTENDED_ID (5 bits) was checked when choosing the compact form;
            // the shift keeps the timestamp's low 27 bits.
            w.put_u32(event_id | (r.ts as u32) << event_header::ID_BITS);
        } else {
            w.put_u8(event_header::EXTENDED_ID as u8);
            w.put_u32(event_id);
            w.put_u64(r.ts);
        }
        let amount = len as u64
            + if r.opened {
                packet::HEADER_SIZE as u64
            } else {
                0
            };
        Some((
            w,
            PendingCommit {
                begin: r.begin,
                amount,
            },
        ))
    }

    /// Commits a record begun with [`RingWriter::begin_record`].
    #[inline(always)]
    pub fn end_record(&self, p: PendingCommit) {
        self.commit(p.begin, p.amount);
    }

    #[cold]
    fn drop_event(&self) -> bool {
        self.counter(layout::OFF_DISCARDED)
            .fetch_add(1, Ordering::Relaxed);
        false
    }

    /// The ring is full: wake the consumer and retry for up to `full_wait` before
    /// giving up (LTTng's blocking timeout, bounded). Yields the CPU between attempts,
    /// so that a consumer sharing the CPUs with busy producers runs.
    #[cold]
    #[inline(never)]
    fn wait_for_room(
        &self,
        event_id: u32,
        body_len: usize,
        now: &mut dyn FnMut() -> u64,
    ) -> Option<Reserved> {
        let deadline = std::time::Instant::now() + self.full_wait;
        let waiter = self.counter(layout::OFF_WAITER);
        let waiters = self.counter(layout::OFF_WAITERS);
        waiters.fetch_add(1, Ordering::AcqRel);
        // Our claim on the next free sub-buffer, once we hold it: without it, a waiter
        // that yields between attempts finds every freed sub-buffer already taken by
        // the writers that kept running.
        let mut me = 0u64;
        let mut attempt = 0u32;
        let result = loop {
            self.delivered();
            std::thread::yield_now();
            attempt += 1;
            if attempt.is_multiple_of(64) {
                // Long waits (a stalled disk): stop hammering the scheduler.
                std::thread::sleep(std::time::Duration::from_micros(10));
            }
            if me == 0 {
                let current = waiter.load(Ordering::Relaxed);
                if current == 0 || waiter_is_stale(current, self.full_wait) {
                    let token = (shm::coarse_ms() << 24) | (shm::thread_id() & 0xFF_FFFF) | 1;
                    if waiter
                        .compare_exchange(current, token, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                    {
                        me = token;
                    }
                }
            }
            match self.reserve(event_id, body_len, &mut *now, me | WAITING) {
                Ok(r) => break Some(r),
                Err(Refused::TooBig) => break None,
                Err(Refused::Full) if std::time::Instant::now() >= deadline => break None,
                Err(Refused::Full) => {}
            }
        };
        if me != 0 {
            let _ = waiter.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        waiters.fetch_sub(1, Ordering::AcqRel);
        result
    }

    /// How long a writer may wait for the consumer when the ring is full before it
    /// drops the event (zero, the default: drop at once, as LTTng's discard mode).
    pub fn set_full_wait(&mut self, wait: std::time::Duration) {
        self.full_wait = wait;
    }

    /// Reserves room for one record. `me` is the caller's waiter claim (0 for none):
    /// while another writer holds a claim, a new sub-buffer goes to it first.
    #[inline(always)]
    fn reserve(
        &self,
        event_id: u32,
        body_len: usize,
        mut now: impl FnMut() -> u64,
        me: u64,
    ) -> Result<Reserved, Refused> {
        let s = self.s;
        let mut cur = load_word(&self.map);
        loop {
            let (old, last) = cur;
            // Never earlier than the previous reservation: see the layout docs.
            let ts = now().max(last);
            let mut compact = event_id < event_header::EXTENDED_ID
                && (ts ^ last) >> event_header::COMPACT_TS_BITS == 0;
            let size = |compact: bool| {
                body_len
                    + if compact {
                        event_header::COMPACT_SIZE
                    } else {
                        event_header::EXTENDED_SIZE
                    }
            } as u64;
            let off = old & (s - 1);
            let mut r = Reserved {
                begin: old,
                closed: None,
                opened: false,
                compact,
                ts,
                discarded: 0,
            };
            // A record never ends exactly on the sub-buffer boundary: the packet it fills
            // must still be closed by a switch, which writes its end fields.
            let new = if off != 0 && off + size(compact) < s {
                old + size(compact)
            } else {
                // Switch: close the open packet (if any), open the next one.
                let next = if off == 0 { old } else { old - off + s };
                compact = event_id < event_header::EXTENDED_ID;
                let len = packet::HEADER_SIZE as u64 + size(compact);
                if len >= s {
                    return Err(Refused::TooBig);
                }
                if self.someone_else_waits(me) {
                    return Err(Refused::Full);
                }
                if !self.can_enter(next) {
                    // Our view may be stale: another writer (another CPU, or a signal
                    // handler that interrupted us) may have opened `next` since we read
                    // the word, so its commit counter is no longer that of an empty lap.
                    // Drop only if nobody moved the write position.
                    let now_word = load_word(&self.map);
                    if now_word.0 != old {
                        cur = now_word;
                        continue;
                    }
                    return Err(Refused::Full);
                }
                r.compact = compact;
                r.opened = true;
                r.begin = next + packet::HEADER_SIZE as u64;
                if off != 0 {
                    r.closed = Some(old);
                    r.discarded = self.counter(layout::OFF_DISCARDED).load(Ordering::Acquire);
                }
                next + len
            };
            match cas_word(&self.map, cur, (new, ts)) {
                Ok(()) => return Ok(r),
                Err(found) => cur = found,
            }
        }
    }

    /// Whether a new sub-buffer should go to another writer first: one that holds a
    /// live claim (the longest waiting), or, for a writer that is not waiting itself,
    /// any waiting writer. Writers that find the ring full join the waiters, so a
    /// freed sub-buffer never goes to a newcomer while others wait. (A count left too
    /// high by a crashed writer only makes switching writers yield once.)
    #[inline(always)]
    fn someone_else_waits(&self, me: u64) -> bool {
        if me & WAITING == 0 && self.counter(layout::OFF_WAITERS).load(Ordering::Relaxed) != 0 {
            return true;
        }
        let w = self.counter(layout::OFF_WAITER).load(Ordering::Relaxed);
        w != 0 && w != me & !WAITING && !waiter_is_stale(w, self.full_wait)
    }

    #[inline(always)]
    fn can_enter(&self, pos: u64) -> bool {
        can_enter(&self.map, self.s, self.n, self.mode, pos)
    }

    #[inline(always)]
    fn open_packet(&self, start: u64, ts: u64) {
        open_packet(&self.map, self.s, self.n, self.slots(), &self.id, start, ts);
    }

    #[inline(always)]
    fn close_packet(&self, end: u64, ts: u64, discarded: u64) {
        if close_packet(&self.map, self.s, self.n, self.slots(), end, ts, discarded) {
            self.delivered();
        }
    }

    #[inline(always)]
    fn commit(&self, pos: u64, amount: u64) {
        if commit(&self.map, self.s, self.n, pos, amount) {
            self.delivered();
        }
    }

    #[cold]
    fn delivered(&self) {
        if let Some(fd) = &self.wakeup {
            shm::wake_eventfd(fd.as_fd());
        }
    }

    /// Stops using the shared buffer for good (its session was destroyed): its pages
    /// are swapped for private zero pages (see [`Mapping::retire`]). Call it only once
    /// no new event can choose this writer; events already inside it complete into
    /// memory nobody reads.
    pub fn retire(&self) -> Result<(), ShmError> {
        self.map.retire()
    }

    /// Closes the open packet, if any, so that a reader can take it (stop, exit,
    /// snapshot). Returns whether a packet was closed.
    pub fn flush(&self, mut now: impl FnMut() -> u64) -> bool {
        let closed = flush(&self.map, self.s, self.n, self.slots(), &mut now);
        if closed {
            self.delivered();
        }
        closed
    }
}

/// Marks a reservation made by a writer inside [`RingWriter::wait_for_room`] (waiter
/// claims themselves always have bit 0 set and never bit 63).
const WAITING: u64 = 1 << 63;

/// A waiter claim older than twice the longest wait (plus slack) belongs to a writer
/// that died or gave up without clearing it: ignore it.
fn waiter_is_stale(token: u64, full_wait: std::time::Duration) -> bool {
    let age = shm::coarse_ms().saturating_sub(token >> 24);
    age > 2 * (full_wait.as_millis() as u64) + 10
}

/// How long a writer waits for room in a full ring before dropping its event, unless
/// told otherwise (standalone `LIBUST_BLOCKING_TIMEOUT_US`, `lttng enable-channel
/// --blocking-timeout`): the longest wait an app accepts.
///
/// A full ring means the consumer lags: a disk stall, or busy threads leaving it no
/// CPU. The bound applies to each event, so a thread is held up for as long as the
/// stall lasts whatever the bound is; a bound shorter than the stall only turns part of
/// that time into dropped events (the event after a drop waits again). A stall shorter
/// than the default therefore costs no event, and one that never ends costs every
/// event the bound either way. Measured here (2 threads x 10 M `bench:ev`, 4 x 512 KiB
/// per CPU, standalone): no wait lost 4.6-5.9 M events per run, 1 ms 0-19, 5 ms 0-1;
/// 20 ms lost none in most benchmark runs, but on an evening when single 4 MiB writes
/// stalled for 29-57 ms it lost 87 events in 3 of 30 runs; with every stream file a pipe whose
/// reader pauses 60 ms in every 160, 20 ms lost 21 and 181 events in two runs, 100 ms
/// 1 and 0. See BENCHMARKS.md.
pub const DEFAULT_BLOCKING_TIMEOUT_US: u64 = MAX_BLOCKING_TIMEOUT_US;

/// The longest wait libust accepts, whatever a session daemon asks: a consumer that
/// died or stalls for good costs a traced thread at most this per event.
pub const MAX_BLOCKING_TIMEOUT_US: u64 = 100_000;

/// Whether the clock given to [`RingWriter::record`] must be an ordered read (a fence
/// before `rdtsc`). False when the reservation word is updated with a 16-byte CAS, which
/// keeps timestamps monotonic by itself.
pub const NEEDS_ORDERED_CLOCK: bool =
    !cfg!(all(target_arch = "x86_64", target_feature = "cmpxchg16b"));

/// Reads the reservation word `(write_pos, last_ts)`. The two halves may be torn; a
/// CAS with a torn value fails and returns the true one.
#[inline(always)]
fn load_word(map: &Mapping) -> (u64, u64) {
    (
        map.atomic(layout::OFF_WRITE_POS).load(Ordering::Acquire),
        map.atomic(layout::OFF_LAST_TS).load(Ordering::Relaxed),
    )
}

/// Replaces the reservation word `cur` with `new`, or returns the word found.
#[cfg(all(target_arch = "x86_64", target_feature = "cmpxchg16b"))]
#[inline(always)]
fn cas_word(map: &Mapping, cur: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
    let found = map.cas_pair(layout::OFF_WRITE_POS, cur, new);
    if found == cur {
        Ok(())
    } else {
        Err(found)
    }
}

/// Without a 16-byte CAS: CAS the write position, then publish the timestamp (which
/// then only feeds the compact-header choice, a conservative use; ordering comes from
/// the fenced clock read).
#[cfg(not(all(target_arch = "x86_64", target_feature = "cmpxchg16b")))]
#[inline(always)]
fn cas_word(map: &Mapping, cur: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
    let wp = map.atomic(layout::OFF_WRITE_POS);
    match wp.compare_exchange_weak(cur.0, new.0, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            map.atomic(layout::OFF_LAST_TS)
                .store(new.1, Ordering::Relaxed);
            Ok(())
        }
        Err(pos) => Err((pos, map.atomic(layout::OFF_LAST_TS).load(Ordering::Relaxed))),
    }
}

/// Whether a writer may open the packet starting at stream position `pos`: the
/// previous lap of its sub-buffer is fully committed and, in discard mode, consumed.
#[cold]
fn can_enter(map: &Mapping, s: u64, n: u64, mode: Mode, pos: u64) -> bool {
    let lap = pos / s / n;
    let slot = (pos / s) & (n - 1);
    let committed = map
        .atomic(layout::OFF_COMMIT + 8 * slot as usize)
        .load(Ordering::Acquire);
    if committed != lap * s {
        return false;
    }
    match mode {
        Mode::Overwrite => true,
        Mode::Discard => {
            let consumed = map.atomic(layout::OFF_CONSUMED).load(Ordering::Acquire);
            pos.saturating_add(s) <= consumed.saturating_add(n * s)
        }
    }
}

/// Where a ring slot's bytes are.
#[derive(Clone, Copy, Debug)]
pub(super) enum Slots<'a> {
    /// Where the shared `subbuf_map` says, among this many data sub-buffers (writers).
    Shared(u64),
    /// Where the reader's own record says: `sub[slot]`, or the slot's own sub-buffer if
    /// the record is empty (a reader that never exchanges).
    Private(&'a [u64]),
}

/// The data sub-buffer that ring slot `slot` shows, as the shared map says; an entry
/// that names none of the `subbufs` sub-buffers counts as zero (the slot's own).
#[inline(always)]
pub(super) fn shared_subbuf(map: &Mapping, subbufs: u64, slot: u64) -> u64 {
    let entry = map
        .atomic_u32(layout::OFF_SUBBUF_MAP + 4 * slot as usize)
        .load(Ordering::Relaxed);
    let sub = slot ^ u64::from(entry);
    if sub < subbufs {
        sub
    } else {
        slot
    }
}

/// Offset in `map` of the packet starting at stream position `start`.
pub(super) fn data_offset(map: &Mapping, s: u64, n: u64, slots: Slots<'_>, start: u64) -> usize {
    let slot = (start / s) & (n - 1);
    let sub = match slots {
        Slots::Shared(subbufs) => shared_subbuf(map, subbufs, slot),
        Slots::Private(sub) => sub.get(slot as usize).copied().unwrap_or(slot),
    };
    layout::CONTROL_SIZE + (sub * s) as usize
}

/// Writes the fields of a packet known when it is opened.
#[cold]
fn open_packet(
    map: &Mapping,
    s: u64,
    n: u64,
    slots: Slots<'_>,
    id: &StreamIdentity,
    start: u64,
    ts: u64,
) {
    let base = data_offset(map, s, n, slots, start);
    let put = |off: usize, b: &[u8]| map.write_bytes(base + off, b);
    put(packet::MAGIC, &layout::CTF_MAGIC.to_le_bytes());
    put(packet::UUID, &id.uuid);
    put(packet::STREAM_ID, &id.stream_id.to_le_bytes());
    put(
        packet::STREAM_INSTANCE_ID,
        &id.stream_instance_id.to_le_bytes(),
    );
    put(packet::TIMESTAMP_BEGIN, &ts.to_le_bytes());
    put(packet::PACKET_SEQ_NUM, &(start / s).to_le_bytes());
    put(packet::CPU_ID, &id.cpu_id.to_le_bytes());
}

/// Writes a packet with no event, opened and closed at once, so that a reader learns
/// the final discarded-event count when no packet is open to carry it (LTTng does the
/// same at stop). Returns true if the packet was written and is complete.
pub(super) fn populate_empty(
    map: &Mapping,
    s: u64,
    n: u64,
    slots: Slots<'_>,
    mode: Mode,
    id: &StreamIdentity,
    now: &mut dyn FnMut() -> u64,
) -> bool {
    let mut cur = load_word(map);
    loop {
        let (old, last) = cur;
        if old & (s - 1) != 0 {
            return false;
        }
        if !can_enter(map, s, n, mode, old) {
            let again = load_word(map);
            if again.0 == old {
                return false;
            }
            cur = again;
            continue;
        }
        let ts = now().max(last);
        let disc = map.atomic(layout::OFF_DISCARDED).load(Ordering::Acquire);
        match cas_word(map, cur, (old.wrapping_add(s), ts)) {
            Ok(()) => {
                open_packet(map, s, n, slots, id, old, ts);
                commit(map, s, n, old, packet::HEADER_SIZE as u64);
                return close_packet(
                    map,
                    s,
                    n,
                    slots,
                    old.wrapping_add(packet::HEADER_SIZE as u64),
                    ts,
                    disc,
                );
            }
            Err(found) => cur = found,
        }
    }
}

/// Adds `amount` committed bytes to the sub-buffer holding stream position `pos`;
/// returns true if that completed the packet.
#[inline(always)]
fn commit(map: &Mapping, s: u64, n: u64, pos: u64, amount: u64) -> bool {
    // Every event ends here: shifts, not divisions (two `div`s cost more than the
    // rest of the commit). S and N are powers of two (`BufferConfig::validate`).
    let (s_shift, n_shift) = (s.trailing_zeros(), n.trailing_zeros());
    let slot = (pos >> s_shift) & (n - 1);
    let prev = map
        .atomic(layout::OFF_COMMIT + 8 * slot as usize)
        .fetch_add(amount, Ordering::AcqRel);
    let lap_end = ((pos >> (s_shift + n_shift)) + 1) << s_shift;
    prev.wrapping_add(amount) == lap_end
}

/// Writes the fields known when a packet is closed at stream position `end`, then
/// commits its padding; returns true if that completed the packet.
#[cold]
fn close_packet(
    map: &Mapping,
    s: u64,
    n: u64,
    slots: Slots<'_>,
    end: u64,
    ts: u64,
    discarded: u64,
) -> bool {
    let off = end & (s - 1);
    let start = end - off;
    let base = data_offset(map, s, n, slots, start);
    map.write_bytes(base + packet::TIMESTAMP_END, &ts.to_le_bytes());
    map.write_bytes(base + packet::CONTENT_SIZE, &(off * 8).to_le_bytes());
    map.write_bytes(
        base + packet::PACKET_SIZE,
        &(layout::padded_packet_size(off, s) * 8).to_le_bytes(),
    );
    map.write_bytes(base + packet::EVENTS_DISCARDED, &discarded.to_le_bytes());
    commit(map, s, n, start, s - off)
}

/// Closes the open packet of the buffer in `map`, if there is one: moves the write
/// position to the end of the sub-buffer with a CAS, then writes the packet end and
/// commits the padding. Returns true if a packet was closed and completed by this call.
/// Used by writers (exit, stop) and by readers (flush before the final drain).
pub(super) fn flush(
    map: &Mapping,
    s: u64,
    n: u64,
    slots: Slots<'_>,
    now: &mut dyn FnMut() -> u64,
) -> bool {
    let mut cur = load_word(map);
    loop {
        let (old, last) = cur;
        let off = old & (s - 1);
        if off == 0 {
            return false;
        }
        let ts = now().max(last);
        let disc = map.atomic(layout::OFF_DISCARDED).load(Ordering::Acquire);
        match cas_word(map, cur, ((old - off).wrapping_add(s), ts)) {
            Ok(()) => return close_packet(map, s, n, slots, old, ts, disc),
            Err(found) => cur = found,
        }
    }
}

/// Completes the packets from stream position `from` on that writers abandoned: a
/// writer killed between its reservation and its commit leaves its sub-buffer short of
/// committed bytes forever, which would hide the packet from the reader and, once the
/// ring wraps, block every writer. Only call this when no writer of the buffer is alive
/// (every process that mapped it has exited).
///
/// A packet short of bytes is ended at its committed length: the events committed
/// before the dead writer's reservation are kept, the reservation itself (partly
/// written) falls outside `content_size`. This is exact when the dead writer was the
/// last to reserve in that packet, always the case for a single-threaded process; with
/// several threads killed mid-event, events committed after the first hole in a packet
/// are cut off with it. A packet the dead writer opened without writing its header gets
/// a fresh header and no event. An open packet with nothing missing is simply closed.
/// Returns how many packets had to be repaired.
pub(super) fn recover_abandoned(
    map: &Mapping,
    s: u64,
    n: u64,
    slots: Slots<'_>,
    id: &StreamIdentity,
    from: u64,
) -> u64 {
    let (wp, last) = load_word(map);
    let first = from / s;
    // Every packet with a reserved byte, at most one lap of them.
    let end = wp.div_ceil(s).min(first.saturating_add(n));
    let mut repaired = 0;
    for k in first..end {
        let start = k * s;
        let slot = k & (n - 1);
        let lap_base = (k / n) * s;
        let committed = map
            .atomic(layout::OFF_COMMIT + 8 * slot as usize)
            .load(Ordering::Acquire);
        if committed >= lap_base + s || committed < lap_base {
            continue;
        }
        let c = committed - lap_base;
        let open = wp & (s - 1) != 0 && wp > start && wp < start + s;
        if open {
            // Still the open packet: end the reservation at the sub-buffer's end. A
            // failed CAS means a live writer: leave everything as it is.
            if cas_word(map, (wp, last), (start + s, last)).is_err() {
                return repaired;
            }
        }
        // An open packet whose every reserved byte is committed was merely left open
        // (its writers exited normally): closing it is a flush, not a repair.
        let abandoned = !open || c != wp - start;
        let header = packet::HEADER_SIZE as u64;
        let content = if c < header {
            open_packet(map, s, n, slots, id, start, last);
            header
        } else {
            c
        };
        // Bring the counter to `content`, then close_packet commits the rest.
        if content > c {
            commit(map, s, n, start, content - c);
        }
        let disc = map.atomic(layout::OFF_DISCARDED).load(Ordering::Acquire);
        close_packet(map, s, n, slots, start + content, last, disc);
        repaired += u64::from(abandoned);
    }
    repaired
}
