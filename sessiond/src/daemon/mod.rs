//! The daemon's state and every operation on it. One mutex guards it all: requests are
//! short, and the only waits under the lock are bounded (an application's reply, the
//! consumer's flush). Split by concern: sessions and requests here, traces and
//! buffers in `buffers`, applications in `registry`.

mod buffers;
mod kernel;
mod registry;

use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use nix::sys::eventfd::{EfdFlags, EventFd};
use proto::clock::{self, Source};
use proto::event::{glob_match, Contexts, EventDesc};
use proto::ring::layout::StreamIdentity;
use proto::ring::writer::{self, RingWriter};
use proto::ring::{BufferConfig, Mode};
use proto::wire::app::{Binding, DaemonMessage, MAX_TRACEPOINTS};
use proto::wire::consumer::{ConsumerReply, ConsumerRequest, StreamSpec, StreamStats};
use proto::wire::control::{
    AppTracepoints, Buffers, ChannelDetail, ChannelSpec, ContextKind, CreateSession, DaemonStatus,
    EventRule, EventRuleDetail, SessionDetail, SessionSummary, CHANNEL_NAME_MAX, PATTERN_MAX,
    SESSION_NAME_MAX,
};
use proto::wire::{check_name, NameError};

use crate::apps::{self, App, Hello, MAX_APPS};
use crate::consumer::{Consumer, ConsumerError};
use crate::session::{
    dir_safe, Channel, ClockState, Session, Stream, Trace, TraceChannel, TraceOwner, MAX_CHANNELS,
    MAX_RULES,
};

/// Most sessions at once.
pub const MAX_SESSIONS: usize = 256;
/// Bindings per `SetEvents` message (keeps each message far below the size cap).
const BINDINGS_PER_MESSAGE: usize = 2000;

/// Why a request failed. The texts are shown to the user as they are.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("session '{0}' does not exist (see `lttng list`)")]
    NoSession(String),
    #[error("session '{0}' already exists: choose another name or `lttng destroy {0}`")]
    SessionExists(String),
    #[error("channel '{channel}' does not exist in session '{session}'")]
    NoChannel { session: String, channel: String },
    #[error("session '{0}' has already been started: channels and contexts are fixed from then on (create a new session)")]
    AlreadyStarted(String),
    #[error("session '{0}' is already active")]
    AlreadyActive(String),
    #[error("session '{0}' is not active")]
    NotActive(String),
    #[error("session '{0}' is not in snapshot mode: create it with `lttng create --snapshot`")]
    NotSnapshot(String),
    #[error("session '{0}' has no channel yet: enable an event or a channel first")]
    NoChannels(String),
    #[error("no event rule matching '{pattern}' in channel '{channel}'")]
    NoRule { channel: String, pattern: String },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("{0}")]
    Invalid(String),
    #[error("too many {what} (at most {max})")]
    Limit { what: &'static str, max: usize },
    #[error("late tracepoints refused: {0}")]
    LateTracepoints(String),
    #[error("cannot create {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the ring buffers: {0}")]
    Buffers(String),
    #[error("consumer: {0}")]
    Consumer(#[from] ConsumerError),
    #[error("cannot write the metadata: {0}")]
    Metadata(String),
    #[error(transparent)]
    Kernel(#[from] crate::kernel::KernelError),
}

/// Everything the daemon knows.
#[derive(Debug)]
pub struct Daemon {
    pub uid: u32,
    pub pid: u32,
    pub clock: ClockState,
    pub hostname: String,
    pub ncpu: usize,
    /// Default output: `<home>/lttng-traces/`.
    pub home: PathBuf,
    pub sessions: Vec<Session>,
    pub apps: Vec<App>,
    /// The consumer program, and whether it may run without its sandbox (the
    /// operator's explicit `--allow-unsandboxed`).
    consumer_path: PathBuf,
    kernel_consumer_path: PathBuf,
    allow_unsandboxed: bool,
    next_id: u64,
    pub shutting_down: bool,
    /// The mutex this state lives in, for the consumer supervisor threads.
    this: Weak<Mutex<Daemon>>,
}

pub type Shared = Arc<Mutex<Daemon>>;

/// Locks the daemon, recovering the state if a thread panicked while holding it.
pub fn lock(d: &Shared) -> std::sync::MutexGuard<'_, Daemon> {
    d.lock().unwrap_or_else(|p| p.into_inner())
}

fn name_check(what: &'static str, name: &str, max: usize) -> Result<(), DaemonError> {
    Ok(check_name(what, name, max)?)
}

fn pattern_check(p: &str) -> Result<(), DaemonError> {
    if p.is_empty() || p.len() > PATTERN_MAX || p.chars().any(|c| c.is_control()) {
        return Err(DaemonError::Invalid(format!(
            "event name pattern must be 1 to {PATTERN_MAX} printable characters"
        )));
    }
    Ok(())
}

impl Daemon {
    pub fn new(
        uid: u32,
        source: Source,
        home: PathBuf,
        consumer_path: PathBuf,
        allow_unsandboxed: bool,
    ) -> Shared {
        let d = Daemon {
            uid,
            pid: std::process::id(),
            clock: ClockState {
                source,
                start: clock::Sample::take(),
            },
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "localhost".into()),
            ncpu: possible_cpus(),
            home,
            sessions: Vec::new(),
            apps: Vec::new(),
            kernel_consumer_path: consumer_path
                .parent()
                .map(|d| d.join("lttng-consumerd-kernel"))
                .unwrap_or_else(|| PathBuf::from("lttng-consumerd-kernel")),
            consumer_path,
            allow_unsandboxed,
            next_id: 1,
            shutting_down: false,
            this: Weak::new(),
        };
        let shared = Arc::new(Mutex::new(d));
        lock(&shared).this = Arc::downgrade(&shared);
        shared
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn session_index(&self, name: &str) -> Result<usize, DaemonError> {
        self.sessions
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| DaemonError::NoSession(name.chars().take(80).collect()))
    }

    // ---- sessions -------------------------------------------------------------

    pub fn create_session(&mut self, req: CreateSession) -> Result<(String, String), DaemonError> {
        let stamp = clock::dir_datetime_now();
        let name = match req.name {
            Some(n) => n,
            None => format!("auto-{stamp}"),
        };
        name_check("session", &name, SESSION_NAME_MAX)?;
        if self.sessions.iter().any(|s| s.name == name) {
            return Err(DaemonError::SessionExists(name));
        }
        if self.sessions.len() >= MAX_SESSIONS {
            return Err(DaemonError::Limit {
                what: "sessions",
                max: MAX_SESSIONS,
            });
        }
        let output = match req.output {
            Some(o) => {
                let p = PathBuf::from(&o);
                if !p.is_absolute() || o.contains('\0') || o.len() > 4096 {
                    return Err(DaemonError::Invalid(
                        "the output directory must be an absolute path".into(),
                    ));
                }
                p
            }
            None => self
                .home
                .join("lttng-traces")
                .join(format!("{name}-{stamp}")),
        };
        let id = self.next_id();
        self.sessions.push(Session {
            id,
            name: name.clone(),
            output: output.clone(),
            snapshot: req.snapshot,
            active: false,
            started: false,
            buffers: Buffers::PerUid,
            channels: Vec::new(),
            traces: Vec::new(),
            snapshots_taken: 0,
            consumer: Consumer::new(self.consumer_path.clone()),
            kernel: None,
            kernel_buffer_kb: crate::kernel::BUFFER_KB,
        });
        Ok((name, output.display().to_string()))
    }

    pub fn destroy_session(&mut self, name: &str) -> Result<(), DaemonError> {
        let i = self.session_index(name)?;
        if self.sessions[i].active {
            self.stop(name)?;
        }
        if self.sessions[i].started {
            let id = self.sessions[i].id;
            self.consumer_call(i, &ConsumerRequest::RemoveSession { session: id }, &[])?;
        }
        let mut s = self.sessions.remove(i);
        // Its consumer sees the connection close and exits.
        s.consumer.forget();
        if let Some(k) = &mut s.kernel {
            k.destroy(s.id);
        }
        let keys: HashSet<u64> = s
            .traces
            .iter()
            .flat_map(|t| t.channels.iter().map(|c| c.key))
            .collect();
        self.sync_apps(|app| {
            keys.iter()
                .filter(|k| app.channels.contains(k))
                .map(|&key| DaemonMessage::RemoveChannel { key })
                .collect()
        });
        for app in &mut self.apps {
            app.channels.retain(|k| !keys.contains(k));
        }
        Ok(())
    }

    pub fn enable_channel(&mut self, session: &str, spec: ChannelSpec) -> Result<(), DaemonError> {
        name_check("channel", &spec.name, CHANNEL_NAME_MAX)?;
        let i = self.session_index(session)?;
        let s = &mut self.sessions[i];
        let default_mode = if s.snapshot {
            Mode::Overwrite
        } else {
            Mode::Discard
        };
        let config = BufferConfig {
            subbuf_size: spec
                .subbuf_size
                .unwrap_or(BufferConfig::DEFAULT.subbuf_size),
            num_subbuf: spec.num_subbuf.unwrap_or(BufferConfig::DEFAULT.num_subbuf),
            mode: match spec.overwrite {
                Some(true) => Mode::Overwrite,
                Some(false) => Mode::Discard,
                None => default_mode,
            },
        };
        config
            .validate()
            .map_err(|e| DaemonError::Invalid(e.to_string()))?;
        let blocking_timeout_us = match (config.mode, spec.blocking_timeout_us) {
            (Mode::Overwrite, Some(t)) if t > 0 => {
                return Err(DaemonError::Invalid(
                    "a blocking timeout applies to discard-mode channels only: drop --overwrite or --blocking-timeout".into(),
                ))
            }
            (Mode::Overwrite, _) => 0,
            (Mode::Discard, Some(t)) if t > writer::MAX_BLOCKING_TIMEOUT_US => {
                return Err(DaemonError::Invalid(format!(
                    "blocking timeout {t} µs is above the {} µs an app waits at most: give a smaller value",
                    writer::MAX_BLOCKING_TIMEOUT_US
                )))
            }
            (Mode::Discard, t) => t.unwrap_or(writer::DEFAULT_BLOCKING_TIMEOUT_US),
        };
        if let Some(existing) = s.channels.iter().find(|c| c.name == spec.name) {
            // LTTng re-enables an existing channel; a different geometry is an error.
            if existing.config != config
                && (spec.subbuf_size.is_some() || spec.num_subbuf.is_some())
            {
                return Err(DaemonError::Invalid(format!(
                    "channel '{}' exists with other settings",
                    spec.name
                )));
            }
            return Ok(());
        }
        if s.started {
            return Err(DaemonError::AlreadyStarted(s.name.clone()));
        }
        if let Some(b) = spec.buffers {
            if !s.channels.is_empty() && b != s.buffers {
                return Err(DaemonError::Invalid(
                    "all channels of a session use the same buffer ownership (--buffers-uid or --buffers-pid)".into(),
                ));
            }
            s.buffers = b;
        }
        if s.channels.len() >= MAX_CHANNELS {
            return Err(DaemonError::Limit {
                what: "channels in a session",
                max: MAX_CHANNELS,
            });
        }
        s.channels.push(Channel {
            name: spec.name,
            config,
            switch_timer_us: spec.switch_timer_us.unwrap_or(0),
            blocking_timeout_us,
            contexts: Contexts::default(),
            rules: Vec::new(),
        });
        Ok(())
    }

    /// The index of `channel` (default `channel0`, created on demand as LTTng does).
    fn channel_for(&mut self, si: usize, channel: Option<String>) -> Result<usize, DaemonError> {
        let name = channel.unwrap_or_else(|| "channel0".into());
        if let Some(c) = self.sessions[si]
            .channels
            .iter()
            .position(|c| c.name == name)
        {
            return Ok(c);
        }
        let session = self.sessions[si].name.clone();
        if name != "channel0" {
            return Err(DaemonError::NoChannel {
                session,
                channel: name,
            });
        }
        self.enable_channel(
            &session,
            ChannelSpec {
                name: name.clone(),
                subbuf_size: None,
                num_subbuf: None,
                overwrite: None,
                switch_timer_us: None,
                blocking_timeout_us: None,
                buffers: None,
            },
        )?;
        Ok(self.sessions[si].channels.len() - 1)
    }

    pub fn enable_event(
        &mut self,
        session: &str,
        channel: Option<String>,
        rule: EventRule,
    ) -> Result<(), DaemonError> {
        pattern_check(&rule.pattern)?;
        for x in &rule.exclude {
            pattern_check(x)?;
        }
        let si = self.session_index(session)?;
        let ci = self.channel_for(si, channel)?;
        let ch = &mut self.sessions[si].channels[ci];
        match ch.rules.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, enabled)) => *enabled = true,
            None => {
                if ch.rules.len() >= MAX_RULES {
                    return Err(DaemonError::Limit {
                        what: "event rules in a channel",
                        max: MAX_RULES,
                    });
                }
                ch.rules.push((rule, true));
            }
        }
        self.push_bindings();
        Ok(())
    }

    pub fn disable_event(
        &mut self,
        session: &str,
        channel: Option<String>,
        pattern: Option<String>,
    ) -> Result<(), DaemonError> {
        let si = self.session_index(session)?;
        let name = channel.unwrap_or_else(|| "channel0".into());
        let sname = self.sessions[si].name.clone();
        let ch = self.sessions[si]
            .channels
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| DaemonError::NoChannel {
                session: sname,
                channel: name.clone(),
            })?;
        let mut found = false;
        for (r, enabled) in &mut ch.rules {
            if pattern.as_ref().is_none_or(|p| *p == r.pattern) {
                *enabled = false;
                found = true;
            }
        }
        // No rule of that name, but enabled globs select it (`enable-event 'myapp:*'`,
        // then `disable-event myapp:noisy`): exclude it from them.
        if let (false, Some(p)) = (found, &pattern) {
            pattern_check(p)?;
            for (r, enabled) in &mut ch.rules {
                if *enabled && glob_match(&r.pattern, p) && !r.exclude.contains(p) {
                    r.exclude.push(p.clone());
                    found = true;
                }
            }
        }
        if !found {
            return Err(DaemonError::NoRule {
                channel: name,
                pattern: pattern.unwrap_or_else(|| "*".into()),
            });
        }
        self.push_bindings();
        Ok(())
    }

    pub fn add_context(
        &mut self,
        session: &str,
        channel: Option<String>,
        kinds: Vec<ContextKind>,
    ) -> Result<(), DaemonError> {
        let si = self.session_index(session)?;
        if self.sessions[si].started {
            return Err(DaemonError::AlreadyStarted(session.into()));
        }
        let targets: Vec<usize> = match channel {
            Some(c) => vec![self.channel_for(si, Some(c))?],
            None if self.sessions[si].channels.is_empty() => vec![self.channel_for(si, None)?],
            None => (0..self.sessions[si].channels.len()).collect(),
        };
        for ci in targets {
            let ctx = &mut self.sessions[si].channels[ci].contexts;
            for k in &kinds {
                match k {
                    ContextKind::Vpid => ctx.vpid = true,
                    ContextKind::Vtid => ctx.vtid = true,
                    ContextKind::Procname => ctx.procname = true,
                }
            }
        }
        Ok(())
    }

    pub fn start(&mut self, name: &str) -> Result<(), DaemonError> {
        let si = self.session_index(name)?;
        if self.sessions[si].active {
            return Err(DaemonError::AlreadyActive(name.into()));
        }
        if self.sessions[si].channels.is_empty() && self.sessions[si].kernel.is_none() {
            return Err(DaemonError::NoChannels(name.into()));
        }
        if !self.sessions[si].started {
            let out = self.sessions[si].output.clone();
            std::fs::create_dir_all(&out).map_err(|source| DaemonError::Output {
                path: out.clone(),
                source,
            })?;
            self.sessions[si].started = true;
            if self.sessions[si].channels.is_empty() {
                // Kernel events only: no userspace trace.
            } else if self.sessions[si].buffers == Buffers::PerUid {
                let owner = TraceOwner::Uid(self.uid);
                self.add_trace(si, owner)?;
            } else {
                let apps: Vec<(u64, u32, String)> = self
                    .apps
                    .iter()
                    .map(|a| (a.id, a.pid, a.procname.clone()))
                    .collect();
                for (app, pid, procname) in apps {
                    self.add_trace(si, TraceOwner::Pid { app, pid, procname })?;
                }
            }
        }
        if self.sessions[si].kernel.is_some() {
            let clock = self.clock.desc();
            let (source, allow, host) = (
                self.clock.source,
                self.allow_unsandboxed,
                self.hostname.clone(),
            );
            let mut next = self.next_id;
            let s = &mut self.sessions[si];
            let (id, output, name) = (s.id, s.output.clone(), s.name.clone());
            let at = crate::kernel::StartAt {
                session: id,
                output: &output,
                clock: &clock,
                hostname: &host,
                trace_name: &name,
                source,
                allow_unsandboxed: allow,
            };
            let r = s.kernel.as_mut().map(|k| {
                k.start(&at, &mut || {
                    next += 1;
                    next
                })
            });
            self.next_id = next;
            match r {
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Some(child))) => self.supervise_kernel_consumer(si, child),
                _ => {}
            }
        }
        self.sessions[si].active = true;
        self.push_bindings();
        self.write_metadata(si);
        Ok(())
    }

    /// Kernel events of `pids` and their children only.
    pub fn kernel_pids(&mut self, session: &str, pids: Vec<u32>) -> Result<(), DaemonError> {
        let si = self.session_index(session)?;
        let k = self.sessions[si].kernel.as_mut().ok_or_else(|| {
            DaemonError::Invalid(format!("session '{session}' has no kernel event enabled"))
        })?;
        Ok(k.set_pids(&pids)?)
    }

    pub fn stop(&mut self, name: &str) -> Result<(), DaemonError> {
        let si = self.session_index(name)?;
        if !self.sessions[si].active {
            return Err(DaemonError::NotActive(name.into()));
        }
        self.sessions[si].active = false;
        // Applications stop writing first; then the consumer closes the open packets
        // and writes everything out.
        self.push_bindings();
        let id = self.sessions[si].id;
        if let Some(k) = &mut self.sessions[si].kernel {
            k.stop(id)?;
        }
        if !self.sessions[si].snapshot && self.sessions[si].consumer.is_running() {
            self.consumer_call(si, &ConsumerRequest::Flush { session: id }, &[])?;
        }
        for t in &mut self.sessions[si].traces {
            t.dirty = true;
        }
        self.write_metadata(si);
        Ok(())
    }

    pub fn snapshot_record(
        &mut self,
        name: &str,
        snap: Option<String>,
    ) -> Result<String, DaemonError> {
        let si = self.session_index(name)?;
        if !self.sessions[si].snapshot {
            return Err(DaemonError::NotSnapshot(name.into()));
        }
        if !self.sessions[si].started {
            return Err(DaemonError::Invalid(format!(
                "session '{name}' has never been started: nothing to record"
            )));
        }
        if let Some(n) = &snap {
            name_check("snapshot", n, SESSION_NAME_MAX)?;
        }
        let s = &mut self.sessions[si];
        let n = s.snapshots_taken;
        s.snapshots_taken += 1;
        let dir = s.output.join(format!(
            "{}-{}-{n}",
            snap.unwrap_or_else(|| "snapshot".into()),
            clock::dir_datetime_now()
        ));
        for t in &self.sessions[si].traces {
            let tdir = dir.join(&t.dir);
            std::fs::create_dir_all(&tdir).map_err(|source| DaemonError::Output {
                path: tdir.clone(),
                source,
            })?;
            let text = t
                .metadata(&self.sessions[si], &self.clock.desc(), &self.hostname)
                .map_err(|e| DaemonError::Metadata(e.to_string()))?;
            write_atomically(&tdir.join("metadata"), text.as_bytes())?;
        }
        let id = self.sessions[si].id;
        self.consumer_call(
            si,
            &ConsumerRequest::Snapshot {
                session: id,
                dir: dir.display().to_string(),
            },
            &[],
        )?;
        Ok(dir.display().to_string())
    }

    // ---- reports --------------------------------------------------------------

    fn summary(s: &Session) -> SessionSummary {
        SessionSummary {
            name: s.name.clone(),
            output: s.output.display().to_string(),
            active: s.active,
            snapshot: s.snapshot,
        }
    }

    pub fn list_sessions(&self) -> Vec<SessionSummary> {
        self.sessions.iter().map(Self::summary).collect()
    }

    pub fn session_detail(&mut self, name: &str) -> Result<SessionDetail, DaemonError> {
        let si = self.session_index(name)?;
        let stats: Vec<StreamStats> = if self.sessions[si].started {
            let id = self.sessions[si].id;
            match self.consumer_call(si, &ConsumerRequest::Stats { session: id }, &[]) {
                Ok(ConsumerReply::Stats(v)) => v,
                _ => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let s = &self.sessions[si];
        let channels = s
            .channels
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let keys: HashSet<u64> = s
                    .traces
                    .iter()
                    .flat_map(|t| t.channels[ci].streams.iter().map(|st| st.key))
                    .collect();
                let mine = stats.iter().filter(|st| keys.contains(&st.key));
                let (discarded, lost_packets) = mine.fold((0u64, 0u64), |(d, l), st| {
                    (
                        d.saturating_add(st.discarded),
                        l.saturating_add(st.lost_packets),
                    )
                });
                ChannelDetail {
                    name: c.name.clone(),
                    subbuf_size: c.config.subbuf_size,
                    num_subbuf: c.config.num_subbuf,
                    overwrite: c.config.mode == Mode::Overwrite,
                    switch_timer_us: c.switch_timer_us,
                    blocking_timeout_us: c.blocking_timeout_us,
                    contexts: c.context_kinds(),
                    events: c
                        .rules
                        .iter()
                        .map(|(r, e)| EventRuleDetail {
                            rule: r.clone(),
                            enabled: *e,
                        })
                        .collect(),
                    discarded,
                    lost_packets,
                }
            })
            .collect();
        let apps = self
            .apps
            .iter()
            .filter(|a| {
                s.traces
                    .iter()
                    .any(|t| t.channels.iter().any(|c| a.channels.contains(&c.key)))
            })
            .count() as u32;
        Ok(SessionDetail {
            summary: Self::summary(s),
            buffers: s.buffers,
            channels,
            apps,
            consumer_restarts: s.consumer.restarts,
            // Only a running consumer can be unsandboxed.
            sandboxed: s.consumer.sandboxed || !s.consumer.is_running(),
            kernel_events: s
                .kernel
                .as_ref()
                .map(|k| {
                    k.events
                        .iter()
                        .filter(|e| !k.disabled.contains(e))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            kernel_syscalls: s.kernel.as_ref().and_then(|k| k.syscall_names()),
            kernel_consumer_restarts: s.kernel.as_ref().map_or(0, |k| k.restarts),
        })
    }

    pub fn list_tracepoints(&self) -> Vec<AppTracepoints> {
        self.apps
            .iter()
            .map(|a| AppTracepoints {
                pid: a.pid,
                procname: a.procname.clone(),
                tracepoints: a
                    .tracepoints
                    .iter()
                    .flatten()
                    .map(|d| (d.full_name(), d.loglevel))
                    .collect(),
            })
            .collect()
    }

    pub fn status(&self) -> DaemonStatus {
        DaemonStatus {
            pid: self.pid,
            apps: self.apps.len() as u32,
            sessions: self.sessions.len() as u32,
            consumer_pids: self
                .sessions
                .iter()
                .filter_map(|s| s.consumer.pid)
                .collect(),
            consumer_restarts: self.sessions.iter().map(|s| s.consumer.restarts).sum(),
        }
    }

    /// Stops every active session (so everything recorded is written) and lets the
    /// consumer exit.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        let active: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| s.active)
            .map(|s| s.name.clone())
            .collect();
        for name in active {
            if let Err(e) = self.stop(&name) {
                eprintln!("lttng-sessiond: stopping session {name}: {e}");
            }
        }
        for s in &mut self.sessions {
            s.consumer.forget();
        }
    }
}

/// Waits for `child`, a consumer of `session`, to exit; if it died while still
/// `current` (its session not destroyed, the daemon not stopping, the consumer not
/// replaced or let go on purpose), logs it and has `restart` replace it.
fn supervise_with(
    this: Weak<Mutex<Daemon>>,
    mut child: std::process::Child,
    session: u64,
    what: &str,
    current: impl FnOnce(&Session) -> bool,
    restart: impl FnOnce(&mut Daemon, usize),
) {
    let status = child.wait();
    let Some(shared) = this.upgrade() else {
        return;
    };
    let mut d = lock(&shared);
    let Some(si) = d.sessions.iter().position(|s| s.id == session) else {
        return;
    };
    if d.shutting_down || !current(&d.sessions[si]) {
        return;
    }
    eprintln!(
        "lttng-sessiond: the {what} of session {} exited ({}); restarting it",
        d.sessions[si].name,
        status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    restart(&mut d, si);
}

/// Supervises a session's kernel consumer (see `KernelSide::restart`).
fn supervise_kernel(
    this: Weak<Mutex<Daemon>>,
    child: std::process::Child,
    session: u64,
    generation: u64,
) {
    let current = |s: &Session| {
        s.kernel
            .as_ref()
            .is_some_and(|k| k.consumer.is_running() && k.consumer.generation == generation)
    };
    supervise_with(this, child, session, "kernel consumer", current, |d, si| {
        let mut next = d.next_id;
        let r = d.sessions[si].kernel.as_mut().map(|k| {
            k.restart(&mut || {
                next += 1;
                next
            })
        });
        d.next_id = next;
        match r {
            Some(Ok(child)) => d.supervise_kernel_consumer(si, child),
            Some(Err(e)) => eprintln!("lttng-sessiond: cannot restart the kernel consumer: {e}"),
            None => {}
        }
    });
}

/// Supervises a session's userspace consumer: a new one resumes from the buffers.
fn supervise(this: Weak<Mutex<Daemon>>, child: std::process::Child, session: u64, generation: u64) {
    let current = |s: &Session| s.consumer.generation == generation;
    supervise_with(this, child, session, "consumer", current, |d, si| {
        let c = &mut d.sessions[si].consumer;
        c.forget();
        c.restarts += 1;
        if let Err(e) = d.start_consumer(si) {
            eprintln!("lttng-sessiond: cannot restart the consumer: {e}");
        }
    });
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, DaemonError> {
    fd.try_clone()
        .map_err(|e| DaemonError::Buffers(format!("cannot duplicate a descriptor: {e}")))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that readers
/// never see a half-written file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DaemonError> {
    let tmp = path.with_extension("tmp");
    let err = |source| DaemonError::Output {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn random_uuid() -> [u8; 16] {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .ok()
        .and_then(|s| ctf::metadata::parse_uuid(s.trim()))
        .unwrap_or_else(|| {
            let t = clock::realtime_ns().to_le_bytes();
            let p = u64::from(std::process::id()).to_le_bytes();
            let mut u = [0u8; 16];
            u[..8].copy_from_slice(&t);
            u[8..].copy_from_slice(&p);
            u
        })
}

/// Number of CPUs the kernel may ever schedule on (one buffer each).
pub fn possible_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            s.trim()
                .split([',', '-'])
                .filter_map(|x| x.parse::<usize>().ok())
                .max()
        })
        .map(|m| m + 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
