//! Spare sub-buffers: a reader that takes a complete packet by exchanging its
//! sub-buffer for a spare one instead of copying it ([`RingReader::take_exchanging`]),
//! and the packets it holds on their way to disk ([`Held`]). The memfd holds `N + K`
//! sub-buffers, the writers' ring shows `N` of them (see `layout`), and the reader
//! keeps its own record of which one each slot shows: the shared map is read once,
//! when a reader takes over a buffer ([`RingReader::resume_with_spares`]), and only
//! used if it is sound.

use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::{
    layout, packet, BufferConfig, Mapping, Mode, PacketError, PageBuf, RingReader, ShmError,
    StreamIdentity, HEAD_SIZE,
};
use crate::ring::shm::Chunk;
use crate::ring::writer::shared_subbuf;

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

/// Spare sub-buffers: the memfd holds `N + K` sub-buffers, the writers' ring shows `N`
/// of them, and the reader exchanges a full one for a free one instead of copying it.
#[derive(Debug)]
pub(super) struct Spares {
    /// `shows[slot]`: the data sub-buffer that ring slot `slot` shows now.
    pub(super) shows: Vec<u64>,
    /// Memfd sub-buffers in no slot and not held by a [`Held`] packet.
    pub(super) free: Arc<Mutex<Vec<u64>>>,
    /// False when the shared slot table found on resuming was not one sub-buffer per
    /// slot: this reader then reads where the writers write and never exchanges.
    pub(super) exchanging: bool,
}

/// The memfd size of `cfg` with `spares`, checked.
fn mapped_len(cfg: BufferConfig, spares: u64) -> Result<usize, ShmError> {
    cfg.mapped_len(spares)
        .map_err(|e| ShmError::Map(std::io::Error::other(e)))
}

impl RingReader {
    /// Opens a buffer of [`super::writer::RingWriter::create_with_spares`], ring and
    /// `spares` more sub-buffers, for [`Self::take_exchanging`]. A fresh reader of a
    /// fresh buffer: it starts at packet 0, with every slot showing its own sub-buffer.
    pub fn open_with_spares(
        fd: BorrowedFd<'_>,
        cfg: BufferConfig,
        id: StreamIdentity,
        spares: u64,
    ) -> Result<RingReader, ShmError> {
        let map = Mapping::map(fd, mapped_len(cfg, spares)?)?;
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
        let map = Mapping::map(fd, mapped_len(cfg, spares)?)?;
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
}
