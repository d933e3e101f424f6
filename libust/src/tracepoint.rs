//! Tracepoints: their static description, their enabled flag, and the registry that
//! collects them at link time (no registration call in `main`).

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

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

/// One tracepoint: declared with [`crate::tracepoint!`], fired with [`crate::trace!`].
///
/// `enabled` is the only thing a disabled tracepoint reads; `bindings` is the list of
/// channels (with their event ids) its events go to, null when there is none. Both are
/// written by `crate::fastpath::bind`, which explains how lists are replaced.
#[derive(Debug)]
pub struct Tracepoint {
    pub(crate) enabled: AtomicBool,
    pub(crate) bindings: AtomicPtr<Bindings>,
    desc: &'static EventDescStatic,
}

impl Tracepoint {
    #[doc(hidden)]
    pub const fn new(desc: &'static EventDescStatic) -> Tracepoint {
        Tracepoint {
            enabled: AtomicBool::new(false),
            bindings: AtomicPtr::new(std::ptr::null_mut()),
            desc,
        }
    }

    /// The whole cost of a disabled tracepoint: one relaxed load.
    #[inline(always)]
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Its description.
    pub fn desc(&self) -> &'static EventDescStatic {
        self.desc
    }

    /// `provider:name`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.desc.provider, self.desc.name)
    }
}

/// Every tracepoint linked into the program, collected by the linker.
// linkme places the slice in a link section, which the `unsafe_code` lint flags; it
// involves no unsafe operation of ours.
#[allow(unsafe_code)]
#[linkme::distributed_slice]
pub static TRACEPOINTS: [&'static Tracepoint];

/// The registered tracepoints, deduplicated and sorted by name (the order gives the
/// event ids in standalone mode, and the tracepoint indexes a session daemon uses).
pub fn registered() -> Vec<&'static Tracepoint> {
    let mut all: Vec<&'static Tracepoint> = TRACEPOINTS.iter().copied().collect();
    all.sort_by(|a, b| (a.desc.provider, a.desc.name).cmp(&(b.desc.provider, b.desc.name)));
    all.dedup_by(|a, b| std::ptr::eq(*a, *b));
    all
}

pub use proto::event::glob_match;
