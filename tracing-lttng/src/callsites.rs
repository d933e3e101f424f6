//! Per-callsite state, found from the callsite's `&'static Metadata` without a lock.
//!
//! A fixed open-addressing table keyed by the metadata's address: entries are only
//! added (a callsite lives as long as the program), under one mutex, and read with
//! two atomic loads. [`CAPACITY`] callsites at most; beyond that a callsite is not
//! traced (said once on stderr).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing_core::Metadata;

use crate::class::{Callsite, Site};
use crate::names;

/// What a tracing callsite records: an event's one family of classes, or a span's
/// six (its creation, entering, leaving, closing, later `record`s, `follows_from`).
// One per callsite, leaked once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    Event(Callsite),
    Span(Box<SpanSites>),
    /// One of tracing-log's callsites (one per level), which every `log` record of
    /// that level comes through: each record finds its own callsite by its target,
    /// file and line.
    Log,
}

/// A span callsite's events: `NAME_new` { span_id, parent_id, its fields },
/// `NAME_enter`, `NAME_exit`, `NAME_close` { span_id }, `NAME_record` { span_id, the
/// fields recorded }, `NAME_follows_from` { span_id, follows_id }. A parent_id of 0
/// is a root span.
pub struct SpanSites {
    pub new: Callsite,
    pub enter: Callsite,
    pub exit: Callsite,
    pub close: Callsite,
    pub record: Callsite,
    pub follows: Callsite,
}

impl Entry {
    fn of(meta: &'static Metadata<'static>, is_log: bool) -> Entry {
        if is_log {
            return Entry::Log;
        }
        let own: Vec<&'static str> = meta.fields().iter().map(|f| f.name()).collect();
        if !meta.is_span() {
            return Entry::Event(Callsite::new(Site::of(meta, own)));
        }
        let site = |suffix: &str, lead: &[&'static str], with_own: bool| {
            let mut fields = lead.to_vec();
            if with_own {
                fields.extend_from_slice(&own);
            }
            let mut s = Site::of(meta, fields);
            s.name = names::with_suffix(&s.name, Some(suffix));
            Callsite::new(s)
        };
        Entry::Span(Box::new(SpanSites {
            new: site("new", &["span_id", "parent_id"], true),
            enter: site("enter", &["span_id"], false),
            exit: site("exit", &["span_id"], false),
            close: site("close", &["span_id"], false),
            record: site("record", &["span_id"], true),
            follows: site("follows_from", &["span_id", "follows_id"], false),
        }))
    }

    /// Whether a record of this callsite may be wanted (see [`Callsite::wanted`]).
    pub fn wanted(&self) -> bool {
        match self {
            Entry::Event(c) => c.wanted(),
            Entry::Log => true,
            Entry::Span(s) => [&s.new, &s.enter, &s.exit, &s.close, &s.record, &s.follows]
                .iter()
                .any(|c| c.wanted()),
        }
    }
}

/// Most callsites traced in one process (LTTng's limit on an application's
/// tracepoints is the same order: 65,536).
pub const CAPACITY: usize = 1 << 16;
/// Table slots: twice the capacity keeps probe sequences short.
const SLOTS: usize = CAPACITY * 2;

struct Table {
    keys: Box<[AtomicUsize]>,
    values: Box<[OnceLock<&'static Entry>]>,
    len: Mutex<usize>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        keys: (0..SLOTS).map(|_| AtomicUsize::new(0)).collect(),
        values: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        len: Mutex::new(0),
    })
}

fn key(meta: &Metadata<'_>) -> usize {
    meta as *const Metadata<'_> as usize
}

fn start(key: usize) -> usize {
    // Fibonacci hashing of the address (its low bits are alignment).
    let h = ((key as u64) >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> (64 - SLOTS.trailing_zeros())) as usize & (SLOTS - 1)
}

/// The state of `meta`'s callsite, if it has one yet.
#[inline]
pub fn get(meta: &Metadata<'_>) -> Option<&'static Entry> {
    let key = key(meta);
    let t = table();
    let mut i = start(key);
    loop {
        match t.keys[i].load(Ordering::Acquire) {
            0 => return None,
            // The value was set before the key was published.
            k if k == key => return t.values[i].get().copied(),
            _ => i = (i + 1) & (SLOTS - 1),
        }
    }
}

/// The state of `meta`'s callsite, created on first use; None when the table is full.
/// `is_log` tells, when it is created, whether it is one of tracing-log's.
pub fn get_or_insert(
    meta: &'static Metadata<'static>,
    is_log: impl FnOnce() -> bool,
) -> Option<&'static Entry> {
    if let Some(c) = get(meta) {
        return Some(c);
    }
    let t = table();
    let mut len = t.len.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = get(meta) {
        return Some(c);
    }
    if *len >= CAPACITY {
        static SAID: AtomicBool = AtomicBool::new(false);
        if !SAID.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracing-lttng: more than {CAPACITY} callsites: {} and later ones are not traced",
                meta.name()
            );
        }
        return None;
    }
    let key = key(meta);
    let mut i = start(key);
    while t.keys[i].load(Ordering::Relaxed) != 0 {
        i = (i + 1) & (SLOTS - 1);
    }
    let c: &'static Entry = Box::leak(Box::new(Entry::of(meta, is_log())));
    let _ = t.values[i].set(c);
    t.keys[i].store(key, Ordering::Release);
    *len += 1;
    Some(c)
}
