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
use super::writer::{data_offset, Slots};

mod exchange;
#[cfg(test)]
mod tests;

use exchange::Spares;
pub use exchange::{Exchanged, Held};

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
