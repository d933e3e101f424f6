//! The reader side: takes complete packets out of a ring buffer written by someone it
//! does not trust.
//!
//! Every value read from the shared mapping (write position, commit counters, packet
//! headers) may be garbage. The reader keeps its own read position, copies a packet
//! into private memory *before* looking at it, checks the copy against what it expects
//! (magic, uuid, stream ids, sequence number, sizes, time order), and reports a packet
//! that fails as [`PacketError`] — then moves on to the next one. No value from shared
//! memory is ever used as an offset or a length.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{fence, Ordering};
use std::sync::{Arc, Mutex};

use super::layout::{self, packet, BufferConfig, Mode, StreamIdentity};
use super::shm::{Chunk, Mapping, ShmError};
use super::writer::{data_offset, shared_subbuf, Slots};

/// Why a packet taken from the ring was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    #[error("packet {seq}: bad magic {found:#x}")]
    Magic { seq: u64, found: u32 },
    #[error("packet {seq}: uuid or stream ids do not match this stream")]
    Identity { seq: u64 },
    #[error("packet {seq}: sequence number {found} where {seq} was expected")]
    Sequence { seq: u64, found: u64 },
    #[error("packet {seq}: packet_size {found} bits where {expected} was expected")]
    PacketSize { seq: u64, found: u64, expected: u64 },
    #[error("packet {seq}: content_size {found} bits is outside the packet")]
    ContentSize { seq: u64, found: u64 },
    #[error("packet {seq}: timestamps go backwards")]
    Time { seq: u64 },
    #[error("packet {seq}: events_discarded went backwards")]
    Discarded { seq: u64 },
    #[error("packet {seq}: overwritten by the writer while it was being read")]
    Overwritten { seq: u64 },
}

/// The result of asking for the next packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A checked packet is in the caller's buffer, truncated to its `packet_size`
    /// (bytes after `content_size` are zeroed).
    Packet,
    /// The packet at the read position failed its check and was skipped.
    Corrupt(PacketError),
    /// No complete packet is waiting.
    Empty,
}

/// The result of [`RingReader::take`] (`P`: the packet's size in bytes) and of
/// [`RingReader::take_in_place`] (`P`: [`InPlace`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Taken<P = usize> {
    /// A checked packet: for [`RingReader::take`], this many bytes at the front of the
    /// caller's buffer (bytes after `content_size` are zeroed).
    Packet(P),
    /// The packet at the read position failed its check and was skipped.
    Corrupt(PacketError),
    /// No complete packet is waiting.
    Empty,
}

impl<P> Taken<P> {
    /// Applies `f` to a packet, leaving the other outcomes as they are.
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Taken<Q> {
        match self {
            Taken::Packet(p) => Taken::Packet(f(p)),
            Taken::Corrupt(e) => Taken::Corrupt(e),
            Taken::Empty => Taken::Empty,
        }
    }
}

/// The result of [`RingReader::take_in_place`].
pub type TakenInPlace = Taken<InPlace>;

/// How much of a packet [`RingReader::take_in_place`] copies out: its first page,
/// where the header is. Packets are whole pages, so every packet has one.
pub const HEAD_SIZE: usize = layout::PACKET_ALIGN as usize;

/// A packet taken in place: its first page was copied out and checked; the rest, a
/// whole number of pages at a page-aligned offset (as direct I/O needs), is still in
/// the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InPlace {
    rest: std::ops::Range<usize>,
}

impl InPlace {
    /// Size in bytes (the packet's `packet_size`).
    pub fn len(&self) -> usize {
        HEAD_SIZE + (self.rest.end - self.rest.start)
    }

    /// Always false: a packet holds at least its first page.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A page-aligned packet buffer, as direct I/O (`O_DIRECT`) needs.
#[derive(Clone)]
pub struct PageBuf {
    pages: Vec<Page>,
}

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4096))]
struct Page([u8; 4096]);

impl PageBuf {
    /// A zeroed buffer of at least `len` bytes, rounded up to whole pages.
    pub fn new(len: usize) -> PageBuf {
        PageBuf {
            pages: vec![Page([0; 4096]); len.div_ceil(4096)],
        }
    }

    /// The whole buffer.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        bytemuck::cast_slice_mut(&mut self.pages)
    }

    /// The first `len` bytes.
    pub fn bytes(&self, len: usize) -> &[u8] {
        &bytemuck::cast_slice(&self.pages)[..len]
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.pages.len() * 4096
    }
}

impl std::fmt::Debug for PageBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageBuf({} bytes)", self.capacity())
    }
}

/// The result of [`RingReader::take_exchanging`].
#[derive(Debug)]
pub enum Exchanged {
    /// A checked packet, out of the ring.
    Packet(Held),
    /// The packet at the read position failed its check and was skipped.
    Corrupt(PacketError),
    /// No complete packet is waiting.
    Empty,
    /// A packet is waiting but every spare sub-buffer is held: drop a [`Held`] first.
    NoSpare,
}

/// A packet taken out of the ring by [`RingReader::take_exchanging`]: its checked first
/// page here, the rest in a memfd sub-buffer that no ring slot shows, until the value is
/// dropped (the sub-buffer then becomes a spare again).
#[derive(Debug)]
pub struct Held {
    map: Arc<Mapping>,
    free: Arc<Mutex<Vec<u64>>>,
    sub: u64,
    head: PageBuf,
    rest: std::ops::Range<usize>,
}

impl Held {
    /// Size in bytes (the packet's `packet_size`).
    pub fn len(&self) -> usize {
        HEAD_SIZE + (self.rest.end - self.rest.start)
    }

    /// The packet's sequence number (from its checked header).
    pub fn seq(&self) -> u64 {
        let b = self.head.bytes(HEAD_SIZE);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[packet::PACKET_SEQ_NUM..packet::PACKET_SEQ_NUM + 8]);
        u64::from_le_bytes(seq)
    }

    /// Always false: a packet holds at least its first page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes `packets`, all of one ring, in order, however the kernel splits the write:
    /// the checked heads from this process, the rest straight from shared memory (with
    /// direct I/O, the device reads it there).
    pub fn write_all(fd: BorrowedFd<'_>, packets: &[&Held]) -> std::io::Result<()> {
        let Some(first) = packets.first() else {
            return Ok(());
        };
        let mut chunks = Vec::with_capacity(2 * packets.len());
        for p in packets {
            assert!(
                Arc::ptr_eq(&p.map, &first.map),
                "held packets of different rings in one write"
            );
            chunks.push(Chunk::Private(p.head.bytes(HEAD_SIZE)));
            if !p.rest.is_empty() {
                chunks.push(Chunk::Shared(p.rest.clone()));
            }
        }
        first.map.write_all_chunks_to(fd, chunks)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut free) = self.free.lock() {
            free.push(self.sub);
        }
    }
}

/// The consuming side of one ring buffer.
#[derive(Debug)]
pub struct RingReader {
    map: Arc<Mapping>,
    s: u64,
    n: u64,
    mode: Mode,
    id: StreamIdentity,
    /// Our own read position (the copy in shared memory is only a hint for writers).
    consumed: u64,
    last_ts_end: u64,
    last_discarded: u64,
    lost_packets: u64,
    /// Whether the read position is published to the shared `consumed` (false for
    /// [`RingReader::observer`]).
    publish: bool,
    /// Publish only on [`RingReader::release`] (a consumer that must not free a
    /// sub-buffer before its copy is safely written).
    deferred: bool,
    /// The spare sub-buffers of [`RingReader::open_with_spares`], if any.
    spares: Option<Spares>,
}

/// Spare sub-buffers: the memfd holds `N + K` sub-buffers, the writers' ring shows `N`
/// of them, and the reader exchanges a full one for a free one instead of copying it.
#[derive(Debug)]
struct Spares {
    /// `shows[slot]`: the data sub-buffer that ring slot `slot` shows now.
    shows: Vec<u64>,
    /// Memfd sub-buffers in no slot and not held by a [`Held`] packet.
    free: Arc<Mutex<Vec<u64>>>,
    /// False when the shared slot table found on resuming was not one sub-buffer per
    /// slot: this reader then reads where the writers write and never exchanges.
    exchanging: bool,
}

impl RingReader {
    /// Maps the buffer behind `fd`, refusing anything but a memfd sealed against
    /// shrinking and growing and of exactly the size `cfg` implies.
    pub fn open(
        fd: BorrowedFd<'_>,
        cfg: BufferConfig,
        id: StreamIdentity,
    ) -> Result<RingReader, ShmError> {
        cfg.validate()
            .map_err(|e| ShmError::Map(std::io::Error::other(e)))?;
        let map = Mapping::map(fd, cfg.shm_size())?;
        Ok(RingReader::open_mapped(map, cfg, id))
    }

    /// Opens a buffer of [`super::writer::RingWriter::create_with_spares`], ring and
    /// `spares` more sub-buffers, for [`Self::take_exchanging`]. A fresh reader of a
    /// fresh buffer: it starts at packet 0, with every slot showing its own sub-buffer.
    pub fn open_with_spares(
        fd: BorrowedFd<'_>,
        cfg: BufferConfig,
        id: StreamIdentity,
        spares: u64,
    ) -> Result<RingReader, ShmError> {
        cfg.validate()
            .map_err(|e| ShmError::Map(std::io::Error::other(e)))?;
        let file_len = usize::try_from(cfg.file_size(spares)).unwrap_or(usize::MAX);
        let map = Mapping::map(fd, file_len)?;
        let mut r = RingReader::open_mapped(map, cfg, id);
        let n = cfg.num_subbuf;
        r.spares = Some(Spares {
            shows: (0..n).collect(),
            // Popped from the end: the lowest spares are used first and most often, so
            // that a run without stalls touches few of them.
            free: Arc::new(Mutex::new((n..n + spares).rev().collect())),
            exchanging: true,
        });
        Ok(r)
    }

    /// Like [`Self::resume`], for a buffer with `spares` sub-buffers after the ring that
    /// a previous reader may have exchanged packets of (a restarted consumer). Which
    /// sub-buffer each slot shows is read from the shared map, as the writers read it
    /// (an entry naming no sub-buffer of the memfd is the slot's own), once; the
    /// sub-buffers no slot shows are the spares. A map in which two slots show one
    /// sub-buffer (garbage) turns exchanges off for this reader: it reads in place where
    /// the writers write, and [`Self::can_exchange`] is false. Packets the previous
    /// reader exchanged out but had not written are in [`Self::recover_held`].
    pub fn resume_with_spares(
        fd: BorrowedFd<'_>,
        cfg: BufferConfig,
        id: StreamIdentity,
        spares: u64,
    ) -> Result<RingReader, ShmError> {
        cfg.validate()
            .map_err(|e| ShmError::Map(std::io::Error::other(e)))?;
        if spares > layout::MAX_SPARES {
            return Err(ShmError::Map(std::io::Error::other(format!(
                "{spares} spare sub-buffers; at most {} are allowed",
                layout::MAX_SPARES
            ))));
        }
        let file_len = usize::try_from(cfg.file_size(spares)).unwrap_or(usize::MAX);
        let map = Mapping::map(fd, file_len)?;
        let mut r = RingReader::open_mapped(map, cfg, id);
        r.consumed = r.shared_resume_position();
        let (n, total) = (cfg.num_subbuf, cfg.num_subbuf + spares);
        let shows: Vec<u64> = (0..n)
            .map(|slot| shared_subbuf(&r.map, total, slot))
            .collect();
        let mut shown = vec![false; total as usize];
        let mut exchanging = true;
        for &sub in &shows {
            exchanging &= !std::mem::replace(&mut shown[sub as usize], true);
        }
        let free = if exchanging {
            (0..total)
                .rev()
                .filter(|&sub| !shown[sub as usize])
                .collect()
        } else {
            Vec::new()
        };
        r.spares = Some(Spares {
            shows,
            free: Arc::new(Mutex::new(free)),
            exchanging,
        });
        Ok(r)
    }

    /// Whether [`Self::take_exchanging`] can take packets (a reader with spares and a
    /// sound slot table).
    pub fn can_exchange(&self) -> bool {
        self.mode == Mode::Discard && self.spares.as_ref().is_some_and(|sp| sp.exchanging)
    }

    /// After [`Self::resume_with_spares`] (and [`Self::skip_to_packet`] past what the
    /// stream file holds): the packets a previous reader exchanged out of the ring and
    /// had not written when it stopped. They are in sub-buffers that no slot shows,
    /// numbered from `first` (the packet after the file's last) up to the read position;
    /// each is checked like any packet, in order, and returned to be written before
    /// anything else. Numbers in that range found nowhere are counted as lost.
    ///
    /// A previous reader stopped between exchanging the packet at the read position and
    /// publishing that it took it: that packet is found the same way, and the read
    /// position moves past it.
    pub fn recover_held(&mut self, first: u64) -> Vec<Held> {
        if !self.can_exchange() {
            return Vec::new();
        }
        let Some(pool) = self.spares.as_ref().map(|sp| sp.free.clone()) else {
            return Vec::new();
        };
        let next = self.consumed / self.s;
        let free: Vec<u64> = pool.lock().map(|f| f.clone()).unwrap_or_default();
        let mut found: Vec<(u64, u64)> = free
            .into_iter()
            .filter_map(|sub| {
                let mut seq = [0u8; 8];
                let at = layout::CONTROL_SIZE + (sub * self.s) as usize;
                self.map.read_bytes(at + packet::PACKET_SEQ_NUM, &mut seq);
                let seq = u64::from_le_bytes(seq);
                (first..=next).contains(&seq).then_some((seq, sub))
            })
            .collect();
        found.sort_unstable();
        found.dedup_by_key(|&mut (seq, _)| seq);
        let mut held = Vec::new();
        for (seq, sub) in found {
            let offset = layout::CONTROL_SIZE + (sub * self.s) as usize;
            let mut head = PageBuf::new(HEAD_SIZE);
            // A spare never used, or one whose old packet was overwritten: not a loss
            // (a number missing from the range is counted below).
            let lost = self.lost_packets;
            let Ok(rest) = self.check_in_place(seq, offset, head.as_mut_slice()) else {
                self.lost_packets = lost;
                continue;
            };
            if let Ok(mut f) = pool.lock() {
                f.retain(|&s| s != sub);
            }
            held.push(Held {
                map: self.map.clone(),
                free: pool.clone(),
                sub,
                head,
                rest,
            });
            if seq == next {
                self.consumed = self.consumed.saturating_add(self.s);
                self.store_consumed();
            }
        }
        let recovered = held.iter().filter(|h| h.seq() < next).count() as u64;
        let missing = next.saturating_sub(first).saturating_sub(recovered);
        self.lost_packets = self.lost_packets.saturating_add(missing);
        held
    }

    /// A reader of the same buffer that does not consume (snapshots): from this
    /// reader's position, with its record of the slots, and never publishing.
    pub fn observe(&self) -> RingReader {
        RingReader {
            map: self.map.clone(),
            s: self.s,
            n: self.n,
            mode: self.mode,
            id: self.id,
            consumed: self.consumed,
            last_ts_end: 0,
            last_discarded: 0,
            lost_packets: 0,
            publish: false,
            deferred: false,
            spares: self.spares.as_ref().map(|sp| Spares {
                shows: sp.shows.clone(),
                free: Arc::new(Mutex::new(Vec::new())),
                exchanging: false,
            }),
        }
    }

    /// A reader of `map`, whose geometry `cfg` was validated.
    fn open_mapped(map: Mapping, cfg: BufferConfig, id: StreamIdentity) -> RingReader {
        RingReader {
            map: Arc::new(map),
            s: cfg.subbuf_size,
            n: cfg.num_subbuf,
            mode: cfg.mode,
            id,
            consumed: 0,
            last_ts_end: 0,
            last_discarded: 0,
            lost_packets: 0,
            publish: true,
            deferred: false,
            spares: None,
        }
    }

    /// Where each ring slot's bytes are in this reader's mapping: its own record, never
    /// the shared map (untrusted).
    fn slots(&self) -> Slots<'_> {
        Slots::Private(self.spares.as_ref().map_or(&[], |sp| &sp.shows))
    }

    /// Like [`Self::open`], but starts where the previous reader of this buffer left
    /// off (a restarted consumer): at the shared `consumed` position, rounded down to a
    /// packet boundary and never past the write position (both are untrusted).
    pub fn resume(
        fd: BorrowedFd<'_>,
        cfg: BufferConfig,
        id: StreamIdentity,
    ) -> Result<RingReader, ShmError> {
        let mut r = RingReader::open(fd, cfg, id)?;
        r.consumed = r.shared_resume_position();
        Ok(r)
    }

    /// The shared `consumed` position, rounded down to a packet boundary and never past
    /// the write position (both are untrusted).
    fn shared_resume_position(&self) -> u64 {
        let wp = self
            .map
            .atomic(layout::OFF_WRITE_POS)
            .load(Ordering::Acquire);
        let consumed = self
            .map
            .atomic(layout::OFF_CONSUMED)
            .load(Ordering::Acquire);
        consumed.min(wp) / self.s * self.s
    }

    /// A reader that does not consume (snapshots): it starts like [`Self::resume`]
    /// but never publishes its position, so the writers and the buffer's real reader
    /// see no change.
    pub fn observer(
        fd: BorrowedFd<'_>,
        cfg: BufferConfig,
        id: StreamIdentity,
    ) -> Result<RingReader, ShmError> {
        let mut r = RingReader::resume(fd, cfg, id)?;
        r.publish = false;
        Ok(r)
    }

    /// How many packets the writers have reserved in full (up to a sub-buffer
    /// boundary) that this reader has not taken yet. After a flush and a drain that
    /// found nothing, a non-zero count means writers are still committing into closed
    /// packets. Untrusted: a hint for how long to wait, never an offset.
    pub fn unread_closed_packets(&self) -> u64 {
        let wp = self
            .map
            .atomic(layout::OFF_WRITE_POS)
            .load(Ordering::Acquire);
        (wp / self.s).saturating_sub(self.consumed / self.s)
    }

    /// Sub-buffer size in bytes: the size of every packet this reader returns.
    pub fn packet_size(&self) -> usize {
        self.s as usize
    }

    /// Number of sub-buffers in the ring.
    pub fn num_subbufs(&self) -> u64 {
        self.n
    }

    /// Packets lost because the writer overwrote them before they were read
    /// (overwrite mode) or because they failed their check.
    pub fn lost_packets(&self) -> u64 {
        self.lost_packets
    }

    /// The writer's count of discarded events (untrusted, for statistics only).
    pub fn discarded_hint(&self) -> u64 {
        self.map
            .atomic(layout::OFF_DISCARDED)
            .load(Ordering::Relaxed)
    }

    /// Closes the writer's open packet so the final events can be read.
    pub fn flush(&self, mut now: impl FnMut() -> u64) -> bool {
        super::writer::flush(&self.map, self.s, self.n, self.slots(), &mut now)
    }

    /// Completes the packets that dead writers left short of committed bytes, so that
    /// they can be read (see `writer::recover_abandoned` for what is kept). Call it only
    /// when every process that could write into the buffer has exited. Returns how many
    /// packets were completed.
    pub fn recover_abandoned(&self) -> u64 {
        super::writer::recover_abandoned(
            &self.map,
            self.s,
            self.n,
            self.slots(),
            &self.id,
            self.consumed,
        )
    }

    /// At the end of tracing, after every packet has been read: if the writer counted
    /// discarded events that no packet reported yet, has it write an empty packet that
    /// does. Returns true if such a packet is now ready.
    pub fn report_final_discards(&self, mut now: impl FnMut() -> u64) -> bool {
        if self.discarded_hint() <= self.last_discarded {
            return false;
        }
        super::writer::populate_empty(
            &self.map,
            self.s,
            self.n,
            self.slots(),
            self.mode,
            &self.id,
            &mut now,
        )
    }

    /// Copies the next complete packet into `buf` and checks it; `buf` is resized to
    /// the packet.
    pub fn next_packet(&mut self, buf: &mut Vec<u8>) -> Next {
        buf.resize(self.s as usize, 0);
        match self.take(buf) {
            Taken::Packet(len) => {
                buf.truncate(len);
                Next::Packet
            }
            Taken::Corrupt(e) => Next::Corrupt(e),
            Taken::Empty => Next::Empty,
        }
    }

    /// The number and the offset in the mapping of the next packet, if it is complete
    /// (in overwrite mode, after skipping packets the writers have lapped).
    fn next_complete(&mut self) -> Option<(u64, usize)> {
        let s = self.s;
        let wp = self
            .map
            .atomic(layout::OFF_WRITE_POS)
            .load(Ordering::Acquire);
        if self.mode == Mode::Overwrite {
            // Packets older than the ring's reach are gone; skip to the oldest one.
            let oldest = wp.div_ceil(s).saturating_sub(self.n) * s;
            if oldest > self.consumed {
                self.lost_packets = self
                    .lost_packets
                    .saturating_add((oldest - self.consumed) / s);
                self.consumed = oldest;
            }
        }
        let k = self.consumed / s;
        let slot = k & (self.n - 1);
        let lap_end = (k / self.n + 1) * s;
        let committed = self
            .map
            .atomic(layout::OFF_COMMIT + 8 * slot as usize)
            .load(Ordering::Acquire);
        if committed < lap_end || wp < self.consumed.saturating_add(s) {
            return None;
        }
        Some((k, data_offset(&self.map, s, self.n, self.slots(), k * s)))
    }

    /// Takes the next complete packet without copying all of it, for a consumer that
    /// writes packets out straight from the ring (see [`Self::write_in_place`]).
    ///
    /// Only the packet's first page, which holds the header, is copied: into `head`
    /// (at least [`HEAD_SIZE`] bytes), where it is checked; that checked copy is what
    /// gets written, so the packet's framing in the output is exactly what was
    /// checked even if a writer rewrites the ring meanwhile. The rest is written from
    /// the ring as it is then (payload bytes, untrusted in any case); the bytes after
    /// `content_size` are zeroed first.
    ///
    /// The packet's sub-buffer stays this reader's, and no writer reuses it, until
    /// [`Self::release`]: packets taken in place are never published as consumed
    /// before. Discard mode only: in overwrite mode writers take sub-buffers back
    /// without asking.
    pub fn take_in_place(&mut self, head: &mut [u8]) -> TakenInPlace {
        assert!(
            self.mode == Mode::Discard,
            "take_in_place needs a discard-mode ring"
        );
        let head = &mut head[..HEAD_SIZE];
        let Some((k, offset)) = self.next_complete() else {
            return TakenInPlace::Empty;
        };
        self.consumed = self.consumed.saturating_add(self.s);
        match self.check_in_place(k, offset, head) {
            Ok(rest) => TakenInPlace::Packet(InPlace { rest }),
            Err(e) => TakenInPlace::Corrupt(e),
        }
    }

    /// Copies the first page of packet `seq`, at `offset` in the mapping, into `head`
    /// and checks it; for a good packet, zeroes what follows `content_size` (in `head`
    /// and in the mapping) and returns the range of the rest of the packet in the
    /// mapping. A bad packet is counted as lost.
    fn check_in_place(
        &mut self,
        seq: u64,
        offset: usize,
        head: &mut [u8],
    ) -> Result<std::ops::Range<usize>, PacketError> {
        let head = &mut head[..HEAD_SIZE];
        self.map.read_bytes(offset, head);
        let (content, size) = self.check(seq, head).inspect_err(|_| {
            self.lost_packets = self.lost_packets.saturating_add(1);
        })?;
        // `size` is whole pages, at least one: the head is all of the first.
        if content < HEAD_SIZE {
            head[content..].fill(0);
        }
        let from = content.max(HEAD_SIZE);
        if size > from {
            self.map.zero(offset + from, size - from);
        }
        Ok(offset + HEAD_SIZE..offset + size)
    }

    /// Writes packets taken with [`Self::take_in_place`], each with the head it was
    /// taken with, to `fd` in order, however the kernel splits the write. Call
    /// [`Self::release`] afterwards.
    pub fn write_in_place(
        &self,
        fd: BorrowedFd<'_>,
        packets: &[(&[u8], &InPlace)],
    ) -> std::io::Result<()> {
        let mut chunks = Vec::with_capacity(2 * packets.len());
        for (head, p) in packets {
            chunks.push(Chunk::Private(&head[..HEAD_SIZE]));
            if !p.rest.is_empty() {
                chunks.push(Chunk::Shared(p.rest.clone()));
            }
        }
        self.map.write_all_chunks_to(fd, chunks)
    }

    /// Takes the next complete packet by exchanging its sub-buffer for a spare one
    /// (readers that [`Self::can_exchange`]; others always get `NoSpare`): the slot now shows the spare and
    /// is released to the writers at once, and the packet's sub-buffer belongs to the
    /// returned [`Held`] until it is dropped. No copy, and a slow disk holds spares,
    /// not the ring.
    ///
    /// The packet's first page is copied and checked as in [`Self::take_in_place`].
    /// Discard mode only.
    pub fn take_exchanging(&mut self) -> Exchanged {
        assert!(
            self.mode == Mode::Discard,
            "take_exchanging needs a discard-mode ring"
        );
        let Some((k, _)) = self.next_complete() else {
            return Exchanged::Empty;
        };
        let slot = k & (self.n - 1);
        let Some(sp) = self.spares.as_mut().filter(|sp| sp.exchanging) else {
            return Exchanged::NoSpare;
        };
        let Some(spare) = sp.free.lock().ok().and_then(|mut f| f.pop()) else {
            return Exchanged::NoSpare;
        };
        // The release of the slot below orders this before the writers' next use of it.
        self.map
            .atomic_u32(layout::OFF_SUBBUF_MAP + 4 * slot as usize)
            .store((slot ^ spare) as u32, Ordering::Relaxed);
        let taken = std::mem::replace(&mut sp.shows[slot as usize], spare);
        // From here the packet's sub-buffer is the `Held`'s, which returns it as a
        // spare when dropped (at once for a corrupt packet).
        let mut held = Held {
            map: self.map.clone(),
            free: sp.free.clone(),
            sub: taken,
            head: PageBuf::new(HEAD_SIZE),
            rest: 0..0,
        };
        self.consumed = self.consumed.saturating_add(self.s);
        let offset = layout::CONTROL_SIZE + (taken * self.s) as usize;
        let checked = self.check_in_place(k, offset, held.head.as_mut_slice());
        self.publish_consumed();
        match checked {
            Ok(rest) => {
                held.rest = rest;
                Exchanged::Packet(held)
            }
            Err(e) => Exchanged::Corrupt(e),
        }
    }

    /// Whether this ring is in discard mode (the only mode [`Self::take_in_place`]
    /// serves).
    pub fn is_discard_mode(&self) -> bool {
        self.mode == Mode::Discard
    }

    /// Copies the next complete packet to the front of `buf` (at least
    /// [`Self::packet_size`] bytes) and checks it.
    pub fn take(&mut self, buf: &mut [u8]) -> Taken {
        assert!(
            buf.len() >= self.s as usize,
            "packet buffer smaller than a sub-buffer"
        );
        let buf = &mut buf[..self.s as usize];
        let s = self.s;
        let Some((k, offset)) = self.next_complete() else {
            return Taken::Empty;
        };
        self.map.read_bytes(offset, buf);
        if self.mode == Mode::Overwrite {
            // Seqlock-style validation: if a writer entered the next lap of this
            // sub-buffer, our copy may be torn.
            fence(Ordering::Acquire);
            let wp_after = self
                .map
                .atomic(layout::OFF_WRITE_POS)
                .load(Ordering::Acquire);
            if wp_after > self.consumed.saturating_add(self.n * s) {
                return self.skip(PacketError::Overwritten { seq: k });
            }
        }
        let verdict = self.check(k, buf);
        match verdict {
            Ok((content, size)) => {
                buf[content..size].fill(0);
                self.consumed = self.consumed.saturating_add(s);
                self.publish_consumed();
                Taken::Packet(size)
            }
            Err(e) => self.skip(e),
        }
    }

    fn skip(&mut self, e: PacketError) -> Taken {
        self.consumed = self.consumed.saturating_add(self.s);
        self.lost_packets = self.lost_packets.saturating_add(1);
        self.publish_consumed();
        Taken::Corrupt(e)
    }

    fn publish_consumed(&self) {
        if !self.publish || self.deferred {
            return;
        }
        self.store_consumed();
    }

    /// From now on, packets taken are freed for the writers only by [`Self::release`]:
    /// a consumer killed between taking packets and writing them loses nothing, its
    /// successor reads them again.
    pub fn defer_release(&mut self) {
        self.deferred = true;
    }

    /// Frees every packet taken so far for the writers.
    pub fn release(&self) {
        if self.publish {
            self.store_consumed();
        }
    }

    /// Moves the read position forward to packet `seq` (never backward, never past
    /// the write position): packets before it were already written out, by a consumer
    /// that died before releasing them.
    pub fn skip_to_packet(&mut self, seq: u64) {
        let wp = self
            .map
            .atomic(layout::OFF_WRITE_POS)
            .load(Ordering::Acquire);
        let target = seq.saturating_mul(self.s).min(wp / self.s * self.s);
        if target > self.consumed {
            self.consumed = target;
            self.publish_consumed();
        }
    }

    fn store_consumed(&self) {
        self.map
            .atomic(layout::OFF_CONSUMED)
            .store(self.consumed, Ordering::Release);
    }

    /// Checks a private copy of packet `seq`; returns its content and packet sizes in
    /// bytes.
    fn check(&mut self, seq: u64, p: &[u8]) -> Result<(usize, usize), PacketError> {
        let u32_at = |o: usize| u32::from_le_bytes([p[o], p[o + 1], p[o + 2], p[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&p[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let magic = u32_at(packet::MAGIC);
        if magic != layout::CTF_MAGIC {
            return Err(PacketError::Magic { seq, found: magic });
        }
        if p[packet::UUID..packet::UUID + 16] != self.id.uuid
            || u32_at(packet::STREAM_ID) != self.id.stream_id
            || u64_at(packet::STREAM_INSTANCE_ID) != self.id.stream_instance_id
            || u32_at(packet::CPU_ID) != self.id.cpu_id
        {
            return Err(PacketError::Identity { seq });
        }
        let found = u64_at(packet::PACKET_SEQ_NUM);
        if found != seq {
            return Err(PacketError::Sequence { seq, found });
        }
        let content = u64_at(packet::CONTENT_SIZE);
        if !content.is_multiple_of(8)
            || content < (packet::HEADER_SIZE as u64) * 8
            || content > self.s * 8
        {
            return Err(PacketError::ContentSize {
                seq,
                found: content,
            });
        }
        let expected = layout::padded_packet_size(content / 8, self.s) * 8;
        let size = u64_at(packet::PACKET_SIZE);
        if size != expected {
            return Err(PacketError::PacketSize {
                seq,
                found: size,
                expected,
            });
        }
        let (begin, end) = (
            u64_at(packet::TIMESTAMP_BEGIN),
            u64_at(packet::TIMESTAMP_END),
        );
        if begin > end || begin < self.last_ts_end {
            return Err(PacketError::Time { seq });
        }
        let discarded = u64_at(packet::EVENTS_DISCARDED);
        if discarded < self.last_discarded {
            return Err(PacketError::Discarded { seq });
        }
        self.last_ts_end = end;
        self.last_discarded = discarded;
        Ok(((content / 8) as usize, (size / 8) as usize))
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::sync::atomic::Ordering;

    use super::{
        layout, BufferConfig, Exchanged, Held, InPlace, Mode, PacketError, RingReader,
        StreamIdentity, Taken, TakenInPlace, HEAD_SIZE,
    };
    use crate::ring::shm::Mapping;
    use crate::ring::writer::RingWriter;

    const ID: StreamIdentity = StreamIdentity {
        uuid: [9; 16],
        stream_id: 0,
        stream_instance_id: 1,
        cpu_id: 1,
    };
    const CFG: BufferConfig = BufferConfig {
        subbuf_size: 4096,
        num_subbuf: 4,
        mode: Mode::Discard,
    };

    fn clock() -> u64 {
        static T: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        T.fetch_add(1, Ordering::Relaxed)
    }

    /// Records events until `packets` packets are complete.
    fn fill(w: &RingWriter, packets: u64) {
        fill_at(w, packets, clock);
    }

    fn fill_at(w: &RingWriter, packets: u64, mut now: impl FnMut() -> u64) {
        for i in 0..(packets * 4096 / 1000) + 1 {
            assert!(w.record(1, 994, &mut now, |b| b.put(&[i as u8; 994])));
        }
    }

    fn seq_of(buf: &[u8]) -> u64 {
        u64::from_le_bytes(
            buf[layout::packet::PACKET_SEQ_NUM..][..8]
                .try_into()
                .unwrap(),
        )
    }

    #[test]
    fn a_resumed_reader_starts_at_the_shared_consumed_position() {
        let (w, fd) = RingWriter::create(c"resume", CFG, ID, None).unwrap();
        fill(&w, 3);
        let mut buf = vec![0u8; 4096];
        let mut first = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
        assert!(matches!(first.take(&mut buf), Taken::Packet(_)));
        assert_eq!(seq_of(&buf), 0);
        drop(first);

        // A successor continues with packet 1, not 0.
        let mut next = RingReader::resume(fd.as_fd(), CFG, ID).unwrap();
        assert!(matches!(next.take(&mut buf), Taken::Packet(_)));
        assert_eq!(seq_of(&buf), 1);
        assert_eq!(next.lost_packets(), 0);

        // An observer reads without moving the shared position.
        let mut peek = RingReader::observer(fd.as_fd(), CFG, ID).unwrap();
        assert!(matches!(peek.take(&mut buf), Taken::Packet(_)));
        assert_eq!(seq_of(&buf), 2);
        let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
        assert_eq!(
            map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
            2 * 4096
        );
    }

    #[test]
    fn a_garbage_consumed_position_is_rounded_down_and_kept_behind_the_writer() {
        let (w, fd) = RingWriter::create(c"garbage", CFG, ID, None).unwrap();
        fill(&w, 2);
        let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
        let wp = map.atomic(layout::OFF_WRITE_POS).load(Ordering::Relaxed);
        let mut buf = vec![0u8; 4096];

        // Past the write position: clamped to the open packet, which is not complete.
        map.atomic(layout::OFF_CONSUMED)
            .store(u64::MAX, Ordering::Relaxed);
        let mut r = RingReader::resume(fd.as_fd(), CFG, ID).unwrap();
        assert_eq!(r.take(&mut buf), Taken::Empty);
        assert_eq!(r.unread_closed_packets(), 0);
        assert_eq!(wp / 4096, 2, "two packets closed, the third open");

        // In the middle of packet 1: rounded down to its start.
        map.atomic(layout::OFF_CONSUMED)
            .store(4096 + 123, Ordering::Relaxed);
        let mut r = RingReader::resume(fd.as_fd(), CFG, ID).unwrap();
        assert_eq!(r.unread_closed_packets(), 1);
        assert!(matches!(r.take(&mut buf), Taken::Packet(_)));
        assert_eq!(seq_of(&buf), 1);
    }

    #[test]
    fn exchanged_packets_are_written_whole_and_the_ring_runs_on_while_they_are_held() {
        // Two rings filled alike: a plain one read by copies (the reference), and one
        // with 3 spare sub-buffers read by exchange. Every data sub-buffer of the second,
        // spares included, holds garbage first.
        let (plain, plain_fd) = RingWriter::create(c"plain", CFG, ID, None).unwrap();
        let (w, fd) = RingWriter::create_with_spares(c"spares", CFG, ID, None, 3).unwrap();
        let file_len = CFG.file_size(3) as usize;
        let map = Mapping::map(fd.as_fd(), file_len).unwrap();
        map.write_bytes(layout::CONTROL_SIZE, &[0xAA; 7 * 4096]);
        let mut copies = RingReader::open(plain_fd.as_fd(), CFG, ID).unwrap();
        let mut expected = Vec::new();
        let mut fill_both = |packets| {
            fill_at(&plain, packets, || 7);
            fill_at(&w, packets, || 7);
            let mut buf = vec![0u8; 4096];
            while let Taken::Packet(len) = copies.take(&mut buf) {
                expected.extend_from_slice(&buf[..len]);
            }
        };
        let mut r = RingReader::open_with_spares(fd.as_fd(), CFG, ID, 3).unwrap();
        let take = |r: &mut RingReader| match r.take_exchanging() {
            Exchanged::Packet(p) => Some(p),
            Exchanged::Empty => None,
            other => panic!("unexpected {other:?}"),
        };

        fill_both(3);
        let held: Vec<Held> = std::iter::from_fn(|| take(&mut r)).collect();
        assert_eq!(held.len(), 3);
        assert_eq!(
            map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
            3 * 4096,
            "the slots are the writers' again while their packets are held"
        );
        // The writers fill the ring again while every spare is held...
        fill_both(3);
        assert!(matches!(r.take_exchanging(), Exchanged::NoSpare));
        let file = out_file();
        Held::write_all(file.as_fd(), &held.iter().collect::<Vec<_>>()).unwrap();
        // ...and the spares, once written and dropped, take the next packets.
        drop(held);
        let held: Vec<Held> = std::iter::from_fn(|| take(&mut r)).collect();
        assert_eq!(held.len(), 3);
        Held::write_all(file.as_fd(), &held.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!((w.discarded(), plain.discarded()), (0, 0));
        assert_eq!(expected.len(), 6 * 4096);
        let out = written(&file);
        assert_eq!(out, expected);
        assert!(
            !out.contains(&0xAA),
            "garbage after content_size was zeroed"
        );
    }

    /// Takes the next packet by exchange, which must be there.
    fn exchange(r: &mut RingReader) -> Held {
        match r.take_exchanging() {
            Exchanged::Packet(p) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    #[test]
    fn a_resumed_reader_finds_the_packets_its_predecessor_held_and_writes_them_first() {
        let (w, fd) = RingWriter::create_with_spares(c"held", CFG, ID, None, 3).unwrap();
        fill(&w, 3);
        // The predecessor wrote packet 0, held 1 and 2 on their way to disk, and died
        // (its `Held` values gone with it: the shared map still shows their spares).
        let mut first = RingReader::open_with_spares(fd.as_fd(), CFG, ID, 3).unwrap();
        let held: Vec<Held> = (0..3).map(|_| exchange(&mut first)).collect();
        assert_eq!(held.iter().map(Held::seq).collect::<Vec<_>>(), [0, 1, 2]);
        std::mem::forget((first, held));

        let mut r = RingReader::resume_with_spares(fd.as_fd(), CFG, ID, 3).unwrap();
        assert!(r.can_exchange());
        r.skip_to_packet(1);
        let found = r.recover_held(1);
        assert_eq!(found.iter().map(Held::seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(r.lost_packets(), 0);
        // Then the ring goes on at packet 3, exchanging with the one spare left free
        // (sub-buffer 0, whose packet was written).
        assert!(matches!(r.take_exchanging(), Exchanged::Empty));
        fill(&w, 1);
        let third = exchange(&mut r);
        assert_eq!(third.seq(), 3);
        fill(&w, 1);
        assert!(matches!(r.take_exchanging(), Exchanged::NoSpare));
        // Written and dropped, the recovered packets' sub-buffers are spares again.
        drop(found);
        assert_eq!(exchange(&mut r).seq(), 4);
    }

    #[test]
    fn a_packet_exchanged_but_not_yet_marked_taken_is_found_once() {
        let (w, fd) = RingWriter::create_with_spares(c"half", CFG, ID, None, 2).unwrap();
        fill(&w, 2);
        let map = Mapping::map(fd.as_fd(), CFG.file_size(2) as usize).unwrap();
        let mut first = RingReader::open_with_spares(fd.as_fd(), CFG, ID, 2).unwrap();
        std::mem::forget((exchange(&mut first), first));
        // As if it died between pointing the slot at a spare and publishing the read
        // position.
        map.atomic(layout::OFF_CONSUMED).store(0, Ordering::Relaxed);

        let mut r = RingReader::resume_with_spares(fd.as_fd(), CFG, ID, 2).unwrap();
        let found: Vec<u64> = r.recover_held(0).iter().map(Held::seq).collect();
        assert_eq!(found, [0]);
        assert_eq!(exchange(&mut r).seq(), 1);
        assert_eq!(r.lost_packets(), 0);
        assert_eq!(
            map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
            2 * 4096
        );
    }

    #[test]
    fn a_slot_table_showing_one_sub_buffer_twice_turns_exchanges_off() {
        let (w, fd) = RingWriter::create_with_spares(c"twice", CFG, ID, None, 2).unwrap();
        let map = Mapping::map(fd.as_fd(), CFG.file_size(2) as usize).unwrap();
        // Slots 1 and 2 both show sub-buffer 3 (a spare).
        map.atomic_u32(layout::OFF_SUBBUF_MAP + 4)
            .store(1 ^ 3, Ordering::Relaxed);
        map.atomic_u32(layout::OFF_SUBBUF_MAP + 8)
            .store(2 ^ 3, Ordering::Relaxed);
        fill(&w, 1);
        let mut r = RingReader::resume_with_spares(fd.as_fd(), CFG, ID, 2).unwrap();
        assert!(!r.can_exchange());
        assert!(matches!(r.take_exchanging(), Exchanged::NoSpare));
        assert!(r.recover_held(0).is_empty());
        // It still reads where the writers write.
        let mut head = [0u8; HEAD_SIZE];
        assert!(matches!(
            r.take_in_place(&mut head),
            TakenInPlace::Packet(_)
        ));
        assert_eq!(seq_of(&head), 0);
    }

    #[test]
    fn a_bad_subbuf_map_keeps_events_inside_the_memfd() {
        let (w, fd) = RingWriter::create(c"bad-map", CFG, ID, None).unwrap();
        let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
        let entry = |slot: usize| map.atomic_u32(layout::OFF_SUBBUF_MAP + 4 * slot);
        // Entries naming no sub-buffer of the memfd are taken as zero...
        for slot in 0..4 {
            entry(slot).store(u32::MAX - slot as u32, Ordering::Relaxed);
        }
        fill(&w, 2);
        let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
        let mut buf = vec![0u8; 4096];
        for seq in 0..2 {
            assert!(matches!(r.take(&mut buf), Taken::Packet(_)));
            assert_eq!(seq_of(&buf), seq);
        }
        // ...and one naming another sub-buffer of the ring misplaces the writers'
        // packets, which the reader, trusting its own record, refuses.
        entry(3).store(3, Ordering::Relaxed); // slot 3 shows sub-buffer 3 ^ 3 = 0
        fill(&w, 2);
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            outcomes.push(r.take(&mut buf));
        }
        assert!(matches!(outcomes[0], Taken::Packet(_)));
        assert!(matches!(outcomes[1], Taken::Corrupt(_)), "{outcomes:?}");
    }

    /// A ring whose data area held garbage before three packets were written.
    fn three_packets_over_garbage(
        name: &std::ffi::CStr,
    ) -> (RingWriter, std::os::fd::OwnedFd, Mapping) {
        let (w, fd) = RingWriter::create(name, CFG, ID, None).unwrap();
        let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
        map.write_bytes(layout::CONTROL_SIZE, &[0xAA; 4 * 4096]);
        fill(&w, 3);
        (w, fd, map)
    }

    fn written(f: &std::fs::File) -> Vec<u8> {
        use std::io::{Read, Seek};
        let mut f = f;
        f.rewind().unwrap();
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        out
    }

    /// Takes every complete packet in place, each head in its own page of `heads`.
    fn take_all(r: &mut RingReader, heads: &mut [[u8; HEAD_SIZE]]) -> Vec<InPlace> {
        let mut taken = Vec::new();
        for head in heads.iter_mut() {
            match r.take_in_place(head) {
                TakenInPlace::Packet(p) => taken.push(p),
                TakenInPlace::Corrupt(e) => panic!("unexpected {e}"),
                TakenInPlace::Empty => break,
            }
        }
        taken
    }

    fn out_file() -> std::fs::File {
        memfd::MemfdOptions::default()
            .create("out")
            .unwrap()
            .into_file()
    }

    #[test]
    fn packets_written_in_place_match_their_copies_and_stay_taken_until_released() {
        let (_w, fd, map) = three_packets_over_garbage(c"in-place");
        let consumed = || map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed);

        // The same packets as the copying reader returns them (padding zeroed).
        let mut peek = RingReader::observer(fd.as_fd(), CFG, ID).unwrap();
        let mut expected = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Taken::Packet(len) = peek.take(&mut buf) {
            expected.extend_from_slice(&buf[..len]);
        }
        assert_eq!(expected.len(), 3 * 4096);

        let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
        let mut heads = [[0u8; HEAD_SIZE]; 4];
        let taken = take_all(&mut r, &mut heads);
        assert_eq!(
            taken.iter().map(InPlace::len).collect::<Vec<_>>(),
            [4096; 3]
        );
        assert_eq!(
            consumed(),
            0,
            "taken in place, not yet freed for the writers"
        );

        let file = out_file();
        let packets: Vec<(&[u8], &InPlace)> = heads.iter().map(|h| &h[..]).zip(&taken).collect();
        r.write_in_place(file.as_fd(), &packets).unwrap();
        assert_eq!(consumed(), 0);
        r.release();
        assert_eq!(consumed(), 3 * 4096);
        let out = written(&file);
        assert_eq!(out, expected);
        assert!(
            !out.contains(&0xAA),
            "the garbage after content_size was zeroed before writing"
        );
    }

    #[test]
    fn a_header_rewritten_after_its_check_is_written_as_checked() {
        let cfg = BufferConfig {
            subbuf_size: 4 * 4096,
            ..CFG
        };
        let (w, fd) = RingWriter::create(c"in-place-toctou", cfg, ID, None).unwrap();
        // Packets of 4 pages: the rest after the head comes from the ring.
        for i in 0..20u8 {
            w.record(1, 994, clock, |b| b.put(&[i; 994]));
        }
        let map = Mapping::map(fd.as_fd(), cfg.shm_size()).unwrap();
        let mut r = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
        let mut head = [0u8; HEAD_SIZE];
        let TakenInPlace::Packet(p) = r.take_in_place(&mut head) else {
            panic!("one packet is complete");
        };
        assert_eq!(p.len(), 4 * 4096);
        let checked = head;
        // A hostile writer rewrites the header and the payload after the check.
        map.write_bytes(layout::CONTROL_SIZE, &[0xEE; 64]);
        map.write_bytes(layout::CONTROL_SIZE + 2 * 4096, &[0xEE; 64]);

        let file = out_file();
        r.write_in_place(file.as_fd(), &[(&head[..], &p)]).unwrap();
        let out = written(&file);
        assert_eq!(out.len(), 4 * 4096);
        assert_eq!(out[..HEAD_SIZE], checked[..], "the checked header");
        assert_eq!(seq_of(&out), 0);
        assert_eq!(out[2 * 4096..2 * 4096 + 64], [0xEE; 64], "payload as it is");
    }

    #[test]
    fn a_corrupted_packet_taken_in_place_is_skipped_and_not_written() {
        let (_w, fd, map) = three_packets_over_garbage(c"in-place-bad");
        map.write_bytes(layout::CONTROL_SIZE + 4096, &[0xEE; 4]);

        let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
        let (mut h0, mut h1, mut h2) = ([0u8; HEAD_SIZE], [0u8; HEAD_SIZE], [0u8; HEAD_SIZE]);
        let TakenInPlace::Packet(first) = r.take_in_place(&mut h0) else {
            panic!("packet 0 is intact");
        };
        assert_eq!(
            r.take_in_place(&mut h1),
            TakenInPlace::Corrupt(PacketError::Magic {
                seq: 1,
                found: 0xEEEE_EEEE
            })
        );
        let TakenInPlace::Packet(third) = r.take_in_place(&mut h2) else {
            panic!("packet 2 is intact");
        };
        assert_eq!(r.take_in_place(&mut h1), TakenInPlace::Empty);
        assert_eq!(r.lost_packets(), 1);

        let file = out_file();
        r.write_in_place(file.as_fd(), &[(&h0[..], &first), (&h2[..], &third)])
            .unwrap();
        r.release();
        let out = written(&file);
        assert_eq!(out.len(), 2 * 4096);
        assert_eq!((seq_of(&out), seq_of(&out[4096..])), (0, 2));
        assert_eq!(
            map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
            3 * 4096
        );
    }
}
