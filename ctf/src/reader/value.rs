//! Decoded values and events.

use std::path::Path;
use std::sync::Arc;

/// How an integer should be shown: its `base` (2, 8, 10 or 16) and its `size` in bits, both
/// from the metadata (babeltrace2 masks signed hexadecimal values to the size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntFormat {
    pub base: u8,
    pub size: u8,
}

impl IntFormat {
    /// Decimal, 64 bits.
    pub const DEC: IntFormat = IntFormat { base: 10, size: 64 };
}

/// Named values, in declaration order. The names are shared with the metadata (one
/// reference count per struct, not per field).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields {
    names: Arc<[Arc<str>]>,
    values: Vec<Value>,
}

impl Fields {
    pub(crate) fn new(names: Arc<[Arc<str>]>, values: Vec<Value>) -> Fields {
        Fields { names, values }
    }

    /// Builds fields from pairs (tests, tools).
    pub fn from_pairs<N: Into<Arc<str>>>(pairs: impl IntoIterator<Item = (N, Value)>) -> Fields {
        let (names, values): (Vec<Arc<str>>, Vec<Value>) =
            pairs.into_iter().map(|(n, v)| (n.into(), v)).unzip();
        Fields {
            names: names.into(),
            values,
        }
    }

    /// `(name, value)` pairs in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names.iter().map(|n| &**n).zip(&self.values)
    }

    /// The value of the first field with this name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// One decoded field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Signed(i64, IntFormat),
    Unsigned(u64, IntFormat),
    Float(f64),
    String(String),
    /// Fixed array or sequence.
    Array(Vec<Value>),
    Struct(Fields),
    /// An enumeration: the container value and the labels whose ranges contain it (usually
    /// one; none is legal).
    Enum {
        value: Box<Value>,
        labels: Vec<Arc<str>>,
    },
    /// A variant: the selected option's name and value.
    Variant {
        option: Arc<str>,
        value: Box<Value>,
    },
}

impl Value {
    /// The value as u64 if it is a non-negative integer or an enum of one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Unsigned(v, _) => Some(*v),
            Value::Signed(v, _) => u64::try_from(*v).ok(),
            Value::Enum { value, .. } => value.as_u64(),
            _ => None,
        }
    }

    /// The value as i64 if it is an integer (or enum) that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Unsigned(v, _) => i64::try_from(*v).ok(),
            Value::Signed(v, _) => Some(*v),
            Value::Enum { value, .. } => value.as_i64(),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A point in time of one stream: the raw clock value and ns since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub ns: i128,
    pub cycles: u64,
}

/// One decoded event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Nanoseconds since the Unix epoch (from the clock's freq and offsets).
    pub timestamp_ns: i128,
    /// The raw, full clock value (what `babeltrace2 --clock-cycles` prints).
    pub clock_value: u64,
    pub name: Arc<str>,
    /// The event class id.
    pub id: u64,
    /// Index of the trace in [`super::TraceSet::traces`].
    pub trace: usize,
    pub stream_path: Arc<Path>,
    /// `cpu_id` of the packet context, if any.
    pub cpu_id: Option<u32>,
    /// The packet context, shared by all events of a packet (names as in the metadata).
    pub packet_context: Arc<Fields>,
    /// The stream's `event.context` (one leading `_` stripped from names).
    pub stream_context: Fields,
    /// The event class's `context` (one leading `_` stripped from names).
    pub event_context: Fields,
    /// The payload (one leading `_` stripped from names).
    pub fields: Fields,
    /// Which of the four scopes the metadata declares (an empty but declared scope is
    /// printed as `{ }` by babeltrace2, an undeclared one not at all).
    pub declared: Scopes,
}

/// Which scopes of an event exist in the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    pub packet_context: bool,
    pub stream_context: bool,
    pub event_context: bool,
    pub fields: bool,
}

/// What a discarded-data report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscardedKind {
    /// `events_discarded` grew by this much between two packets.
    Events(u64),
    /// The first packet of the stream already had a non-zero `events_discarded`.
    MaybeEvents,
    /// `packet_seq_num` skipped this many packets.
    Packets(u64),
}

/// The tracer lost data in a stream, between `begin` and `end` (babeltrace2's "Tracer
/// discarded N events between ..." warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    pub kind: DiscardedKind,
    pub begin: Timestamp,
    pub end: Timestamp,
    pub trace: usize,
    pub stream_path: Arc<Path>,
    pub stream_class_id: u64,
    /// `stream_instance_id` when the packet header has one, else the file's index.
    pub stream_id: u64,
}
