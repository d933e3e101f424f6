//! Tracepoints: their static description, their enabled flag, and the registry that
//! collects them at link time (no registration call in `main`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use proto::event::{EventDesc, FieldDesc, LogLevel};

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
#[derive(Debug)]
pub struct Tracepoint {
    enabled: AtomicBool,
    id: AtomicU32,
    desc: &'static EventDescStatic,
}

impl Tracepoint {
    #[doc(hidden)]
    pub const fn new(desc: &'static EventDescStatic) -> Tracepoint {
        Tracepoint {
            enabled: AtomicBool::new(false),
            id: AtomicU32::new(0),
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

    #[inline(always)]
    pub(crate) fn id(&self) -> u32 {
        self.id.load(Ordering::Relaxed)
    }

    /// Assigns the event id, then enables or disables recording. The id is stored first
    /// so that a thread seeing `enabled` also sees the id.
    pub(crate) fn set(&self, id: u32, enabled: bool) {
        self.id.store(id, Ordering::Relaxed);
        self.enabled.store(enabled, Ordering::Release);
    }
}

/// Every tracepoint linked into the program, collected by the linker.
// linkme places the slice in a link section, which the `unsafe_code` lint flags; it
// involves no unsafe operation of ours.
#[allow(unsafe_code)]
#[linkme::distributed_slice]
pub static TRACEPOINTS: [&'static Tracepoint];

/// The registered tracepoints, deduplicated and sorted by name (the order gives the
/// event ids in standalone mode).
pub fn registered() -> Vec<&'static Tracepoint> {
    let mut all: Vec<&'static Tracepoint> = TRACEPOINTS.iter().copied().collect();
    all.sort_by(|a, b| (a.desc.provider, a.desc.name).cmp(&(b.desc.provider, b.desc.name)));
    all.dedup_by(|a, b| std::ptr::eq(*a, *b));
    all
}

/// Matches `name` against an LTTng-style glob: `*` matches any run of characters,
/// `\*` a literal star.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    // Tokens: None is a star, Some(c) a literal character.
    let mut p: Vec<Option<char>> = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                p.push(Some('*'));
            }
            '*' => p.push(None),
            c => p.push(Some(c)),
        }
    }
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher that backtracks to the last star: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(None) => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(Some(c)) if *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(Option::is_none)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_like_lttng() {
        assert!(glob_match("*", "a:b"));
        assert!(glob_match("myapp:*", "myapp:request"));
        assert!(!glob_match("myapp:*", "other:request"));
        assert!(glob_match("my*:re*st", "myapp:request"));
        assert!(glob_match("a:b", "a:b"));
        assert!(!glob_match("a:b", "a:bc"));
        assert!(glob_match(r"a:\*", "a:*"));
        assert!(!glob_match(r"a:\*", "a:x"));
    }
}
