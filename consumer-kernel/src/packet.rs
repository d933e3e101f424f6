//! CTF packets of a kernel stream, in the layout the metadata declares: the same
//! packet header and context as the userspace streams (`proto::ring::layout`), and
//! LTTng's large event header, whose 16-bit id fits every syscall's event class.

use proto::ring::layout::{self, event_header::large, packet, PACKET_ALIGN};

/// Packets are cut at about this many bytes of events.
pub const TARGET_PACKET: usize = 64 * 1024;

/// A packet being filled.
#[derive(Debug)]
pub struct PacketBuilder {
    buf: Vec<u8>,
    begin: u64,
    last: u64,
    events: u64,
}

/// What a packet header says besides its events.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub uuid: [u8; 16],
    pub cpu: u32,
}

impl PacketBuilder {
    /// An empty packet starting at time `begin`.
    pub fn new(begin: u64) -> PacketBuilder {
        let mut buf = Vec::with_capacity(TARGET_PACKET + 4096);
        buf.resize(packet::HEADER_SIZE, 0);
        PacketBuilder {
            buf,
            begin,
            last: begin,
            events: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Appends an event of class `id` at `ts` (raised to the previous event's time if
    /// it is earlier) with its encoded payload.
    pub fn event(&mut self, id: u32, ts: u64, payload: &[u8]) {
        let ts = ts.max(self.last);
        if id < u32::from(large::EXTENDED_ID) && ts - self.last < 1 << large::COMPACT_TS_BITS {
            self.buf.extend_from_slice(&(id as u16).to_le_bytes());
            self.buf.extend_from_slice(&(ts as u32).to_le_bytes());
        } else {
            self.buf
                .extend_from_slice(&large::EXTENDED_ID.to_le_bytes());
            self.buf.extend_from_slice(&id.to_le_bytes());
            self.buf.extend_from_slice(&ts.to_le_bytes());
        }
        self.buf.extend_from_slice(payload);
        self.last = ts;
        self.events += 1;
    }

    /// Closes the packet at time `end` (at least its last event): fills the header and
    /// pads it to whole pages. Returns its bytes.
    pub fn finish(mut self, end: u64, seq: u64, discarded: u64, id: Identity) -> Vec<u8> {
        let content = self.buf.len() as u64;
        let size = content.next_multiple_of(PACKET_ALIGN);
        let end = end.max(self.last);
        let b = &mut self.buf;
        let put = |b: &mut Vec<u8>, off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(b, packet::MAGIC, &layout::CTF_MAGIC.to_le_bytes());
        put(b, packet::UUID, &id.uuid);
        put(b, packet::STREAM_ID, &0u32.to_le_bytes());
        put(
            b,
            packet::STREAM_INSTANCE_ID,
            &u64::from(id.cpu).to_le_bytes(),
        );
        put(b, packet::TIMESTAMP_BEGIN, &self.begin.to_le_bytes());
        put(b, packet::TIMESTAMP_END, &end.to_le_bytes());
        put(b, packet::CONTENT_SIZE, &(content * 8).to_le_bytes());
        put(b, packet::PACKET_SIZE, &(size * 8).to_le_bytes());
        put(b, packet::PACKET_SEQ_NUM, &seq.to_le_bytes());
        put(b, packet::EVENTS_DISCARDED, &discarded.to_le_bytes());
        put(b, packet::CPU_ID, &id.cpu.to_le_bytes());
        b.resize(size as usize, 0);
        self.buf
    }
}
