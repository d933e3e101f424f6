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
//! A span callsite `NAME` gives six event classes, `NAME_new` { span_id, parent_id,
//! its fields }, `NAME_enter`, `NAME_exit`, `NAME_close` { span_id }, `NAME_record`
//! and `NAME_follows_from` (see [`callsites::SpanSites`]); `span_id` is the
//! subscriber's span id, which it reuses once a span is closed.
//!
//! The layer filters for itself only (a per-layer filter): other layers of the same
//! subscriber, such as `tracing_subscriber::fmt`, see every event as before.
#![deny(unsafe_code)]

pub mod callsites;
pub mod class;
pub mod names;

use std::collections::HashMap;
use std::sync::Mutex;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Interest, Metadata, Subscriber};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use callsites::{Entry, SpanSites};
use class::{Callsite, Site};
use tracing_log::NormalizeEvent;

/// The layer, with its filter: `registry().with(tracing_lttng::layer())`. Each
/// change of what the sessions enable rebuilds tracing's callsite interest cache.
pub fn layer<S>() -> Filtered<LttngLayer, LttngFilter, S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    // tracing caches each callsite's interest: have it ask again whenever a session
    // changes what is enabled.
    static WATCH: std::sync::Once = std::sync::Once::new();
    WATCH.call_once(|| libust::on_enabled_change(tracing_core::callsite::rebuild_interest_cache));
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

impl<S: Subscriber> Filter<S> for LttngFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        match callsites::get(meta) {
            Some(entry) => entry.wanted(),
            // Not fired yet: its first record (or span) registers its class.
            None => true,
        }
    }

    /// Cached by tracing until the next enable change (see [`layer`]): `never` for a
    /// callsite whose classes no session enables, so that it costs what a callsite
    /// without any subscriber costs; `sometimes` for one that has not fired yet.
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        match callsites::get(meta) {
            Some(entry) if entry.wanted() => Interest::always(),
            Some(_) => Interest::never(),
            None => Interest::sometimes(),
        }
    }
}

/// The span callsites of `id`'s span.
fn span_sites<S>(id: &Id, ctx: &Context<'_, S>) -> Option<&'static SpanSites>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    match callsites::get(ctx.metadata(id)?)? {
        Entry::Span(s) => Some(s),
        Entry::Event(_) | Entry::Log => None,
    }
}

impl<S> Layer<S> for LttngLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let callsite = match callsites::get_or_insert(event.metadata(), || event.is_log()) {
            Some(Entry::Event(c)) => c,
            Some(Entry::Log) => match log_callsite(event) {
                Some(c) => c,
                None => return,
            },
            _ => return,
        };
        callsite.record(&[], |v| event.record(v));
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(Entry::Span(sites)) = callsites::get_or_insert(attrs.metadata(), || false) else {
            return;
        };
        let parent = if attrs.is_root() {
            None
        } else if attrs.is_contextual() {
            ctx.current_span().id().cloned()
        } else {
            attrs.parent().cloned()
        };
        let parent = parent.map_or(0, |p| p.into_u64());
        sites
            .new
            .record(&[id.into_u64(), parent], |v| attrs.record(v));
    }

    fn on_record(&self, id: &Id, record: &Record<'_>, ctx: Context<'_, S>) {
        let Some(sites) = span_sites(id, &ctx) else {
            return;
        };
        sites.record.record(&[id.into_u64()], |v| record.record(v));
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(sites) = span_sites(id, &ctx) else {
            return;
        };
        sites
            .follows
            .record(&[id.into_u64(), follows.into_u64()], |_| {});
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(sites) = span_sites(id, &ctx) {
            sites.enter.record(&[id.into_u64()], |_| {});
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(sites) = span_sites(id, &ctx) {
            sites.exit.record(&[id.into_u64()], |_| {});
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(sites) = span_sites(&id, &ctx) {
            sites.close.record(&[id.into_u64()], |_| {});
        }
    }
}

/// Has tracing's interest cache rebuilt soon, from a thread of this crate: a class
/// registered disabled makes its callsite `never`. At most one rebuild per 50 ms
/// whatever the number of callsites registering (a rebuild asks every callsite).
pub(crate) fn rebuild_soon() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;
    static PENDING: AtomicBool = AtomicBool::new(false);
    static WORKER: OnceLock<Option<std::thread::Thread>> = OnceLock::new();
    if PENDING.swap(true, Ordering::AcqRel) {
        return; // one is on its way
    }
    let worker = WORKER.get_or_init(|| {
        std::thread::Builder::new()
            .name("tracing-lttng".into())
            .spawn(|| loop {
                std::thread::park();
                std::thread::sleep(std::time::Duration::from_millis(50));
                if PENDING.swap(false, Ordering::AcqRel) {
                    tracing_core::callsite::rebuild_interest_cache();
                }
            })
            .ok()
            .map(|h| h.thread().clone())
    });
    match worker {
        Some(t) => t.unpark(),
        // No thread: the callsite stays `sometimes` (correct, a little slower).
        None => PENDING.store(false, Ordering::Release),
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
