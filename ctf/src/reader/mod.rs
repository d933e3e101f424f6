//! CTF 1.8 trace reader, for `lttng view`, the tests and fuzzing.
//!
//! Every byte read is untrusted: the reader never panics, never loops without consuming
//! input, bounds every allocation by the bytes actually present, and reports problems as
//! errors that say where and what.
//!
//! Structure, from bytes to events:
//!
//! - [`tsdl`]: metadata (text or packetized) → [`Metadata`] (lexer in `lexer`).
//! - `plan`: the metadata's types compiled once per trace into decode plans.
//! - `stream`: one stream file, read lazily packet by packet; reports corrupt packets
//!   ([`ReadError`]) and discarded events/packets ([`Discarded`]).
//! - `decode`: bit-level decoding of a packet along a plan, either into [`Value`]s or
//!   straight into babeltrace2's text (the same checks and errors either way).
//! - this module: [`TraceSet`] finds the traces under a path (like `babeltrace2 DIR`) and
//!   merges all their streams by time: [`TraceSet::items`] yields owned [`Event`]s,
//!   [`TraceSet::text_items`] the same sequence with each event already formatted as
//!   babeltrace2 text, with no per-event allocation (what `lttng view` uses: several times
//!   faster). `fuzz_stream` checks that both agree.
//!
//! ```no_run
//! use ctf::reader::{Item, TraceSet};
//! let mut set = TraceSet::open(std::path::Path::new("/tmp/trace"))?;
//! for item in set.items() {
//!     match item {
//!         Item::Event(e) => println!("{} {}", e.timestamp_ns, e.name),
//!         Item::Discarded(d) => eprintln!("lost data: {d:?}"),
//!         Item::Error(e) => eprintln!("ERROR: {e}"),
//!     }
//! }
//! # Ok::<(), ctf::reader::OpenError>(())
//! ```

mod decode;
mod lexer;
mod plan;
pub mod pretty;
mod stream;
pub mod tsdl;
mod value;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use decode::DecodeError;
pub use stream::{ReadError, ReadErrorKind, PACKET_MAGIC};
pub use tsdl::{ByteOrder, Clock, EnvValue, EventClass, Metadata, MetadataError, StreamClass};
pub use value::{Discarded, DiscardedKind, Event, Fields, IntFormat, Scopes, Timestamp, Value};

use plan::TracePlan;
use stream::{Notice, Source, StreamCursor};

/// Deepest directory level searched for traces below the opened path.
const MAX_SEARCH_DEPTH: u32 = 16;

/// One element of the merged, time-ordered stream of a [`TraceSet`].
#[derive(Debug, Clone)]
pub enum Item {
    Event(Event),
    /// The tracer reported lost events or packets (a babeltrace2 "WARNING").
    Discarded(Discarded),
    /// A stream (from some packet on) could not be read; the other streams go on.
    Error(ReadError),
}

/// Why a path could not be opened as traces.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no CTF trace found (no metadata file in it or its subdirectories)", path.display())]
    NoTrace { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Metadata {
        path: PathBuf,
        source: MetadataError,
    },
}

/// One trace of a [`TraceSet`].
#[derive(Debug, Clone)]
pub struct TraceInfo {
    /// The trace directory (holding `metadata`).
    pub path: PathBuf,
    pub metadata: Arc<Metadata>,
    /// The data stream files, sorted.
    pub stream_files: Vec<PathBuf>,
}

/// All traces under a path, read as one time-ordered sequence of items.
pub struct TraceSet {
    traces: Vec<TraceInfo>,
    cursors: Vec<StreamCursor>,
}

impl TraceSet {
    /// Opens a trace directory (one with a `metadata` file) or every trace below a directory,
    /// recursively (like `babeltrace2 DIR`). Fails if no trace is found or if the metadata of
    /// one cannot be parsed; stream files are only opened here and read lazily.
    pub fn open(path: &Path) -> Result<TraceSet, OpenError> {
        let io = |source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_dir() {
            return Err(OpenError::NoTrace {
                path: path.to_path_buf(),
            });
        }
        let mut dirs = Vec::new();
        find_traces(path, 0, &mut dirs)?;
        if dirs.is_empty() {
            return Err(OpenError::NoTrace {
                path: path.to_path_buf(),
            });
        }
        let mut set = TraceSet {
            traces: Vec::new(),
            cursors: Vec::new(),
        };
        for dir in dirs {
            set.add_trace_dir(&dir)?;
        }
        Ok(set)
    }

    fn add_trace_dir(&mut self, dir: &Path) -> Result<(), OpenError> {
        let md_path = dir.join("metadata");
        let bytes = std::fs::read(&md_path).map_err(|source| OpenError::Io {
            path: md_path.clone(),
            source,
        })?;
        let (metadata, plan) = parse_and_compile(&bytes).map_err(|source| OpenError::Metadata {
            path: md_path.clone(),
            source,
        })?;
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "metadata" {
                continue;
            }
            let p = entry.path();
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() => files.push(p),
                _ => {}
            }
        }
        files.sort();
        let trace = self.traces.len();
        let host: Option<Arc<str>> = metadata.hostname().map(Arc::from);
        for (i, p) in files.iter().enumerate() {
            let file = std::fs::File::open(p).map_err(|source| OpenError::Io {
                path: p.clone(),
                source,
            })?;
            let len = file
                .metadata()
                .map_err(|source| OpenError::Io {
                    path: p.clone(),
                    source,
                })?
                .len();
            if len == 0 {
                continue; // babeltrace2 ignores empty stream files
            }
            self.cursors.push(StreamCursor::new(
                trace,
                plan.clone(),
                Arc::from(p.as_path()),
                Source::File(file),
                len,
                i as u64,
                host.clone(),
            ));
        }
        self.traces.push(TraceInfo {
            path: dir.to_path_buf(),
            metadata: Arc::new(metadata),
            stream_files: files,
        });
        Ok(())
    }

    /// A trace held in memory: metadata bytes and named stream contents (tests, fuzzing).
    pub fn from_memory(
        metadata: &[u8],
        streams: Vec<(String, Vec<u8>)>,
    ) -> Result<TraceSet, MetadataError> {
        let (md, plan) = parse_and_compile(metadata)?;
        let host: Option<Arc<str>> = md.hostname().map(Arc::from);
        let mut cursors = Vec::new();
        let mut names = Vec::new();
        for (i, (name, data)) in streams.into_iter().enumerate() {
            let len = data.len() as u64;
            names.push(PathBuf::from(&name));
            cursors.push(StreamCursor::new(
                0,
                plan.clone(),
                Arc::from(Path::new(&name)),
                Source::Memory(data.into()),
                len,
                i as u64,
                host.clone(),
            ));
        }
        Ok(TraceSet {
            traces: vec![TraceInfo {
                path: PathBuf::new(),
                metadata: Arc::new(md),
                stream_files: names,
            }],
            cursors,
        })
    }

    /// The traces, in the order of [`Event::trace`].
    pub fn traces(&self) -> &[TraceInfo] {
        &self.traces
    }

    /// All events, discarded-data reports and stream errors of all streams, merged by time
    /// (ties keep stream order). Streams are decoded lazily, one packet at a time.
    pub fn items(&mut self) -> Items<'_> {
        Items {
            set: self,
            heap: BinaryHeap::new(),
            peeked: Vec::new(),
            started: false,
        }
    }

    /// The same sequence as [`TraceSet::items`], with each event already written as text
    /// instead of decoded into an [`Event`]: what `babeltrace2` prints after the time stamps,
    /// exactly as [`pretty::write_event_body`] writes it with the trace's host name. No value
    /// is built and nothing is allocated per event, which makes this several times faster
    /// than [`TraceSet::items`] followed by [`pretty::write_event_body`]; `lttng view` uses it.
    pub fn text_items(&mut self) -> TextItems<'_> {
        TextItems {
            set: self,
            heap: BinaryHeap::new(),
            peeked: Vec::new(),
            started: false,
            stale: None,
        }
    }
}

/// One element of [`TraceSet::text_items`].
#[derive(Debug)]
pub enum TextItem<'a> {
    Event(TextEvent<'a>),
    /// The tracer reported lost events or packets (a babeltrace2 "WARNING").
    Discarded(Discarded),
    /// A stream (from some packet on) could not be read; the other streams go on.
    Error(ReadError),
}

/// An event of [`TraceSet::text_items`].
#[derive(Debug, Clone, Copy)]
pub struct TextEvent<'a> {
    /// Nanoseconds since the Unix epoch, as [`Event::timestamp_ns`].
    pub timestamp_ns: i128,
    /// The raw clock value, as [`Event::clock_value`].
    pub clock_value: u64,
    /// Index of the trace in [`TraceSet::traces`].
    pub trace: usize,
    /// `HOST NAME: { ... }, ...` (see [`pretty::write_event_body`]), without a newline.
    /// Strings keep the trace's bytes, as babeltrace2 prints them: where they are not valid
    /// UTF-8, [`pretty::write_event_body`] has U+FFFD instead (a [`Value::String`] is a
    /// `String`) and the body has the raw bytes.
    pub body: &'a [u8],
}

/// The merged text items of a [`TraceSet`] (a lending iterator: each event borrows the
/// stream's buffer until the next call of [`TextItems::next_item`]).
pub struct TextItems<'a> {
    set: &'a mut TraceSet,
    heap: BinaryHeap<Reverse<(i128, usize)>>,
    peeked: Vec<Option<Result<u64, Box<Notice>>>>,
    started: bool,
    /// The stream whose event text was handed out last: it steps at the next call.
    stale: Option<usize>,
}

impl TextItems<'_> {
    /// The next item, or `None` at the end of all streams.
    pub fn next_item(&mut self) -> Option<TextItem<'_>> {
        if !self.started {
            self.started = true;
            self.peeked.resize_with(self.set.cursors.len(), || None);
            for i in 0..self.set.cursors.len() {
                self.step(i);
            }
        }
        if let Some(i) = self.stale.take() {
            let next = self
                .set
                .cursors
                .get_mut(i)
                .and_then(StreamCursor::next_text);
            if let Some((key, next)) = next {
                // Runs of events from one stream skip the heap.
                let first = match self.heap.peek() {
                    Some(Reverse(top)) => (key, i) < *top,
                    None => true,
                };
                if first {
                    return self.hand_out(i, key, next);
                }
                self.heap.push(Reverse((key, i)));
                if let Some(p) = self.peeked.get_mut(i) {
                    *p = Some(next);
                }
            }
        }
        let Reverse((key, i)) = self.heap.pop()?;
        let next = self.peeked.get_mut(i)?.take()?;
        self.hand_out(i, key, next)
    }

    fn hand_out(
        &mut self,
        i: usize,
        key: i128,
        next: Result<u64, Box<Notice>>,
    ) -> Option<TextItem<'_>> {
        match next {
            Ok(clock_value) => {
                self.stale = Some(i);
                let c = self.set.cursors.get(i)?;
                Some(TextItem::Event(TextEvent {
                    timestamp_ns: key,
                    clock_value,
                    trace: c.trace(),
                    body: c.text(),
                }))
            }
            Err(notice) => {
                self.step(i);
                Some(match *notice {
                    Notice::Discarded(d) => TextItem::Discarded(d),
                    Notice::Error(e) => TextItem::Error(e),
                })
            }
        }
    }

    /// Reads the next item of stream `i` into `peeked` and the heap.
    fn step(&mut self, i: usize) {
        let next = self
            .set
            .cursors
            .get_mut(i)
            .and_then(StreamCursor::next_text);
        if let Some((key, next)) = next {
            self.heap.push(Reverse((key, i)));
            if let Some(p) = self.peeked.get_mut(i) {
                *p = Some(next);
            }
        }
    }
}

fn parse_and_compile(bytes: &[u8]) -> Result<(Metadata, Arc<TracePlan>), MetadataError> {
    let md = Metadata::parse(bytes)?;
    let plan = plan::compile(&md)?;
    Ok((md, Arc::new(plan)))
}

fn find_traces(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), OpenError> {
    if dir.join("metadata").is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= MAX_SEARCH_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| OpenError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    for d in subdirs {
        find_traces(&d, depth + 1, out)?;
    }
    Ok(())
}

/// Iterator over the merged items of a [`TraceSet`].
pub struct Items<'a> {
    set: &'a mut TraceSet,
    heap: BinaryHeap<Reverse<(i128, usize)>>,
    peeked: Vec<Option<Item>>,
    started: bool,
}

impl Iterator for Items<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if !self.started {
            self.started = true;
            for (i, c) in self.set.cursors.iter_mut().enumerate() {
                let next = c.next_item();
                if let Some((key, _)) = &next {
                    self.heap.push(Reverse((*key, i)));
                }
                self.peeked.push(next.map(|(_, item)| item));
            }
        }
        let Reverse((_, i)) = self.heap.pop()?;
        let item = self.peeked.get_mut(i)?.take()?;
        if let Some((key, next)) = self
            .set
            .cursors
            .get_mut(i)
            .and_then(StreamCursor::next_item)
        {
            self.heap.push(Reverse((key, i)));
            self.peeked[i] = Some(next);
        }
        Some(item)
    }
}

/// Parses and compiles arbitrary metadata bytes (fuzzing entry point).
#[doc(hidden)]
pub fn fuzz_metadata(bytes: &[u8]) {
    let _ = parse_and_compile(bytes);
}

/// Decodes arbitrary stream bytes with the given metadata to the end (fuzzing entry point),
/// both ways: [`TraceSet::items`] and [`TraceSet::text_items`] must give the same sequence
/// (panics otherwise: a finding).
#[doc(hidden)]
pub fn fuzz_stream(metadata: &str, stream: &[u8]) {
    let open =
        || TraceSet::from_memory(metadata.as_bytes(), vec![("fuzz".into(), stream.to_vec())]).ok();
    let (Some(mut a), Some(mut b)) = (open(), open()) else {
        return;
    };
    let host = a.traces()[0].metadata.hostname().map(str::to_owned);
    let mut texts = b.text_items();
    for item in a.items() {
        let text = texts.next_item();
        assert_eq!(
            describe(&item, host.as_deref()),
            text.as_ref().map(describe_text),
            "items() and text_items() differ"
        );
    }
    assert!(texts.next_item().is_none(), "text_items() has more items");
}

/// An item as comparable text (tests and fuzzing); strings as in [`Value::String`].
fn describe(item: &Item, host: Option<&str>) -> Option<String> {
    Some(match item {
        Item::Event(e) => {
            let mut body = Vec::new();
            pretty::write_event_body(&mut body, host, e);
            format!(
                "{} {} {}",
                e.timestamp_ns,
                e.clock_value,
                String::from_utf8_lossy(&body)
            )
        }
        Item::Discarded(d) => format!("{d:?}"),
        Item::Error(e) => format!("ERROR {e}"),
    })
}

fn describe_text(item: &TextItem<'_>) -> String {
    match item {
        TextItem::Event(e) => format!(
            "{} {} {}",
            e.timestamp_ns,
            e.clock_value,
            String::from_utf8_lossy(e.body)
        ),
        TextItem::Discarded(d) => format!("{d:?}"),
        TextItem::Error(e) => format!("ERROR {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Big-endian trace, no packet context (the file is one packet), no event header (one
    /// event class): variant on an enum range, sequence of structs, sub-byte integers.
    const BE_METADATA: &str = r#"/* CTF 1.8 */
typealias integer { size = 8; align = 8; signed = false; } := u8;
typealias integer { size = 16; align = 8; signed = false; } := u16;
typealias integer { size = 32; align = 32; signed = true; } := s32;
trace { major = 1; minor = 8; byte_order = be;
  packet.header := struct { integer { size = 32; align = 8; signed = false; } magic; }; };
env { hostname = "h"; };
event { name = "t"; fields := struct {
  enum : u8 { A = 0, B = 1 ... 5 } _tag;
  variant <_tag> { s32 A; string B; } _v;
  u8 _n;
  struct { u8 x; u16 y; } _pts[_n];
  integer { size = 3; align = 1; signed = true; } _small;
  integer { size = 5; align = 1; signed = false; base = 16; } _rest;
}; };
"#;

    fn be_stream() -> Vec<u8> {
        let mut d = vec![0xc1, 0xfc, 0x1f, 0xc1];
        // Event 0: tag 1 → option B (string), 2 points, small = -1 (0b111), rest = 5.
        d.push(1);
        d.extend_from_slice(b"hi?\\\0");
        d.push(2);
        d.extend_from_slice(&[1, 2, 3, 1, 2, 3]);
        d.push(0b111_00101);
        // Event 1 at byte 18: tag 0 → option A, an s32 aligned on 32 bits (byte 20).
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(&(-5i32).to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d
    }

    fn events(metadata: &str, stream: Vec<u8>) -> Vec<Item> {
        let mut set = TraceSet::from_memory(metadata.as_bytes(), vec![("s".into(), stream)])
            .expect("metadata");
        set.items().collect()
    }

    #[test]
    fn big_endian_variants_sequences_and_bit_fields() {
        let items = events(BE_METADATA, be_stream());
        let [Item::Event(a), Item::Event(b)] = items.as_slice() else {
            panic!("{items:?}")
        };
        let mut body = Vec::new();
        pretty::write_event_body(&mut body, Some("h"), a);
        // Exactly what babeltrace2 2.0.4 printed for the same bytes.
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"h t: { tag = ( "B" : container = 1 ), v = { "hi\?\\" }, n = 2, pts = [ [0] = { x = 1, y = 515 }, [1] = { x = 1, y = 515 } ], small = -1, rest = 0x5 }"#
        );
        let Some(Value::Variant { option, value }) = b.fields.get("v") else {
            panic!("{:?}", b.fields)
        };
        assert_eq!((&**option, value.as_i64()), ("A", Some(-5)));
        assert_eq!(b.fields.get("pts"), Some(&Value::Array(vec![])));
    }

    #[test]
    fn a_tag_outside_every_option_is_an_event_error() {
        let mut s = be_stream();
        s[4] = 9; // no label covers 9
        let items = events(BE_METADATA, s);
        let [Item::Error(e)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(
            e.to_string(),
            "s: packet 0 at offset 0: event 0 at offset 4: variant tag value 9 selects no option"
        );
    }

    #[test]
    fn the_reference_example_metadata_parses() {
        let md = Metadata::parse(include_bytes!("../../tests/common/example_metadata.tsdl"))
            .expect("parse");
        assert_eq!((md.major, md.minor), (1, 8));
        assert_eq!(
            md.uuid.as_deref(),
            Some("6ecbb290-8639-42c7-9b46-4a6da8a06cc1")
        );
        assert_eq!(md.hostname(), Some("demo-host"));
        let c = &md.clocks[0];
        assert_eq!(
            (c.freq, c.offset_s, c.offset),
            (1_000_000_000, 1_795_690_911, 662_102_504)
        );
        let names: Vec<_> = md.events.iter().map(|e| (e.name.as_str(), e.id)).collect();
        assert_eq!(
            names,
            [("demo:hello", 0), ("demo:buffer", 1), ("demo:rare", 40)]
        );
        assert_eq!(md.events[0].loglevel, Some(13));
        let plan = plan::compile(&md).expect("compile");
        assert_eq!(plan.streams.len(), 1);
        assert!(plan.slots.magic.is_some() && plan.streams[0].slots.cpu_id.is_some());
    }

    /// Every kind of node, in every scope, with escapes, invalid UTF-8, several and no
    /// enum labels, signed non-decimal bases and floats.
    const RICH_METADATA: &str = r#"/* CTF 1.8 */
typealias integer { size = 8; align = 8; signed = false; } := u8;
typealias integer { size = 16; align = 8; signed = false; } := u16;
typealias integer { size = 32; align = 8; signed = false; } := u32;
trace { major = 1; minor = 8; byte_order = le;
  packet.header := struct { u32 magic; u8 stream_id; }; };
env { hostname = "rich"; };
clock { name = c; freq = 1000; offset_s = 10; offset = 7; };
typealias integer { size = 16; align = 8; signed = false; map = clock.c.value; } := ts16;
stream { id = 0;
  packet.context := struct { u32 content_size; u32 packet_size; u8 cpu_id;
    integer { size = 8; align = 8; signed = true; base = 16; } pc; };
  event.header := struct { u8 id; ts16 timestamp; };
  event.context := struct { u8 _sc; }; };
event { name = "r:one"; id = 1; stream_id = 0;
  context := struct { string _ctx; };
  fields := struct {
    enum : u8 { A = 0, B = 0 ... 3, C = 9 } _e;
    enum : u8 { X = 0, Y = 1 ... 5, Z = 9 } _t;
    variant <_t> { u16 X; string Y; struct { u8 x; } Z; } _v;
    floating_point { exp_dig = 8; mant_dig = 24; align = 8; } _f;
    floating_point { exp_dig = 11; mant_dig = 53; align = 8; } _d;
    integer { size = 8; align = 8; signed = true; base = 8; } _o;
    integer { size = 4; align = 1; signed = true; base = 2; } _bin;
    integer { size = 4; align = 1; signed = true; } _neg;
    integer { size = 8; align = 8; signed = false; encoding = UTF8; } _txt[4];
    u8 _n;
    integer { size = 8; align = 8; signed = false; encoding = UTF8; } _seqtxt[_n];
    struct { u8 a; string s; } _pts[_n];
    u8 _arr[2];
    struct { } _empty;
  }; };
event { name = "r:two"; id = 2; stream_id = 0; };
"#;

    fn rich_event(id: u8, ts: u16, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(body);
    }

    fn rich_stream(cpu: u8) -> Vec<u8> {
        let mut ev = Vec::new();
        for (i, tag) in [1u8, 0, 9, 5].into_iter().enumerate() {
            let mut b = vec![7 + i as u8]; // stream context
            b.extend_from_slice(b"c\"t\\x\0"); // event context
            b.push([0, 2, 200, 9][i]); // enum: two labels, one, none, one
            b.push(tag);
            match tag {
                0 => b.extend_from_slice(&513u16.to_le_bytes()),
                1 | 5 => b.extend_from_slice(b"v\xff\xfeq?\0"),
                _ => b.push(42),
            }
            b.extend_from_slice(&1.5f32.to_le_bytes());
            b.extend_from_slice(&(-1e-7f64 * i as f64).to_le_bytes());
            b.push(0xF0); // octal, signed
            b.push(0b1010_0101); // _bin = 0101, _neg = 1010 = -6
            b.extend_from_slice(b"ab\0z");
            b.push(2);
            b.extend_from_slice(b"\x07\x01");
            b.extend_from_slice(&[1, b'p', 0, 2, b'\n', 0]);
            b.extend_from_slice(&[3, 4]);
            rich_event(1, 100 * i as u16 + u16::from(cpu), &b, &mut ev);
            rich_event(2, 100 * i as u16 + 50, &[9], &mut ev);
        }
        let header = 4 + 1 + 4 + 4 + 1 + 1;
        let size = ((header + ev.len()) * 8) as u32;
        let mut d = Vec::new();
        d.extend_from_slice(&(PACKET_MAGIC as u32).to_le_bytes());
        d.push(0);
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.push(cpu);
        d.push(0xFE);
        d.extend_from_slice(&ev);
        d
    }

    #[test]
    fn text_items_match_items_on_every_kind_of_field() {
        let md = RICH_METADATA;
        let mut set = TraceSet::from_memory(
            md.as_bytes(),
            vec![("a".into(), rich_stream(0)), ("b".into(), rich_stream(1))],
        )
        .expect("metadata");
        // What babeltrace2 2.0.4 prints for events 0, 2, 4, 8 and 12 (after the times); it
        // writes the invalid UTF-8 bytes as they are (`<FF><FE>` here).
        let expected = [
            r#"rich r:one: { cpu_id = 0, pc = 0xFE }, { sc = 7 }, { ctx = "c\"t\\x" }, { e = ( "A", "B" : container = 0 ), t = ( "Y" : container = 1 ), v = { "v<FF><FE>q\?" }, f = 1.5, d = -0, o = 0760, bin = 0b0101, neg = -6, txt = "ab", n = 2, seqtxt = "\a\x01", pts = [ [0] = { a = 1, s = "p" }, [1] = { a = 2, s = "\n" } ], arr = [ [0] = 3, [1] = 4 ], empty = { } }"#,
            r#"rich r:two: { cpu_id = 0, pc = 0xFE }, { sc = 9 }"#,
            r#"rich r:one: { cpu_id = 0, pc = 0xFE }, { sc = 8 }, { ctx = "c\"t\\x" }, { e = ( "B" : container = 2 ), t = ( "X" : container = 0 ), v = { 513 }, f = 1.5, d = -1e-07, o = 0760, bin = 0b0101, neg = -6, txt = "ab", n = 2, seqtxt = "\a\x01", pts = [ [0] = { a = 1, s = "p" }, [1] = { a = 2, s = "\n" } ], arr = [ [0] = 3, [1] = 4 ], empty = { } }"#,
            r#"rich r:one: { cpu_id = 0, pc = 0xFE }, { sc = 9 }, { ctx = "c\"t\\x" }, { e = ( <unknown> : container = 200 ), t = ( "Z" : container = 9 ), v = { { x = 42 } }, f = 1.5, d = -2e-07, o = 0760, bin = 0b0101, neg = -6, txt = "ab", n = 2, seqtxt = "\a\x01", pts = [ [0] = { a = 1, s = "p" }, [1] = { a = 2, s = "\n" } ], arr = [ [0] = 3, [1] = 4 ], empty = { } }"#,
            r#"rich r:one: { cpu_id = 0, pc = 0xFE }, { sc = 10 }, { ctx = "c\"t\\x" }, { e = ( "C" : container = 9 ), t = ( "Y" : container = 5 ), v = { "v<FF><FE>q\?" }, f = 1.5, d = -3e-07, o = 0760, bin = 0b0101, neg = -6, txt = "ab", n = 2, seqtxt = "\a\x01", pts = [ [0] = { a = 1, s = "p" }, [1] = { a = 2, s = "\n" } ], arr = [ [0] = 3, [1] = 4 ], empty = { } }"#,
        ];
        let raw = |s: &str| match s.split_once("<FF><FE>") {
            Some((a, b)) => [a.as_bytes(), b"\xff\xfe", b.as_bytes()].concat(),
            None => s.as_bytes().to_vec(),
        };
        let mut texts = set.text_items();
        let mut bodies = Vec::new();
        while let Some(item) = texts.next_item() {
            let TextItem::Event(e) = item else {
                panic!("{item:?}")
            };
            bodies.push(e.body.to_vec());
        }
        assert_eq!(bodies.len(), 16);
        for (i, want) in [0, 2, 4, 8, 12].into_iter().zip(expected) {
            assert_eq!(
                String::from_utf8_lossy(&bodies[i]),
                String::from_utf8_lossy(&raw(want)),
                "event {i}"
            );
            assert_eq!(bodies[i], raw(want), "event {i}");
        }
        // Both ways agree on the whole stream, and on every truncation and corruption of it
        // (errors included).
        let s = rich_stream(3);
        fuzz_stream(md, &s);
        for len in 0..s.len() {
            fuzz_stream(md, &s[..len]);
        }
        for at in 0..s.len() {
            for x in [0x00, 0xFF, 0x80, 0x09] {
                let mut c = s.clone();
                c[at] ^= x;
                fuzz_stream(md, &c);
            }
        }
        fuzz_stream(BE_METADATA, &be_stream());
    }

    #[test]
    fn text_items_match_items_on_a_real_lttng_ust_trace() {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/lttng-ust-2.13"
        ));
        let (Ok(mut a), Ok(mut b)) = (TraceSet::open(dir), TraceSet::open(dir)) else {
            panic!("cannot open {}", dir.display())
        };
        let host = a.traces()[0].metadata.hostname().map(str::to_owned);
        let mut texts = b.text_items();
        let mut n = 0;
        for item in a.items() {
            let text = texts.next_item();
            assert_eq!(
                describe(&item, host.as_deref()),
                text.as_ref().map(describe_text)
            );
            n += 1;
        }
        assert!(texts.next_item().is_none());
        assert!(n > 10, "{n} items");
    }

    #[test]
    fn an_undefined_sequence_length_is_a_metadata_error() {
        let md = BE_METADATA.replace("_pts[_n]", "_pts[_missing]");
        let err = TraceSet::from_memory(md.as_bytes(), vec![]).err().unwrap();
        assert_eq!(
            err.to_string(),
            "invalid metadata: sequence \"_pts\": length field \"_missing\" not found before it"
        );
    }
}
