//! Records the `tracing` events of a program into libust's ring buffers, as LTTng
//! events: in daemon mode (`lttng create`, `enable-event -u`, `start`) and in
//! standalone mode (`LIBUST_TRACE_DIR`), like every libust tracepoint.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! tracing_subscriber::registry().with(tracing_lttng::layer()).init();
//! tracing::info!(bytes = 512u64, peer = "10.0.0.7", "accepted");
//! ```
//!
//! With tracing-subscriber's `tracing-log` feature, `init()` also routes the `log`
//! crate's records here.
//!
//! Each callsite becomes an event class named after its target and its own name, at
//! its level (the mapping is in [`names`]); its fields keep their types: integers as
//! 64-bit integers, floats as doubles, booleans, strings, and `Debug`/`Display` values
//! as strings, the message as the field `message`. The callsite's file and line are
//! the class's `model.emf.uri`, written once in the metadata, not per event. A class
//! is registered at the callsite's first record, when its types are known (see
//! [`class`]): `lttng list -u` shows a callsite once it has fired.
//!
//! The layer filters for itself only (a per-layer filter): other layers of the same
//! subscriber, such as `tracing_subscriber::fmt`, see every event as before.
#![deny(unsafe_code)]

pub mod callsites;
pub mod class;
pub mod names;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use tracing_core::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Filter, Layer};

use class::{Callsite, Site, Values};
use tracing_log::NormalizeEvent;

/// The layer, with its filter: `registry().with(tracing_lttng::layer())`.
pub fn layer<S>() -> Filtered<LttngLayer, LttngFilter, S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    LttngLayer { _private: () }.with_filter(LttngFilter { _private: () })
}

/// Records events (see the crate docs); build it with [`layer`].
#[derive(Debug)]
pub struct LttngLayer {
    _private: (),
}

/// Lets through the callsites a session may want: those not registered yet and those
/// with an enabled class.
#[derive(Debug)]
pub struct LttngFilter {
    _private: (),
}

thread_local! {
    /// Each thread's record buffers: the values and the encoded payload.
    static BUFFERS: RefCell<(Values, Vec<u8>)> = RefCell::new((Values::new(), Vec::new()));
}

impl<S: Subscriber> Filter<S> for LttngFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        if !meta.is_event() {
            return false;
        }
        match find(meta) {
            Some(c) => c.wanted(),
            None => true,
        }
    }
}

/// The callsite state of `meta` (the same metadata, by address, as the `'static`
/// one events carry), if it fired before.
fn find(meta: &Metadata<'_>) -> Option<&'static class::Callsite> {
    callsites::get(meta)
}

impl<S: Subscriber> Layer<S> for LttngLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let callsite = if event.is_log() {
            log_callsite(event)
        } else {
            callsites::get_or_insert(meta)
        };
        let Some(callsite) = callsite else {
            return;
        };
        let recorded = BUFFERS.try_with(|b| {
            // An event recorded while formatting another one's value (a Debug impl
            // that logs) gets buffers of its own.
            match b.try_borrow_mut() {
                Ok(mut b) => {
                    let (values, payload) = &mut *b;
                    values.clear();
                    event.record(values);
                    callsite.record(values, payload);
                }
                Err(_) => {
                    let mut values = Values::new();
                    event.record(&mut values);
                    callsite.record(&values, &mut Vec::new());
                }
            }
        });
        let _ = recorded;
    }
}

/// A `log` record's own callsite: by its target, file, line and level, each named
/// as a tracing event at that place would be, with the message as its one field.
fn log_callsite(event: &Event<'_>) -> Option<&'static Callsite> {
    type Key = (String, Option<String>, Option<u32>, tracing_core::Level);
    static LOG_SITES: Mutex<Option<HashMap<Key, &'static Callsite>>> = Mutex::new(None);
    let meta = event.normalized_metadata()?;
    let key: Key = (
        meta.target().to_string(),
        meta.file().map(str::to_string),
        meta.line(),
        *meta.level(),
    );
    let mut sites = LOG_SITES.lock().unwrap_or_else(|e| e.into_inner());
    let sites = sites.get_or_insert_with(HashMap::new);
    if let Some(c) = sites.get(&key) {
        return Some(*c);
    }
    if sites.len() >= callsites::CAPACITY {
        return None;
    }
    // tracing-log records the message first, then the log.* fields.
    let c: &'static Callsite = Box::leak(Box::new(Callsite::new(Site::of(&meta, vec!["message"]))));
    sites.insert(key, c);
    Some(c)
}
