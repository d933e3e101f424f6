//! Layout of a ring buffer in shared memory, version [`LAYOUT_VERSION`].
//!
//! ```text
//! offset 0     control page (CONTROL_SIZE bytes)
//!   0          u64  MAGIC
//!   8          u32  LAYOUT_VERSION
//!   12         u32  cpu
//!   16         u64  subbuf_size  (S, power of two)
//!   24         u64  num_subbuf   (N, power of two)
//!   64         u64  write_pos    (atomic; bytes reserved since the start, never wraps)
//!   72         u64  last_ts      (timestamp of the latest reservation; with write_pos
//!                                 the 16-byte "reservation word", see below)
//!   128        u64  consumed     (atomic; byte position of the first unread packet)
//!   192        u64  discarded    (atomic; events dropped since the start)
//!   256        u64  waiter       (atomic; the writer waiting for room that gets the next
//!                                 free sub-buffer first: `ms << 24 | tid`, or 0)
//!   264        u64  waiters      (atomic; how many writers are waiting for room)
//!   512 + 8*i  u64  commit[i]    (atomic; bytes committed into ring slot i, all laps)
//!   2560 + 4*i u32  subbuf_map[i] (atomic; ring slot i shows data sub-buffer
//!                                  i ^ subbuf_map[i]: zero, the initial value, is the
//!                                  sub-buffer of the same number)
//! CONTROL_SIZE data: N + K sub-buffers of S bytes; packet k lives in ring slot k % N
//! ```
//!
//! The writers see a ring of `N` slots. Each slot shows one data sub-buffer, named by
//! `subbuf_map`; the `K` others are spares (at most [`MAX_SPARES`]; the session daemon gives them to
//! drained discard-mode streams, standalone mode to its in-process consumer). A consumer that owns a complete
//! packet can exchange its sub-buffer for a spare one instead of copying it out: it
//! points the slot at the spare, releases the slot, and writes the packet from the
//! sub-buffer it keeps, which no slot shows any more. A writer reads the map entry of
//! its slot after reserving (the release of the slot orders the entry before the
//! writers' use of it) and takes an entry that names no sub-buffer of the memfd as
//! zero, so a bad map can only misplace events inside the memfd, never outside it.
//!
//! Positions are byte offsets in an unbounded stream: packet `k` covers
//! `[k*S, (k+1)*S)`, its sequence number is `k`, and it is complete when
//! `commit[k % N] >= (k / N + 1) * S` (every byte of it is accounted for: the packet
//! header, the events, and the padding written when it was closed).
//!
//! The reservation word (`write_pos`, `last_ts`) is updated by one 16-byte
//! compare-and-swap (`cmpxchg16b`) on x86-64 builds with that feature (the workspace
//! enables it): a writer clamps its timestamp to at least `last_ts`, so timestamps never
//! decrease in reservation order without an ordering fence before reading the clock.
//! Builds without it update `write_pos` alone and store `last_ts` after, and must read
//! the clock with a fence ([`super::writer::NEEDS_ORDERED_CLOCK`]).
//!
//! Each packet starts with the CTF packet header and context below (little-endian,
//! byte-aligned), exactly as the generated metadata declares them. Events follow, each
//! an [`event_header::compact`] header and its payload (version 2 used the large header).

/// `"LTTRS-RB"` as a little-endian u64: identifies a ring-buffer control page.
pub const MAGIC: u64 = u64::from_le_bytes(*b"LTTRS-RB");
/// Bumped on every incompatible change of this module.
pub const LAYOUT_VERSION: u32 = 4;
/// Size of the control page; the data area starts here.
pub const CONTROL_SIZE: usize = 4096;

pub const OFF_MAGIC: usize = 0;
pub const OFF_VERSION: usize = 8;
pub const OFF_CPU: usize = 12;
pub const OFF_SUBBUF_SIZE: usize = 16;
pub const OFF_NUM_SUBBUF: usize = 24;
pub const OFF_WRITE_POS: usize = 64;
pub const OFF_CONSUMED: usize = 128;
pub const OFF_DISCARDED: usize = 192;
pub const OFF_WAITER: usize = 256;
pub const OFF_WAITERS: usize = 264;
pub const OFF_LAST_TS: usize = 72;
pub const OFF_COMMIT: usize = 512;
pub const OFF_SUBBUF_MAP: usize = 2560;

/// Most sub-buffers per ring (a power of two; its commit counters and map entries
/// must fit in the control page).
pub const MAX_SUBBUFS: u64 = 256;
const _: () = assert!(OFF_COMMIT + 8 * MAX_SUBBUFS as usize <= OFF_SUBBUF_MAP);
const _: () = assert!(OFF_SUBBUF_MAP + 4 * MAX_SUBBUFS as usize <= CONTROL_SIZE);
/// Most spare sub-buffers after a ring (map entries are 32-bit, and a consumer holds
/// at most this many packets on their way to disk).
pub const MAX_SPARES: u64 = 4096;
/// Smallest sub-buffer: one page.
pub const MIN_SUBBUF_SIZE: u64 = 4096;
/// Largest sub-buffer: 64 MiB.
pub const MAX_SUBBUF_SIZE: u64 = 64 << 20;

/// CTF magic number at the start of every packet.
pub const CTF_MAGIC: u32 = 0xC1FC_1FC1;

/// Byte offsets of the CTF packet header and context fields inside a packet.
pub mod packet {
    pub const MAGIC: usize = 0;
    pub const UUID: usize = 4;
    pub const STREAM_ID: usize = 20;
    pub const STREAM_INSTANCE_ID: usize = 24;
    pub const TIMESTAMP_BEGIN: usize = 32;
    pub const TIMESTAMP_END: usize = 40;
    pub const CONTENT_SIZE: usize = 48;
    pub const PACKET_SIZE: usize = 56;
    pub const PACKET_SEQ_NUM: usize = 64;
    pub const EVENTS_DISCARDED: usize = 72;
    pub const CPU_ID: usize = 80;
    /// Size of header + context: the first event starts here.
    pub const HEADER_SIZE: usize = 84;
}

/// Packets are padded to a whole number of pages (as LTTng does), never past the
/// sub-buffer: the size in bytes of a packet with `content` bytes in a sub-buffer of
/// `subbuf_size` bytes.
pub fn padded_packet_size(content: u64, subbuf_size: u64) -> u64 {
    content.next_multiple_of(PACKET_ALIGN).min(subbuf_size)
}

/// Packet sizes are multiples of this.
pub const PACKET_ALIGN: u64 = 4096;

/// Event headers, in LTTng's two forms. Each has a compact form (a small id and the low
/// bits of the timestamp) and an extended one (a tag, then a 32-bit id and the full
/// 64-bit timestamp) for ids that do not fit and for events whose timestamp's high bits
/// differ from the previous event's (babeltrace2 rebuilds a compact timestamp from the
/// previous value, assuming at most one wrap).
pub mod event_header {
    /// `event_header_compact`, written by the ring buffers (userspace events): the
    /// little-endian 32-bit word `id | timestamp27 << 5`; extended, the byte
    /// [`EXTENDED_ID`](compact::EXTENDED_ID) (3 padding bits), a u32 id and a u64
    /// timestamp. Four bytes where the large form takes six: on a 35-byte event, 6 %
    /// less to write, which is what two threads tracing to disk are limited by.
    pub mod compact {
        /// The tag value that announces the extended form; ids below it fit the compact one.
        pub const EXTENDED_ID: u32 = 31;
        /// Bits of the tag in the compact word.
        pub const ID_BITS: u32 = 5;
        pub const COMPACT_SIZE: usize = 4;
        pub const EXTENDED_SIZE: usize = 13;
        /// A compact timestamp keeps these low bits of the clock.
        pub const COMPACT_TS_BITS: u32 = 27;
    }

    /// `event_header_large`, written by the kernel consumer (hundreds of syscall event
    /// classes): a u16 id and a u32 timestamp; extended, the u16 tag
    /// [`EXTENDED_ID`](large::EXTENDED_ID), a u32 id and a u64 timestamp.
    pub mod large {
        /// The tag value that announces the extended form.
        pub const EXTENDED_ID: u16 = 0xFFFF;
        pub const COMPACT_SIZE: usize = 6;
        pub const EXTENDED_SIZE: usize = 14;
        /// A compact timestamp keeps these low bits of the clock.
        pub const COMPACT_TS_BITS: u32 = 32;
    }
}

/// What a writer does when no sub-buffer is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Drop the new event and count it (the default).
    Discard,
    /// Overwrite the oldest sub-buffer (flight recorder).
    Overwrite,
}

/// The geometry and identity of one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BufferConfig {
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    pub mode: Mode,
}

/// Why a buffer geometry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("sub-buffer size {0} must be a power of two between {MIN_SUBBUF_SIZE} and {MAX_SUBBUF_SIZE} bytes")]
    SubbufSize(u64),
    #[error("sub-buffer count {0} must be a power of two between 2 and {MAX_SUBBUFS}")]
    NumSubbuf(u64),
    #[error("{0} spare sub-buffers asked for; at most {MAX_SPARES} are allowed")]
    Spares(u64),
}

impl BufferConfig {
    /// LTTng's default UST channel: 4 sub-buffers of 512 KiB per CPU, discard mode.
    pub const DEFAULT: BufferConfig = BufferConfig {
        subbuf_size: 512 * 1024,
        num_subbuf: 4,
        mode: Mode::Discard,
    };

    /// Checks the geometry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = self.subbuf_size;
        if !s.is_power_of_two() || !(MIN_SUBBUF_SIZE..=MAX_SUBBUF_SIZE).contains(&s) {
            return Err(ConfigError::SubbufSize(s));
        }
        let n = self.num_subbuf;
        if !n.is_power_of_two() || !(2..=MAX_SUBBUFS).contains(&n) {
            return Err(ConfigError::NumSubbuf(n));
        }
        Ok(())
    }

    /// Total size of the memfd: control page plus data.
    pub fn shm_size(&self) -> usize {
        CONTROL_SIZE + (self.subbuf_size * self.num_subbuf) as usize
    }

    /// Size of a memfd that holds the ring and `spares` more sub-buffers after it.
    pub fn file_size(&self, spares: u64) -> u64 {
        (self.shm_size() as u64).saturating_add(spares.saturating_mul(self.subbuf_size))
    }

    /// Checks the geometry and the spare count; the size of the memfd to map.
    pub fn mapped_len(&self, spares: u64) -> Result<usize, ConfigError> {
        self.validate()?;
        if spares > MAX_SPARES {
            return Err(ConfigError::Spares(spares));
        }
        Ok(usize::try_from(self.file_size(spares)).unwrap_or(usize::MAX))
    }
}

/// Identity written into every packet header of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct StreamIdentity {
    /// Trace uuid (the metadata's `trace.uuid`).
    pub uuid: [u8; 16],
    /// Stream class id (the channel).
    pub stream_id: u32,
    /// Stream instance id (the CPU for per-CPU buffers).
    pub stream_instance_id: u64,
    /// CPU number written in `cpu_id`.
    pub cpu_id: u32,
}
