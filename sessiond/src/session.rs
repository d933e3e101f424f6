//! Sessions, channels, event rules, and the traces their buffers belong to.
//!
//! A session owns channels; a channel owns event rules and contexts. When the session
//! starts, its buffers come into being as *traces*: one per user (the default,
//! `ust/uid/<uid>/64-bit`) or one per application process (`--buffers-pid`,
//! `ust/pid/<procname>-<pid>-<datetime>`). A trace holds one set of per-CPU buffers per
//! channel and the event classes registered into it; their ids are assigned here, so
//! that every application sharing the buffers writes the same ids, and the metadata is
//! generated here from descriptions that were validated when the application
//! registered them.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::consumer::Consumer;
use ctf::metadata::{
    self, ClockDesc, EnvValue, EventClass, EventHeader, MetadataError, StreamDesc, TraceDesc,
};
use proto::clock::{self, Sample, Source};
use proto::event::{glob_match, Contexts, EventDesc};
use proto::ring::layout::StreamIdentity;
use proto::ring::{BufferConfig, Mode};
use proto::wire::control::{Buffers, ContextKind, EventRule};

/// Most channels per session.
pub const MAX_CHANNELS: usize = 64;
/// Most event rules per channel.
pub const MAX_RULES: usize = 1024;
/// Most event classes per trace (ids must leave the extended-header tag free).
pub const MAX_EVENT_CLASSES: usize = 65_000;

/// One tracing session.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub name: String,
    pub output: PathBuf,
    pub snapshot: bool,
    pub active: bool,
    /// Set by the first `start`; channels and contexts are fixed from then on.
    pub started: bool,
    pub buffers: Buffers,
    pub channels: Vec<Channel>,
    pub traces: Vec<Trace>,
    pub snapshots_taken: u32,
    /// The session's consumer, sandboxed to its output directory.
    pub consumer: Consumer,
    /// The kernel side, once kernel events are enabled.
    pub kernel: Option<crate::kernel::KernelSide>,
    /// Per-CPU kernel buffer to ask privd for (`enable-channel -k`).
    pub kernel_buffer_kb: u32,
}

/// One channel of a session.
#[derive(Debug)]
pub struct Channel {
    pub name: String,
    pub config: BufferConfig,
    pub switch_timer_us: u64,
    /// How long writers wait for room before dropping (0 in overwrite mode).
    pub blocking_timeout_us: u64,
    pub contexts: Contexts,
    pub rules: Vec<(EventRule, bool)>,
}

impl Channel {
    /// Whether some enabled rule of this channel selects `desc`.
    pub fn selects(&self, desc: &EventDesc) -> bool {
        let name = desc.full_name();
        self.rules
            .iter()
            .any(|(r, enabled)| *enabled && rule_matches(r, &name, desc))
    }

    pub fn context_kinds(&self) -> Vec<ContextKind> {
        let c = self.contexts;
        [
            (c.vpid, ContextKind::Vpid),
            (c.vtid, ContextKind::Vtid),
            (c.procname, ContextKind::Procname),
        ]
        .into_iter()
        .filter_map(|(on, k)| on.then_some(k))
        .collect()
    }
}

/// Whether `rule` selects the event `name` (`provider:event`) described by `desc`.
pub fn rule_matches(rule: &EventRule, name: &str, desc: &EventDesc) -> bool {
    glob_match(&rule.pattern, name)
        && rule.loglevel.is_none_or(|f| f.accepts(desc.loglevel))
        && !rule.exclude.iter().any(|x| glob_match(x, name))
}

/// Who writes into a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceOwner {
    /// Every application of the user.
    Uid(u32),
    /// One application (its registration id, pid and name).
    Pid {
        app: u64,
        pid: u32,
        procname: String,
    },
}

/// One stream: the per-CPU buffer of a channel in a trace.
#[derive(Debug)]
pub struct Stream {
    /// The consumer's key for this stream.
    pub key: u64,
    pub memfd: OwnedFd,
    pub wakeup: OwnedFd,
    pub identity: StreamIdentity,
}

/// The buffers of one channel inside one trace.
#[derive(Debug)]
pub struct TraceChannel {
    /// The key applications know this channel by.
    pub key: u64,
    /// Spare sub-buffers after each stream's ring (see [`spare_subbufs`]).
    pub spares: u64,
    pub streams: Vec<Stream>,
}

/// Most bytes of complete packets a channel's streams may hold on their way to disk,
/// beyond their rings: shared out among the streams as spare sub-buffers.
pub const QUEUE_BYTES: u64 = 64 << 20;

/// How many spare sub-buffers each of a channel's `streams` rings gets: its share of
/// [`QUEUE_BYTES`], at least 2. The consumer exchanges a complete packet's sub-buffer
/// for a spare and writes it from there, so that a write stalled for milliseconds
/// costs spares, not ring space (standalone mode does the same). The memory is
/// touched only as far as the disk lags. Streams that are not drained as they fill
/// (snapshot sessions) and overwrite-mode rings (which writers take back without
/// asking) get none.
pub fn spare_subbufs(config: &BufferConfig, streams: usize, drained: bool) -> u64 {
    if !drained || config.mode != Mode::Discard {
        return 0;
    }
    let per_stream = QUEUE_BYTES / (streams.max(1) as u64 * config.subbuf_size);
    per_stream.clamp(2, proto::ring::layout::MAX_SPARES)
}

/// A set of buffers with one metadata file.
#[derive(Debug)]
pub struct Trace {
    pub id: u64,
    pub owner: TraceOwner,
    /// Directory relative to the session output (`ust/uid/1000/64-bit`).
    pub dir: String,
    pub uuid: [u8; 16],
    /// Index = channel index in the session.
    pub channels: Vec<TraceChannel>,
    /// Event classes by id: (channel index, description).
    pub events: Vec<(u32, EventDesc)>,
    /// The same, to find an id: every app's every selected tracepoint is looked up at
    /// each binding change.
    pub ids: HashMap<(u32, EventDesc), u32>,
    pub creation: String,
    /// The metadata file is behind the event classes.
    pub dirty: bool,
}

/// Why an event could not get an id.
#[derive(Debug, thiserror::Error)]
#[error("trace has {MAX_EVENT_CLASSES} event classes already: destroy the session and enable fewer events")]
pub struct TooManyEvents;

impl Trace {
    /// The id of `desc` in channel `channel`, assigned now if it has none.
    pub fn event_id(&mut self, channel: u32, desc: &EventDesc) -> Result<u32, TooManyEvents> {
        // The key is built for the lookup; a class is cloned once more when new.
        let key = (channel, desc.clone());
        if let Some(&id) = self.ids.get(&key) {
            return Ok(id);
        }
        if self.events.len() >= MAX_EVENT_CLASSES {
            return Err(TooManyEvents);
        }
        let id = self.events.len() as u32;
        self.events.push((channel, desc.clone()));
        self.ids.insert(key, id);
        self.dirty = true;
        Ok(id)
    }

    /// The TSDL text of this trace.
    pub fn metadata(
        &self,
        session: &Session,
        clock: &ClockDesc,
        hostname: &str,
    ) -> Result<String, MetadataError> {
        let s = |v: &str| EnvValue::Str(v.to_string());
        let (scheme, id) = match &self.owner {
            TraceOwner::Uid(uid) => ("uid", i64::from(*uid)),
            TraceOwner::Pid { pid, .. } => ("pid", i64::from(*pid)),
        };
        let mut env = vec![
            ("hostname".into(), s(hostname)),
            ("domain".into(), s("ust")),
            ("tracer_name".into(), s("lttng-ust")),
            ("tracer_major".into(), EnvValue::Int(2)),
            ("tracer_minor".into(), EnvValue::Int(13)),
            ("tracer_patchlevel".into(), EnvValue::Int(0)),
            ("tracer_buffering_scheme".into(), s(scheme)),
            ("tracer_buffering_id".into(), EnvValue::Int(id)),
            ("architecture_bit_width".into(), EnvValue::Int(64)),
            ("trace_name".into(), s(&session.name)),
            ("trace_creation_datetime".into(), s(&self.creation)),
        ];
        if let TraceOwner::Pid { pid, procname, .. } = &self.owner {
            env.push(("vpid".into(), EnvValue::Int(i64::from(*pid))));
            env.push(("procname".into(), s(procname)));
        }
        let desc = TraceDesc {
            uuid: self.uuid,
            clock: clock.clone(),
            env,
            streams: session
                .channels
                .iter()
                .enumerate()
                .map(|(i, c)| StreamDesc {
                    id: i as u32,
                    header: EventHeader::Compact,
                    contexts: c.contexts,
                    more_contexts: Vec::new(),
                })
                .collect(),
            events: self
                .events
                .iter()
                .enumerate()
                .map(|(id, (c, d))| EventClass {
                    id: id as u32,
                    stream_id: *c,
                    desc: d.clone(),
                })
                .collect(),
        };
        metadata::generate(&desc)
    }
}

/// The trace clock as the daemon describes it.
#[derive(Debug, Clone, Copy)]
pub struct ClockState {
    pub source: Source,
    /// Taken when the daemon started: the longer ago, the better the frequency.
    pub start: Sample,
}

impl ClockState {
    /// The CTF clock block, calibrated between the daemon's start and now.
    pub fn desc(&self) -> ClockDesc {
        let now = Sample::take();
        let cal = clock::calibrate(self.source, self.start, now);
        ClockDesc {
            name: "monotonic".into(),
            uuid: clock::boot_id(),
            description: match self.source {
                Source::Tsc => "Invariant TSC, calibrated against CLOCK_MONOTONIC".into(),
                Source::Monotonic => "Monotonic Clock".into(),
            },
            freq: cal.freq,
            offset_s: cal.offset_s,
            offset: cal.offset,
        }
    }
}

/// Sanitizes a process name for a directory name.
pub fn dir_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .take(16)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::event::LogLevel;
    use proto::wire::control::LogLevelFilter;

    fn desc(p: &str, n: &str, l: LogLevel) -> EventDesc {
        EventDesc {
            provider: p.into(),
            name: n.into(),
            loglevel: l,
            model_emf_uri: None,
            fields: vec![],
        }
    }

    #[test]
    fn rules_match_by_glob_level_and_exclusion() {
        let d = desc("myapp", "noisy", LogLevel::Debug);
        let name = d.full_name();
        let mut r = EventRule {
            pattern: "myapp:*".into(),
            loglevel: None,
            exclude: vec![],
        };
        assert!(rule_matches(&r, &name, &d));
        r.exclude = vec!["*:noisy".into()];
        assert!(!rule_matches(&r, &name, &d));
        r.exclude.clear();
        r.loglevel = Some(LogLevelFilter::AtLeast(LogLevel::Info));
        assert!(!rule_matches(&r, &name, &d));
        let e = desc("myapp", "err", LogLevel::Err);
        assert!(rule_matches(&r, &e.full_name(), &e));
        r.loglevel = Some(LogLevelFilter::Only(LogLevel::Debug));
        assert!(rule_matches(&r, &name, &d));
        assert!(!rule_matches(&r, &e.full_name(), &e));
        assert!(!glob_match("other:*", "myapp:x"));
        assert!(glob_match(r"a:\*", "a:*"));
    }

    #[test]
    fn process_names_become_safe_directory_names() {
        assert_eq!(dir_safe("my app/../x"), "my_app_.._x");
        assert_eq!(dir_safe(".."), "_..");
        assert_eq!(dir_safe(""), "_");
    }
}
