//! Tracepoints: their description, their enabled flag, and the registry that holds
//! them: the Rust ones collected at link time (no registration call in `main`), and
//! those registered while the program runs (C and C++ providers, through
//! [`register_dynamic`]).
//!
//! A tracepoint keeps its place in the registry for the life of the process: the
//! index a session daemon uses for it never changes, and a provider that is unloaded
//! and loaded again gets its old tracepoints back (same name, same description).
//!
//! # Safety
//!
//! The `unsafe` blocks dereference pointers of two push-only lists: run-time
//! tracepoints and call-site mirror nodes, both leaked (never freed) once published;
//! and the call-site state words a mirror names, valid until
//! [`Tracepoint::remove_mirror`] nulls the pointer (the caller of
//! [`Tracepoint::add_mirror`] promises that). Only atomic loads and stores walk the
//! lists, so a `fork` child handler may.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard};

use proto::event::{EventDesc, FieldDesc, LogLevel};

use crate::fastpath::Bindings;
use crate::field::FieldTypeStatic;

/// A field of a tracepoint, as declared.
#[derive(Debug)]
pub struct FieldDescStatic {
    pub name: &'static str,
    pub ty: FieldTypeStatic,
}

/// A tracepoint's description, as declared.
#[derive(Debug)]
pub struct EventDescStatic {
    pub provider: &'static str,
    pub name: &'static str,
    pub loglevel: LogLevel,
    pub fields: &'static [FieldDescStatic],
}

impl EventDescStatic {
    /// The owned description used for metadata and registration.
    pub fn to_desc(&self) -> EventDesc {
        EventDesc {
            provider: self.provider.to_string(),
            name: self.name.to_string(),
            loglevel: self.loglevel,
            model_emf_uri: None,
            fields: self
                .fields
                .iter()
                .map(|f| FieldDesc {
                    name: f.name.to_string(),
                    ty: f.ty.to_owned_type(),
                })
                .collect(),
        }
    }
}

#[derive(Debug)]
enum Described {
    /// Declared with [`crate::tracepoint!`].
    Static(&'static EventDescStatic),
    /// Registered at run time (already validated).
    Dynamic(EventDesc),
}

/// One tracepoint: declared with [`crate::tracepoint!`] and fired with
/// [`crate::trace!`], or registered by a C provider.
///
/// `enabled` is the only thing a disabled tracepoint reads; `bindings` is the list of
/// channels (with their event ids) its events go to, null when there is none. Both are
/// written by `crate::fastpath::bind`, which explains how lists are replaced. A C
/// tracepoint's call sites each read a state word of their own: `mirrors` lists them,
/// and every change of `enabled` is copied to them.
#[derive(Debug)]
pub struct Tracepoint {
    pub(crate) enabled: AtomicBool,
    pub(crate) bindings: AtomicPtr<Bindings>,
    desc: Described,
    /// Call-site state words that follow `enabled` (a push-only list).
    mirrors: AtomicPtr<Mirror>,
    /// The next run-time tracepoint (a push-only list, for [`for_each`]).
    next: AtomicPtr<Tracepoint>,
}

/// A call site's state word, or null once its module is gone.
#[derive(Debug)]
struct Mirror {
    state: AtomicPtr<AtomicI32>,
    next: AtomicPtr<Mirror>,
}

impl Tracepoint {
    #[doc(hidden)]
    pub const fn new(desc: &'static EventDescStatic) -> Tracepoint {
        Tracepoint {
            enabled: AtomicBool::new(false),
            bindings: AtomicPtr::new(std::ptr::null_mut()),
            desc: Described::Static(desc),
            mirrors: AtomicPtr::new(std::ptr::null_mut()),
            next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The whole cost of a disabled tracepoint: one relaxed load.
    #[inline(always)]
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Sets the flag and every call-site state word that follows it. Only atomic
    /// loads and stores: safe in a `fork` child handler.
    pub(crate) fn set_enabled(&self, on: bool, order: Ordering) -> bool {
        let was = self.enabled.swap(on, order);
        let mut m = self.mirrors.load(Ordering::Acquire);
        while !m.is_null() {
            // SAFETY: mirror nodes come from Box::into_raw in `add_mirror` and are
            // never freed.
            let node = unsafe { &*m };
            let state = node.state.load(Ordering::Acquire);
            if !state.is_null() {
                // SAFETY: a non-null state pointer is a live call site's word: it is
                // nulled (under the registry lock) before its module goes away.
                unsafe { &*state }.store(i32::from(on), order);
            }
            m = node.next.load(Ordering::Acquire);
        }
        was
    }

    /// Makes the state word `state` follow this tracepoint's flag from now on.
    ///
    /// # Safety
    ///
    /// `state` must stay valid until [`Tracepoint::remove_mirror`] is called for it.
    pub unsafe fn add_mirror(&self, state: *const AtomicI32) {
        let node = Box::into_raw(Box::new(Mirror {
            state: AtomicPtr::new(state.cast_mut()),
            next: AtomicPtr::new(self.mirrors.load(Ordering::Acquire)),
        }));
        // Published under the registry lock: no other pusher.
        self.mirrors.store(node, Ordering::Release);
        // SAFETY: the caller guarantees `state` is valid.
        unsafe { &*state }.store(i32::from(self.is_enabled()), Ordering::Release);
    }

    /// Stops following `state` (its module is about to go); the node stays, empty.
    pub fn remove_mirror(&self, state: *const AtomicI32) {
        let mut m = self.mirrors.load(Ordering::Acquire);
        while !m.is_null() {
            // SAFETY: as in `set_enabled`.
            let node = unsafe { &*m };
            let _ = node.state.compare_exchange(
                state.cast_mut(),
                std::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            m = node.next.load(Ordering::Acquire);
        }
    }

    /// Its description, as sent to a session daemon and written in the metadata.
    pub fn to_desc(&self) -> EventDesc {
        match &self.desc {
            Described::Static(d) => d.to_desc(),
            Described::Dynamic(d) => d.clone(),
        }
    }

    /// The provider name.
    pub fn provider(&self) -> &str {
        match &self.desc {
            Described::Static(d) => d.provider,
            Described::Dynamic(d) => &d.provider,
        }
    }

    /// The event name (without the provider).
    pub fn name(&self) -> &str {
        match &self.desc {
            Described::Static(d) => d.name,
            Described::Dynamic(d) => &d.name,
        }
    }

    /// `provider:name`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.provider(), self.name())
    }
}

/// Every tracepoint linked into the program, collected by the linker.
// linkme places the slice in a link section, which the `unsafe_code` lint flags; it
// involves no unsafe operation of ours.
#[allow(unsafe_code)]
#[linkme::distributed_slice]
pub static TRACEPOINTS: [&'static Tracepoint];

/// Head of the run-time tracepoints' list (newest first).
static DYNAMIC_HEAD: AtomicPtr<Tracepoint> = AtomicPtr::new(std::ptr::null_mut());

/// Calls `f` on every tracepoint, link-time and run-time. Only atomic loads: safe in
/// a `fork` child handler.
pub(crate) fn for_each(mut f: impl FnMut(&'static Tracepoint)) {
    for tp in TRACEPOINTS.iter() {
        f(tp);
    }
    let mut p = DYNAMIC_HEAD.load(Ordering::Acquire);
    while !p.is_null() {
        // SAFETY: list entries are leaked tracepoints, never freed.
        let tp: &'static Tracepoint = unsafe { &*p };
        f(tp);
        p = tp.next.load(Ordering::Acquire);
    }
}

/// What learns of tracepoints registered after it started: standalone mode or the
/// daemon connection, called with the registry locked and the new tracepoints.
pub(crate) type Watcher = fn(&[&'static Tracepoint]);

#[derive(Default)]
struct Registry {
    /// Run-time tracepoints in registration order.
    dynamic: Vec<&'static Tracepoint>,
    by_name: HashMap<(String, String), &'static Tracepoint>,
    watcher: Option<Watcher>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The link-time tracepoints, deduplicated and sorted by name.
fn linked() -> Vec<&'static Tracepoint> {
    let mut all: Vec<&'static Tracepoint> = TRACEPOINTS.iter().copied().collect();
    all.sort_by(|a, b| (a.provider(), a.name()).cmp(&(b.provider(), b.name())));
    all.dedup_by(|a, b| std::ptr::eq(*a, *b));
    all
}

/// The registered tracepoints: the link-time ones sorted by name, then the run-time
/// ones in registration order. The position is the tracepoint index a session daemon
/// uses (and, in standalone mode, the order of event ids).
pub fn registered() -> Vec<&'static Tracepoint> {
    let reg = lock();
    let mut all = linked();
    if let Some(r) = reg.as_ref() {
        all.extend_from_slice(&r.dynamic);
    }
    all
}

/// [`registered`], and from now on `watcher` is told of every tracepoint registered
/// later, with nothing lost in between.
pub(crate) fn registered_and_watch(watcher: Watcher) -> Vec<&'static Tracepoint> {
    let mut reg = lock();
    let r = reg.get_or_insert_with(Registry::default);
    r.watcher = Some(watcher);
    let mut all = linked();
    all.extend_from_slice(&r.dynamic);
    all
}

/// Why a run-time tracepoint was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("{0}")]
    Invalid(#[from] proto::event::DescError),
    #[error("tracepoint {0} is already registered with another description")]
    Conflict(String),
    #[error("tracepoint {0} is also declared in Rust")]
    Linked(String),
    #[error("too many tracepoints (at most {max})", max = proto::wire::app::MAX_TRACEPOINTS)]
    TooMany,
}

/// Registers tracepoints at run time (all or none), each checked with
/// [`EventDesc::validate`]. A description already registered with the same text gives
/// back the same tracepoint. Returns them in the order of `descs`.
pub fn register_dynamic(descs: Vec<EventDesc>) -> Result<Vec<&'static Tracepoint>, RegisterError> {
    let mut reg = lock();
    let r = reg.get_or_insert_with(Registry::default);
    let linked = linked();
    let mut out = Vec::with_capacity(descs.len());
    let mut fresh: Vec<EventDesc> = Vec::new();
    for d in &descs {
        d.validate()?;
        if linked
            .iter()
            .any(|tp| tp.provider() == d.provider && tp.name() == d.name)
        {
            return Err(RegisterError::Linked(d.full_name()));
        }
        match r.by_name.get(&(d.provider.clone(), d.name.clone())) {
            Some(tp) if tp.to_desc() == *d => {}
            Some(_) => return Err(RegisterError::Conflict(d.full_name())),
            None => {
                if fresh
                    .iter()
                    .any(|f| f.provider == d.provider && f.name == d.name)
                {
                    return Err(RegisterError::Conflict(d.full_name()));
                }
                fresh.push(d.clone());
            }
        }
    }
    if linked.len() + r.dynamic.len() + fresh.len() > proto::wire::app::MAX_TRACEPOINTS as usize {
        return Err(RegisterError::TooMany);
    }
    let mut new = Vec::with_capacity(fresh.len());
    for d in fresh {
        let key = (d.provider.clone(), d.name.clone());
        let tp: &'static Tracepoint = Box::leak(Box::new(Tracepoint {
            enabled: AtomicBool::new(false),
            bindings: AtomicPtr::new(std::ptr::null_mut()),
            desc: Described::Dynamic(d),
            mirrors: AtomicPtr::new(std::ptr::null_mut()),
            next: AtomicPtr::new(DYNAMIC_HEAD.load(Ordering::Acquire)),
        }));
        DYNAMIC_HEAD.store((tp as *const Tracepoint).cast_mut(), Ordering::Release);
        r.dynamic.push(tp);
        r.by_name.insert(key, tp);
        new.push(tp);
    }
    for d in &descs {
        out.push(r.by_name[&(d.provider.clone(), d.name.clone())]);
    }
    if !new.is_empty() {
        if let Some(w) = r.watcher {
            w(&new);
        }
    }
    drop(reg);
    if !new.is_empty() {
        crate::daemon::announce_late();
    }
    Ok(out)
}

static ENABLE_LISTENERS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Calls `f` after each change of which tracepoints are enabled (a session enabled or
/// disabled events, started or stopped, the daemon went away), from the thread that
/// made the change, outside libust's locks. For layers that cache what is enabled,
/// such as `tracing`'s callsite interest; `f` must not wait on a tracepoint's
/// registration.
pub fn on_enabled_change(f: fn()) {
    listeners().push(f);
}

fn listeners() -> std::sync::MutexGuard<'static, Vec<fn()>> {
    ENABLE_LISTENERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tells the listeners of [`on_enabled_change`] (not from a `fork` child handler).
pub(crate) fn enabled_changed() {
    let fs: Vec<fn()> = listeners().clone();
    for f in fs {
        f();
    }
}

/// The run-time tracepoint `provider:name`, if registered.
pub fn find_dynamic(provider: &str, name: &str) -> Option<&'static Tracepoint> {
    let reg = lock();
    reg.as_ref()?
        .by_name
        .get(&(provider.to_string(), name.to_string()))
        .copied()
}

pub use proto::event::glob_match;
