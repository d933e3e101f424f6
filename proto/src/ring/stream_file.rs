//! Stream files as the consumers write them: the packets of [`super::layout`], one
//! after another, each a whole number of pages ([`layout::PACKET_ALIGN`]). A file that
//! does not end on a whole packet was cut by a failed write or a consumer that died;
//! [`whole_packets`] finds where its whole packets end, so that a consumer taking the
//! file over cuts the rest and goes on after the last one.
//!
//! The file belongs to the user whose trace it is, and may have been damaged in any
//! way: every header is bounds-checked, nothing read is followed beyond the file.
//!
//! Consumers append packets with [`write_all_vectored`].

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
