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
//! - `decode`: bit-level decoding of a packet along a plan.
//! - `stream`: one stream file, read lazily packet by packet; reports corrupt packets
//!   ([`ReadError`]) and discarded events/packets ([`Discarded`]).
//! - this module: [`TraceSet`] finds the traces under a path (like `babeltrace2 DIR`) and
//!   merges all their streams by time ([`TraceSet::items`]).
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
use stream::{Source, StreamCursor};

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

/// Decodes arbitrary stream bytes with the given metadata to the end (fuzzing entry point).
#[doc(hidden)]
pub fn fuzz_stream(metadata: &str, stream: &[u8]) {
    if let Ok(mut set) =
        TraceSet::from_memory(metadata.as_bytes(), vec![("fuzz".into(), stream.to_vec())])
    {
        for item in set.items() {
            drop(item);
        }
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
