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

/// Most callsites traced in one process (LTTng's limit on an application's
/// tracepoints is the same order: 65,536).
pub const CAPACITY: usize = 1 << 16;
/// Table slots: twice the capacity keeps probe sequences short.
const SLOTS: usize = CAPACITY * 2;

struct Table {
    keys: Box<[AtomicUsize]>,
    values: Box<[OnceLock<&'static Callsite>]>,
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
pub fn get(meta: &Metadata<'_>) -> Option<&'static Callsite> {
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
pub fn get_or_insert(meta: &'static Metadata<'static>) -> Option<&'static Callsite> {
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
    let names: Vec<&'static str> = meta.fields().iter().map(|f| f.name()).collect();
    let c: &'static Callsite = Box::leak(Box::new(Callsite::new(Site::of(meta, names))));
    let _ = t.values[i].set(c);
    t.keys[i].store(key, Ordering::Release);
    *len += 1;
    Some(c)
}
