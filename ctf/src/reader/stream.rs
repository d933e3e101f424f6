//! One data stream file, decoded lazily packet by packet.
//!
//! A [`StreamCursor`] reads one packet at a time into a reusable buffer (`pread`, no mmap),
//! checks its header and sizes, then decodes its events on demand. A packet whose header or
//! sizes are invalid ends the file (the next packet's offset is unknown); an event that cannot
//! be decoded ends its packet. Both are reported as [`ReadError`]s in the item stream, the
//! way babeltrace2 reports them, and never stop the other streams.
//!
//! Events come out either as owned [`Event`]s ([`StreamCursor::next_item`]) or as text in
//! the cursor's reusable buffer ([`StreamCursor::next_text`]; the packet context is formatted
//! once per packet).

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::decode::{DecodeError, DecodeState, Decoder};
use super::plan::{EventPlan, StreamPlan, TracePlan};
use super::value::{Discarded, DiscardedKind, Event, Fields, Scopes, Timestamp};
use super::Item;

/// The packet header magic number.
pub const PACKET_MAGIC: u64 = 0xC1FC_1FC1;

/// First read of a packet, enough for the header and context of any real trace.
const FIRST_READ: u64 = 4096;

/// What went wrong in a stream; see [`ReadError`] for where.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ReadErrorKind {
    #[error("i/o error: {0}")]
    Io(String),
    #[error("bad packet magic 0x{found:08x} (expected 0xc1fc1fc1)")]
    BadMagic { found: u64 },
    #[error("content_size {content} bits exceeds packet_size {packet} bits")]
    ContentExceedsPacket { content: u64, packet: u64 },
    #[error("packet_size {packet} bits goes beyond the end of the file ({left} bytes left)")]
    PacketBeyondEof { packet: u64, left: u64 },
    #[error("packet_size {packet} bits is not a multiple of 8")]
    PacketSizeNotBytes { packet: u64 },
    #[error("{what} {size} bits is smaller than the packet header and context ({header} bits)")]
    PacketTooSmall {
        what: &'static str,
        size: u64,
        header: u64,
    },
    #[error("unknown stream class id {id}")]
    UnknownStream { id: u64 },
    #[error("cannot decode the packet header and context: {0}")]
    Header(DecodeError),
    #[error("event {index} at offset {offset}: {source}")]
    Event {
        index: u64,
        offset: u64,
        source: DecodeError,
    },
    #[error(
        "event {index} at offset {offset}: unknown event id {id} in stream class {stream_class}"
    )]
    UnknownEvent {
        index: u64,
        offset: u64,
        id: u64,
        stream_class: u64,
    },
    #[error("event {index} at offset {offset}: the event header gives no id and the stream class has several event classes")]
    NoEventId { index: u64, offset: u64 },
    #[error("event {index} at offset {offset}: the event has no content (0 bits)")]
    EmptyEvent { index: u64, offset: u64 },
}

/// A stream could not be read (entirely or from some packet on). Non-fatal for the other
/// streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The stream file.
    pub stream: Arc<Path>,
    /// Index of the packet in the file and its byte offset, when the error is in a packet.
    pub packet: Option<(u64, u64)>,
    pub kind: ReadErrorKind,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.stream.display())?;
        if let Some((index, offset)) = self.packet {
            write!(f, "packet {index} at offset {offset}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for ReadError {}

/// Bytes of a stream: a file, or memory (tests and fuzzing).
#[derive(Debug)]
pub(crate) enum Source {
    File(File),
    Memory(Arc<[u8]>),
}

impl Source {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            Source::File(f) => f.read_exact_at(buf, offset),
            Source::Memory(m) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let src = start
                    .checked_add(buf.len())
                    .and_then(|end| m.get(start..end))
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }
}

/// What a stream reports besides events.
pub(crate) enum Notice {
    Discarded(Discarded),
    Error(ReadError),
}

struct Packet {
    stream: usize,
    context: Arc<Fields>,
    /// The packet context as text (` { cpu_id = 0 }`), made on first use by the text path.
    context_text: Option<Vec<u8>>,
    cpu_id: Option<u32>,
    /// Current position in bits.
    pos: u64,
    content_bits: u64,
    index: u64,
    offset: u64,
    events: u64,
}

struct Previous {
    end: Timestamp,
    events_discarded: Option<u64>,
    seq: Option<u64>,
}

pub(crate) struct StreamCursor {
    trace: usize,
    plan: Arc<TracePlan>,
    path: Arc<Path>,
    src: Source,
    file_len: u64,
    next_offset: u64,
    packet_count: u64,
    buf: Vec<u8>,
    st: DecodeState,
    packet: Option<Packet>,
    pending: VecDeque<(i128, Discarded)>,
    previous: Option<Previous>,
    /// Used as stream id in reports when the header has no `stream_instance_id`.
    file_index: u64,
    last_ns: i128,
    done: bool,
    /// The trace's host name (starts every text body).
    host: Option<Arc<str>>,
    /// The body of the last event decoded by the text path.
    text: Vec<u8>,
}

impl StreamCursor {
    pub(crate) fn new(
        trace: usize,
        plan: Arc<TracePlan>,
        path: Arc<Path>,
        src: Source,
        file_len: u64,
        file_index: u64,
        host: Option<Arc<str>>,
    ) -> StreamCursor {
        let st = DecodeState::new(plan.slot_count);
        StreamCursor {
            trace,
            plan,
            path,
            src,
            file_len,
            next_offset: 0,
            packet_count: 0,
            buf: Vec::new(),
            st,
            packet: None,
            pending: VecDeque::new(),
            previous: None,
            file_index,
            last_ns: i128::MIN,
            done: false,
            host,
            text: Vec::new(),
        }
    }

    /// The next item of this stream and its time key (ns) for merging.
    pub(crate) fn next_item(&mut self) -> Option<(i128, Item)> {
        let (key, next) = self.advance(Self::next_event)?;
        Some((
            key,
            match next {
                Ok(ev) => Item::Event(ev),
                Err(notice) => match *notice {
                    Notice::Discarded(d) => Item::Discarded(d),
                    Notice::Error(e) => Item::Error(e),
                },
            },
        ))
    }

    /// Like [`StreamCursor::next_item`], but an event is decoded as text into
    /// [`StreamCursor::text`] and only its clock value is returned (`Ok`).
    pub(crate) fn next_text(&mut self) -> Option<(i128, Result<u64, Box<Notice>>)> {
        self.advance(Self::next_event_text)
    }

    /// Index of the stream's trace.
    pub(crate) fn trace(&self) -> usize {
        self.trace
    }

    /// The event body written by the last successful [`StreamCursor::next_text`].
    pub(crate) fn text(&self) -> &[u8] {
        &self.text
    }

    /// Steps to the next event (decoded by `event`), discarded-data report or error.
    #[inline]
    fn advance<T>(
        &mut self,
        mut event: impl FnMut(&mut Self) -> Result<Option<(i128, T)>, ReadErrorKind>,
    ) -> Option<(i128, Result<T, Box<Notice>>)> {
        loop {
            if let Some((key, d)) = self.pending.pop_front() {
                return Some((key, Err(Box::new(Notice::Discarded(d)))));
            }
            if self.packet.is_some() {
                match event(self) {
                    Ok(Some((ns, ev))) => {
                        self.last_ns = ns;
                        return Some((ns, Ok(ev)));
                    }
                    Ok(None) => self.packet = None,
                    Err(kind) => {
                        let p = self.packet.take().map(|p| (p.index, p.offset));
                        let e = self.error(p, kind);
                        return Some((self.last_ns, Err(Box::new(Notice::Error(e)))));
                    }
                }
                continue;
            }
            if self.done || self.next_offset >= self.file_len {
                return None;
            }
            let (index, offset) = (self.packet_count, self.next_offset);
            if let Err(kind) = self.open_packet() {
                self.done = true;
                return Some((
                    self.last_ns,
                    Err(Box::new(Notice::Error(
                        self.error(Some((index, offset)), kind),
                    ))),
                ));
            }
        }
    }

    fn error(&self, packet: Option<(u64, u64)>, kind: ReadErrorKind) -> ReadError {
        ReadError {
            stream: self.path.clone(),
            packet,
            kind,
        }
    }

    fn fill(&mut self, offset: u64, len: u64) -> Result<(), ReadErrorKind> {
        let len = usize::try_from(len).map_err(|_| ReadErrorKind::Io("packet too large".into()))?;
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        self.src
            .read_at(offset, &mut self.buf[..len])
            .map_err(|e| ReadErrorKind::Io(e.to_string()))
    }

    fn open_packet(&mut self) -> Result<(), ReadErrorKind> {
        let offset = self.next_offset;
        let left = self.file_len - offset;
        let mut chunk = left.min(FIRST_READ);
        let plan = self.plan.clone();
        // Decode the header and context, reading more if they do not fit the first chunk.
        let (stream_idx, context, header_bits) = loop {
            self.fill(offset, chunk)?;
            self.st.start_packet(chunk * 8);
            match decode_packet_start(&plan, &self.buf[..chunk as usize], &mut self.st) {
                Ok(x) => break x,
                Err(ReadErrorKind::Header(DecodeError::Overrun { .. }))
                | Err(ReadErrorKind::Header(DecodeError::UnterminatedString { .. }))
                    if chunk < left =>
                {
                    chunk = left.min(chunk.saturating_mul(16));
                }
                Err(e) => return Err(e),
            }
        };
        let sp = &plan.streams[stream_idx];
        let slot = |s: Option<u32>| s.and_then(|s| self.st.slots.get(s as usize).copied());
        let packet_bits = slot(sp.slots.packet_size).unwrap_or(left.saturating_mul(8));
        let content_bits = slot(sp.slots.content_size).unwrap_or(packet_bits);
        let end_raw = slot(sp.slots.timestamp_end);
        let stream_id = slot(plan.slots.stream_instance_id).unwrap_or(self.file_index);
        let discarded = slot(sp.slots.events_discarded);
        let seq = slot(sp.slots.packet_seq_num);
        let cpu_id = slot(sp.slots.cpu_id).and_then(|c| u32::try_from(c).ok());
        if packet_bits % 8 != 0 {
            return Err(ReadErrorKind::PacketSizeNotBytes {
                packet: packet_bits,
            });
        }
        if content_bits > packet_bits {
            return Err(ReadErrorKind::ContentExceedsPacket {
                content: content_bits,
                packet: packet_bits,
            });
        }
        if packet_bits / 8 > left {
            return Err(ReadErrorKind::PacketBeyondEof {
                packet: packet_bits,
                left,
            });
        }
        if packet_bits < header_bits || packet_bits == 0 {
            return Err(ReadErrorKind::PacketTooSmall {
                what: "packet_size",
                size: packet_bits,
                header: header_bits,
            });
        }
        if content_bits < header_bits {
            return Err(ReadErrorKind::PacketTooSmall {
                what: "content_size",
                size: content_bits,
                header: header_bits,
            });
        }
        let content_bytes = content_bits.div_ceil(8);
        if content_bytes > chunk {
            self.fill(offset, content_bytes)?;
        }
        self.st.start_packet(content_bits);

        let begin = self.timestamp(sp, self.st.clock);
        let end = end_raw.map_or(begin, |c| self.timestamp(sp, c));
        let report = |kind, begin: Timestamp, end: Timestamp| {
            (
                begin.ns,
                Discarded {
                    kind,
                    begin,
                    end,
                    trace: self.trace,
                    stream_path: self.path.clone(),
                    stream_class_id: sp.id,
                    stream_id,
                },
            )
        };
        let mut reports = Vec::new();
        match (&self.previous, discarded) {
            (None, Some(n)) if n > 0 => {
                reports.push(report(DiscardedKind::MaybeEvents, begin, end))
            }
            (Some(prev), Some(n)) => {
                // Like babeltrace2: the difference modulo 2^64, so a counter that goes
                // backwards (seen in LTTng-UST 2.13 per-user buffers) shows as a huge
                // count rather than being ignored, and later counts stay comparable.
                if let Some(p) = prev.events_discarded.filter(|p| n != *p) {
                    reports.push(report(
                        DiscardedKind::Events(n.wrapping_sub(p)),
                        prev.end,
                        end,
                    ));
                }
            }
            _ => {}
        }
        if let (Some(prev), Some(s)) = (&self.previous, seq) {
            if let Some(p) = prev.seq {
                if s > p.saturating_add(1) {
                    reports.push(report(DiscardedKind::Packets(s - p - 1), prev.end, begin));
                }
            }
        }
        self.pending.extend(reports);
        self.previous = Some(Previous {
            end,
            events_discarded: discarded,
            seq,
        });
        self.packet = Some(Packet {
            stream: stream_idx,
            context: Arc::new(context),
            context_text: None,
            cpu_id,
            pos: header_bits,
            content_bits,
            index: self.packet_count,
            offset,
            events: 0,
        });
        self.packet_count += 1;
        self.next_offset = offset + packet_bits / 8;
        Ok(())
    }

    fn timestamp(&self, sp: &StreamPlan, cycles: u64) -> Timestamp {
        Timestamp {
            ns: sp.clock.ns_from_origin(cycles),
            cycles,
        }
    }

    fn next_event(&mut self) -> Result<Option<(i128, Event)>, ReadErrorKind> {
        let Some(pk) = self.packet.as_mut() else {
            return Ok(None);
        };
        let sp = &self.plan.streams[pk.stream];
        let Some((es, ev)) = start_event(pk, sp, &self.buf, &mut self.st)? else {
            return Ok(None);
        };
        let at = es.at();
        let mut d = Decoder::new(&self.buf, pk.content_bits, &mut self.st);
        d.pos = es.body;
        let mut scope = |n: &Option<super::plan::Node>| match n {
            Some(n) => d.decode_fields(n).map_err(at),
            None => Ok(Fields::default()),
        };
        let stream_context = scope(&sp.event_context)?;
        let event_context = scope(&ev.context)?;
        let fields = scope(&ev.fields)?;
        let clock = end_event(pk, &es, d.pos, d.st)?;
        let ns = sp.clock.ns_from_origin(clock);
        Ok(Some((
            ns,
            Event {
                timestamp_ns: ns,
                clock_value: clock,
                name: ev.name.clone(),
                id: es.id,
                trace: self.trace,
                stream_path: self.path.clone(),
                cpu_id: pk.cpu_id,
                packet_context: pk.context.clone(),
                stream_context,
                event_context,
                fields,
                declared: Scopes {
                    packet_context: sp.packet_context.is_some(),
                    stream_context: sp.event_context.is_some(),
                    event_context: ev.context.is_some(),
                    fields: ev.fields.is_some(),
                },
            },
        )))
    }

    /// Decodes the next event straight into [`StreamCursor::text`] (what
    /// [`super::pretty::write_event_body`] writes for it with the trace's host name); returns
    /// its time and clock value.
    fn next_event_text(&mut self) -> Result<Option<(i128, u64)>, ReadErrorKind> {
        let Some(pk) = self.packet.as_mut() else {
            return Ok(None);
        };
        let sp = &self.plan.streams[pk.stream];
        let Some((es, ev)) = start_event(pk, sp, &self.buf, &mut self.st)? else {
            return Ok(None);
        };
        let at = es.at();
        let out = &mut self.text;
        out.clear();
        if let Some(h) = &self.host {
            out.extend_from_slice(h.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(ev.name.as_bytes());
        out.push(b':');
        let mut first = true;
        if sp.packet_context.is_some() {
            let ctx = pk.context_text.get_or_insert_with(|| {
                let mut t = Vec::new();
                super::pretty::write_packet_context(&mut t, &pk.context);
                t
            });
            out.extend_from_slice(ctx);
            first = false;
        }
        let mut d = Decoder::new(&self.buf, pk.content_bits, &mut self.st);
        d.pos = es.body;
        for node in [&sp.event_context, &ev.context, &ev.fields]
            .into_iter()
            .flatten()
        {
            out.extend_from_slice(if first { b" " } else { b", " });
            first = false;
            d.write_fields(node, out).map_err(at)?;
        }
        let clock = end_event(pk, &es, d.pos, d.st)?;
        Ok(Some((sp.clock.ns_from_origin(clock), clock)))
    }
}

/// Where an event starts and what its header says.
struct EventStart {
    index: u64,
    /// Byte offset in the file.
    offset: u64,
    /// Start position, in bits from the packet start.
    start: u64,
    /// Position after the header.
    body: u64,
    id: u64,
}

impl EventStart {
    fn at(&self) -> impl Fn(DecodeError) -> ReadErrorKind + Copy {
        let (index, offset) = (self.index, self.offset);
        move |source| ReadErrorKind::Event {
            index,
            offset,
            source,
        }
    }
}

/// Decodes the header of the packet's next event; `None` at the end of the packet's content.
fn start_event<'p>(
    pk: &mut Packet,
    sp: &'p StreamPlan,
    buf: &[u8],
    st: &mut DecodeState,
) -> Result<Option<(EventStart, &'p EventPlan)>, ReadErrorKind> {
    let header_align = sp.event_header.as_ref().map_or(8, |h| h.align());
    let a = u64::from(header_align);
    if (pk.pos + a - 1) & !(a - 1) >= pk.content_bits {
        return Ok(None);
    }
    let index = pk.events;
    pk.events += 1;
    let offset = pk.offset + pk.pos / 8;
    let at = |source| ReadErrorKind::Event {
        index,
        offset,
        source,
    };
    let mut d = Decoder::new(buf, pk.content_bits, st);
    d.pos = pk.pos;
    d.st.event_id = None;
    if let Some(h) = &sp.event_header {
        d.skip(h).map_err(at)?;
    }
    let id =
        d.st.event_id
            .or(sp.single_event)
            .ok_or(ReadErrorKind::NoEventId { index, offset })?;
    let ev = sp.event(id).ok_or(ReadErrorKind::UnknownEvent {
        index,
        offset,
        id,
        stream_class: sp.id,
    })?;
    Ok(Some((
        EventStart {
            index,
            offset,
            start: pk.pos,
            body: d.pos,
            id,
        },
        ev,
    )))
}

/// Ends an event that was decoded up to `pos`: moves the packet past it and returns the
/// stream's clock value.
fn end_event(
    pk: &mut Packet,
    es: &EventStart,
    pos: u64,
    st: &DecodeState,
) -> Result<u64, ReadErrorKind> {
    if pos == es.start {
        return Err(ReadErrorKind::EmptyEvent {
            index: es.index,
            offset: es.offset,
        });
    }
    pk.pos = pos;
    Ok(st.clock)
}

/// Decodes the packet header and context at the start of `buf`: returns the stream class
/// index, the context fields and the bit size of header + context.
fn decode_packet_start(
    plan: &TracePlan,
    buf: &[u8],
    st: &mut DecodeState,
) -> Result<(usize, Fields, u64), ReadErrorKind> {
    let slot = |st: &DecodeState, s: Option<u32>| s.and_then(|s| st.slots.get(s as usize).copied());
    // The magic comes first: report a bad one even when the rest of the header is cut short.
    const UNSET: u64 = u64::MAX;
    if let Some(m) = plan.slots.magic.and_then(|m| st.slots.get_mut(m as usize)) {
        *m = UNSET;
    }
    let mut d = Decoder::new(buf, buf.len() as u64 * 8, st);
    if let Some(h) = &plan.packet_header {
        if let Err(e) = d.skip(h) {
            return Err(match slot(d.st, plan.slots.magic) {
                Some(found) if found != UNSET && found != PACKET_MAGIC => {
                    ReadErrorKind::BadMagic { found }
                }
                _ => ReadErrorKind::Header(e),
            });
        }
    }
    if let Some(found) = slot(d.st, plan.slots.magic) {
        if found != PACKET_MAGIC {
            return Err(ReadErrorKind::BadMagic { found });
        }
    }
    let id = slot(d.st, plan.slots.stream_id);
    let stream_idx = match id {
        Some(id) => plan.streams.iter().position(|s| s.id == id),
        None => plan.stream(None).map(|_| 0),
    }
    .ok_or(ReadErrorKind::UnknownStream {
        id: id.unwrap_or(0),
    })?;
    let context = match &plan.streams[stream_idx].packet_context {
        Some(n) => d.decode_fields(n).map_err(ReadErrorKind::Header)?,
        None => Fields::default(),
    };
    Ok((stream_idx, context, d.pos))
}
