//! The control protocol: the `lttng` command (through the control library) asks its
//! user's session daemon to act on sessions. One request, one reply.

use serde::{Deserialize, Serialize};

use super::Message;
use crate::event::LogLevel;

/// Longest session name.
pub const SESSION_NAME_MAX: usize = 64;
/// Longest channel name.
pub const CHANNEL_NAME_MAX: usize = 64;
/// Longest event-name pattern.
pub const PATTERN_MAX: usize = 256;

/// A request from a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// First message of every connection.
    Hello {
        version: u32,
    },
    CreateSession(CreateSession),
    DestroySession {
        session: String,
    },
    ListSessions,
    /// Everything about one session.
    Session {
        session: String,
    },
    EnableChannel {
        session: String,
        channel: ChannelSpec,
    },
    EnableEvent {
        session: String,
        channel: Option<String>,
        rule: EventRule,
    },
    /// Disables the rules whose pattern is `pattern` (`None`: every rule).
    DisableEvent {
        session: String,
        channel: Option<String>,
        pattern: Option<String>,
    },
    AddContext {
        session: String,
        channel: Option<String>,
        contexts: Vec<ContextKind>,
    },
    Start {
        session: String,
    },
    Stop {
        session: String,
    },
    /// The tracepoints of the applications registered now (`lttng list -u`).
    ListTracepoints,
    /// Writes the current contents of a snapshot session's buffers as a new trace.
    SnapshotRecord {
        session: String,
        name: Option<String>,
    },
    /// The daemon's own state.
    DaemonStatus,
    /// The kernel events privd allows this user (`lttng list -k`).
    ListKernelEvents,
    /// `lttng enable-event -k`: kernel events by name or glob (`sched_switch`,
    /// `sched:*`), plus the system calls (`--syscall`): those named in
    /// `syscall_names` (`open`, `openat`, ...), or all of them when it is empty.
    EnableKernelEvents {
        session: String,
        patterns: Vec<String>,
        syscalls: bool,
        syscall_names: Vec<String>,
    },
    /// `lttng enable-channel -k`: the per-CPU kernel buffer (within privd's cap), before
    /// any kernel event is enabled.
    EnableKernelChannel {
        session: String,
        buffer_kb: u32,
    },
    /// `lttng disable-event -k`: stop recording these kernel events (names or globs).
    DisableKernelEvents {
        session: String,
        patterns: Vec<String>,
    },
    /// Kernel events of these processes (and their children) only (`lttng trace -k`).
    KernelPids {
        session: String,
        pids: Vec<u32>,
    },
    /// `lttng add-context -k -t ...`: context fields of every kernel event, before the
    /// session starts.
    AddKernelContext {
        session: String,
        contexts: Vec<crate::event::KernelContext>,
    },
}

impl Message for Request {}

/// `lttng create`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    /// `None`: `auto-<datetime>` as LTTng names it.
    pub name: Option<String>,
    /// Absolute output directory; `None`: `~/lttng-traces/<name>-<datetime>`.
    pub output: Option<String>,
    /// Snapshot mode: channels default to overwrite and nothing is written until
    /// `snapshot record`.
    pub snapshot: bool,
}

/// Who owns a channel's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Buffers {
    /// One set of per-CPU buffers for all of the user's applications (the default).
    PerUid,
    /// One set per application process.
    PerPid,
}

/// `lttng enable-channel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpec {
    pub name: String,
    pub subbuf_size: Option<u64>,
    pub num_subbuf: Option<u64>,
    pub overwrite: Option<bool>,
    /// Close partially filled sub-buffers this often, so that readers see them.
    pub switch_timer_us: Option<u64>,
    /// In discard mode, how long a writer waits for room before dropping an event
    /// (LTTng's `--blocking-timeout`; `None`: the default).
    pub blocking_timeout_us: Option<u64>,
    pub buffers: Option<Buffers>,
}

impl EventRule {
    /// A rule for `pattern`, all log levels, no exclusion.
    pub fn pattern(pattern: &str) -> EventRule {
        EventRule {
            pattern: pattern.into(),
            loglevel: None,
            exclude: Vec::new(),
        }
    }
}

impl ChannelSpec {
    /// A channel named `name` with the defaults.
    pub fn named(name: &str) -> ChannelSpec {
        ChannelSpec {
            name: name.into(),
            subbuf_size: None,
            num_subbuf: None,
            overwrite: None,
            switch_timer_us: None,
            blocking_timeout_us: None,
            buffers: None,
        }
    }
}

/// Which log levels an event rule accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogLevelFilter {
    /// `--loglevel=L`: `L` and every more severe level.
    AtLeast(LogLevel),
    /// `--loglevel-only=L`: exactly `L`.
    Only(LogLevel),
}

impl LogLevelFilter {
    pub fn accepts(self, level: LogLevel) -> bool {
        match self {
            LogLevelFilter::AtLeast(l) => level <= l,
            LogLevelFilter::Only(l) => level == l,
        }
    }
}

/// `lttng enable-event -u PATTERN [--loglevel ...] [--exclude ...]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventRule {
    /// `provider:event` glob (`*` any run, `\*` a star).
    pub pattern: String,
    pub loglevel: Option<LogLevelFilter>,
    /// Names (globs) excluded from the pattern.
    pub exclude: Vec<String>,
}

/// Per-event context fields (`lttng add-context -u -t ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContextKind {
    Vpid,
    Vtid,
    Procname,
}

impl ContextKind {
    pub fn parse(s: &str) -> Option<ContextKind> {
        match s {
            "vpid" => Some(ContextKind::Vpid),
            "vtid" => Some(ContextKind::Vtid),
            "procname" => Some(ContextKind::Procname),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ContextKind::Vpid => "vpid",
            ContextKind::Vtid => "vtid",
            ContextKind::Procname => "procname",
        }
    }
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Hello {
        version: u32,
        pid: u32,
    },
    Done,
    /// The request failed; the text says why and what to do.
    Error(String),
    Created {
        name: String,
        output: String,
    },
    Sessions(Vec<SessionSummary>),
    Session(SessionDetail),
    Tracepoints(Vec<AppTracepoints>),
    Snapshot {
        path: String,
    },
    DaemonStatus(DaemonStatus),
    KernelEvents(Vec<String>),
}

impl Message for Reply {}

/// One line of `lttng list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub name: String,
    pub output: String,
    pub active: bool,
    pub snapshot: bool,
}

/// `lttng list SESSION` / `lttng status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDetail {
    pub summary: SessionSummary,
    pub buffers: Buffers,
    pub channels: Vec<ChannelDetail>,
    /// Applications currently writing into this session.
    pub apps: u32,
    /// How many times the consumer had to be restarted while this session existed.
    pub consumer_restarts: u32,
    /// Whether the consumer runs sandboxed.
    pub sandboxed: bool,
    /// The kernel events enabled in this session (`system:event`).
    pub kernel_events: Vec<String>,
    /// The system calls recorded, by name, when not all of them are (`enable-event -k
    /// --syscall NAMES`).
    pub kernel_syscalls: Option<Vec<String>>,
    /// How many times the kernel consumer died and was replaced.
    pub kernel_consumer_restarts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelDetail {
    pub name: String,
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    pub overwrite: bool,
    pub switch_timer_us: u64,
    /// How long writers wait for room before dropping (0 in overwrite mode).
    pub blocking_timeout_us: u64,
    pub contexts: Vec<ContextKind>,
    pub events: Vec<EventRuleDetail>,
    /// Events dropped because the buffers were full, summed over the streams.
    pub discarded: u64,
    /// Packets the consumer refused as corrupt or lost to overwriting.
    pub lost_packets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRuleDetail {
    pub rule: EventRule,
    pub enabled: bool,
}

/// The tracepoints one application registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTracepoints {
    pub pid: u32,
    pub procname: String,
    pub tracepoints: Vec<(String, LogLevel)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub apps: u32,
    pub sessions: u32,
    /// One consumer per started session.
    pub consumer_pids: Vec<u32>,
    pub consumer_restarts: u32,
}
