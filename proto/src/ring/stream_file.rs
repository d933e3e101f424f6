//! Stream files as the consumers write them: the packets of [`super::layout`], one
//! after another, each a whole number of pages ([`layout::PACKET_ALIGN`]). A file that
//! does not end on a whole packet was cut by a failed write or a consumer that died;
//! [`whole_packets`] finds where its whole packets end, so that a consumer taking the
//! file over cuts the rest and goes on after the last one.
//!
//! The file belongs to the user whose trace it is, and may have been damaged in any
//! way: every header is bounds-checked, nothing read is followed beyond the file.
//!
//! Consumers append packets with [`write_all_vectored`], grouped into writes by
//! [`each_write`].

use std::fs::File;
use std::io::{IoSlice, Write};
use std::os::unix::fs::FileExt;

use super::layout::{self, packet};

/// Writes all of `packets` to `f` in vectored writes, however the kernel splits them
/// (a direct-I/O write may stop at any request boundary).
pub fn write_all_vectored(f: &mut File, packets: &[IoSlice<'_>]) -> std::io::Result<()> {
    let mut owned = packets.to_vec();
    let mut bufs = &mut owned[..];
    while !bufs.is_empty() {
        match f.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Most bytes in one write of a consumer's writer thread. Large direct writes cost
/// the kernel less per byte (on this project's VMs a 512 KiB one costs about three
/// times the CPU per byte of a 4 MiB one), but the packets of a write go back to the
/// ring (as spares, or queue buffers) only when it returns: at 4 MiB a write takes
/// 2-3 ms on a 1.6 GB/s disk, well inside the writers' 100 ms wait for room.
pub const WRITE_BYTES: usize = 4 << 20;

/// Splits `queue` (the packets of several streams, each stream's in their order) into
/// writes, and empties it: each stream's packets in order, consecutive ones grouped
/// while they stay under `max_bytes` (a packet larger alone is a write of its own) and
/// `together` says they may share a write. `write` gets each stream's key and the
/// packets of one write.
pub fn each_write<K: Ord + Copy, P>(
    queue: &mut Vec<(K, P)>,
    max_bytes: usize,
    len: impl Fn(&P) -> usize,
    together: impl Fn(&P, &P) -> bool,
    mut write: impl FnMut(K, Vec<P>),
) {
    // A stable sort: each stream's packets stay in their order.
    queue.sort_by_key(|&(key, _)| key);
    let mut packets = queue.drain(..).peekable();
    while let Some((key, first)) = packets.next() {
        let mut bytes = len(&first);
        let mut group = vec![first];
        while let Some((_, p)) = packets
            .next_if(|(k, p)| *k == key && together(&group[0], p) && bytes + len(p) <= max_bytes)
        {
            bytes += len(&p);
            group.push(p);
        }
        write(key, group);
    }
}

/// The last whole packet of a stream file, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastPacket {
    pub seq: u64,
    pub events_discarded: u64,
    pub timestamp_end: u64,
}

/// Where the whole packets of a stream file end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WholePackets {
    /// Bytes of whole packets from the start of the file.
    pub len: u64,
    pub last: Option<LastPacket>,
}

/// Walks the packet headers of the first `len` bytes of `file`, for as long as each
/// has the CTF magic (and, when given, the trace `uuid`), a size of whole pages, and
/// fits in those bytes.
pub fn whole_packets(file: &File, len: u64, uuid: Option<&[u8; 16]>) -> WholePackets {
    let mut w = WholePackets::default();
    let mut h = [0u8; packet::HEADER_SIZE];
    let u64_at = |h: &[u8; packet::HEADER_SIZE], at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[at..at + 8]);
        u64::from_le_bytes(b)
    };
    while w.len < len {
        if file.read_exact_at(&mut h, w.len).is_err() {
            break;
        }
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let size = u64_at(&h, packet::PACKET_SIZE) / 8;
        if magic != layout::CTF_MAGIC
            || uuid.is_some_and(|u| h[packet::UUID..packet::UUID + 16] != u[..])
            || size == 0
            || !size.is_multiple_of(layout::PACKET_ALIGN)
            || size > len - w.len
        {
            break;
        }
        w.last = Some(LastPacket {
            seq: u64_at(&h, packet::PACKET_SEQ_NUM),
            events_discarded: u64_at(&h, packet::EVENTS_DISCARDED),
            timestamp_end: u64_at(&h, packet::TIMESTAMP_END),
        });
        w.len += size;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_keep_each_streams_order_and_stay_under_the_limit() {
        // (stream, (size, kind)); kinds 0 and 1 never share a write.
        let mut q = vec![
            (2, (3, 0)),
            (1, (4, 0)),
            (2, (3, 0)),
            (1, (9, 0)),
            (2, (3, 1)),
            (1, (2, 0)),
        ];
        let mut writes = Vec::new();
        each_write(
            &mut q,
            8,
            |p| p.0,
            |a, b| a.1 == b.1,
            |k, g| writes.push((k, g)),
        );
        assert!(q.is_empty());
        assert_eq!(
            writes,
            [
                (1, vec![(4, 0)]),
                (1, vec![(9, 0)]),
                (1, vec![(2, 0)]),
                (2, vec![(3, 0), (3, 0)]),
                (2, vec![(3, 1)]),
            ]
        );
    }
}
