//! The kernel side of a session: a tracefs instance privd created for this user, the
//! events enabled in it, and the kernel consumer that turns its pages into
//! `<output>/kernel/`. The metadata of that trace is written here, from the same
//! formats (and in the same order) the consumer builds its encoder from, with the same
//! clock block as the userspace trace, so that one `babeltrace2 <output>` run merges
//! both.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The event that says whether a new task is a thread or a process.
const NEW_TASK: &str = "task:task_newtask";

use ctf::kernel::KernelSchema;
use ctf::metadata::{self, ClockDesc, EnvValue, EventHeader, StreamDesc, TraceDesc};
use proto::clock::Source;
use proto::event::{glob_match, KernelContext};
use proto::wire::consumer::{
    ConsumerReply, ConsumerRequest, KernelStreamSpec, ProcessState, STATEDUMP_CHUNK,
};
use proto::wire::privd::{PrivReply, PrivRequest};

use crate::consumer::{Consumer, ConsumerError};
use crate::privd::{self, PrivdError};

/// Per-CPU kernel buffer asked of privd by default (it caps it).
/// Whether the pattern a user typed names ftrace event `event` (`system:event`): by
/// its ftrace name with or without the system, or by the name LTTng-modules gives it
/// (`irq_softirq_entry`, `kmem_mm_page_alloc`).
fn names_match(pattern: &str, event: &str) -> bool {
    let bare = event.split_once(':').map_or(event, |(_, n)| n);
    glob_match(pattern, event)
        || glob_match(pattern, bare)
        || glob_match(pattern, &ctf::kernel::lttng_event_name(bare))
}

pub const BUFFER_KB: u32 = 4096;

/// Why the kernel side failed; the texts are for the user.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Privd(#[from] PrivdError),
    #[error("no kernel event matches '{0}' (see `lttng list -k` for what you may enable)")]
    NoMatch(String),
    #[error("kernel events must be enabled before the session starts")]
    Started,
    #[error("the kernel side was never started")]
    NotStarted,
    #[error("the kernel consumer died and could not be replaced: kernel events since then are not in the trace (see the session daemon's log)")]
    ConsumerGone,
    #[error("the kernel format of '{event}' cannot be read: {why}")]
    Format { event: String, why: String },
    #[error("kernel consumer: {0}")]
    Consumer(#[from] ConsumerError),
    #[error("cannot write the kernel metadata: {0}")]
    Metadata(String),
}

/// Where and how a session's kernel side starts.
#[derive(Clone, Copy)]
pub struct StartAt<'a> {
    pub session: u64,
    pub output: &'a Path,
    pub clock: &'a ClockDesc,
    pub hostname: &'a str,
    pub trace_name: &'a str,
    pub source: Source,
    pub allow_unsandboxed: bool,
}

/// What a restarted consumer needs.
#[derive(Clone, Debug)]
struct ResumeAt {
    session: u64,
    output: std::path::PathBuf,
    source: Source,
    allow_unsandboxed: bool,
}

/// A session's kernel side.
#[derive(Debug)]
pub struct KernelSide {
    privd: OwnedFd,
    id: u32,
    cpus: u32,
    /// Enabled events, `system:event`, in the order that gives their ids.
    pub events: Vec<String>,
    /// Events disabled after the start (still in the schema).
    pub disabled: Vec<String>,
    /// The system calls recorded, by number, when not all of them are (`--syscall
    /// NAMES`); `None` with `raw_syscalls` enabled: all.
    syscall_ids: Option<std::collections::BTreeSet<u32>>,
    /// Set at the first start: how to start a replacement consumer.
    resume: Option<ResumeAt>,
    /// Consumers that died and were replaced.
    pub restarts: u32,
    /// The processes recorded when not all are (`lttng trace -k`): the statedump
    /// describes only them.
    pids: Vec<u32>,
    /// `lttng add-context -k` fields, in the order added.
    contexts: Vec<KernelContext>,
    /// The machine's name at the start (the `hostname` context).
    hostname: String,
    formats: Vec<String>,
    header_page: String,
    schema: Option<KernelSchema>,
    pub uuid: [u8; 16],
    pub consumer: Consumer,
    creation: String,
    pub started: bool,
}

fn call(sock: &OwnedFd, req: &PrivRequest) -> Result<PrivReply, KernelError> {
    Ok(privd::call(sock, req)?)
}

impl KernelSide {
    /// Asks privd for an instance for `uid`, with the trace clock of `source`.
    pub fn create(
        uid: u32,
        source: Source,
        consumer: Consumer,
        uuid: [u8; 16],
    ) -> Result<KernelSide, KernelError> {
        let sock = privd::connect(uid)?;
        match call(
            &sock,
            &PrivRequest::CreateSession {
                buffer_kb: BUFFER_KB,
                clock: source,
            },
        )? {
            PrivReply::Session { session, cpus } => Ok(KernelSide {
                privd: sock,
                id: session,
                cpus,
                events: Vec::new(),
                disabled: Vec::new(),
                syscall_ids: None,
                resume: None,
                restarts: 0,
                pids: Vec::new(),
                contexts: Vec::new(),
                hostname: String::new(),
                formats: Vec::new(),
                header_page: String::new(),
                schema: None,
                uuid,
                consumer,
                creation: proto::clock::iso8601_now(),
                started: false,
            }),
            other => Err(privd::refusal(other).into()),
        }
    }

    /// Enables the events matching `patterns` (`system:event` or `event` globs), and the
    /// system calls `syscalls` names (all of them when it is empty).
    pub fn enable(
        &mut self,
        patterns: &[String],
        syscalls: Option<&[String]>,
    ) -> Result<Vec<String>, KernelError> {
        if self.started {
            return Err(KernelError::Started);
        }
        let allowed = match call(&self.privd, &PrivRequest::ListEvents)? {
            PrivReply::Events(v) => v,
            other => return Err(privd::refusal(other).into()),
        };
        let mut wanted: Vec<String> = Vec::new();
        for p in patterns {
            let hits: Vec<&String> = allowed.iter().filter(|e| names_match(p, e)).collect();
            if hits.is_empty() {
                return Err(KernelError::NoMatch(p.chars().take(80).collect()));
            }
            wanted.extend(hits.into_iter().cloned());
        }
        let mut selection = self.syscall_ids.clone();
        if let Some(names) = syscalls {
            for e in ["raw_syscalls:sys_enter", "raw_syscalls:sys_exit"] {
                if !allowed.iter().any(|a| a == e) {
                    return Err(KernelError::NoMatch("--syscall".into()));
                }
                wanted.push(e.to_string());
            }
            let already = self.events.iter().any(|e| e == "raw_syscalls:sys_enter");
            selection = self.syscall_selection(names, already)?;
            // The path probes privd defined, if any, when `open` or `openat` is
            // recorded: they give those entries their file name (see
            // `ctf::kernel::PathHints`).
            if selection
                .as_ref()
                .is_none_or(|ids| ids.contains(&2) || ids.contains(&257))
            {
                let probes = format!("{}:", proto::ftrace::PATH_PROBE_GROUP);
                wanted.extend(allowed.iter().filter(|a| a.starts_with(&probes)).cloned());
            }
        }
        // With the fork event, `task_newtask`: whether each new task is a thread gives
        // the fork its child's process id (see `ctf::kernel::Tasks`).
        if wanted.iter().any(|e| e == "sched:sched_process_fork") {
            wanted.extend(allowed.iter().filter(|a| *a == NEW_TASK).cloned());
        }
        wanted.retain(|e| !self.events.contains(e));
        wanted.sort();
        wanted.dedup();
        if !wanted.is_empty() {
            match call(
                &self.privd,
                &PrivRequest::EnableEvents {
                    session: self.id,
                    events: wanted.clone(),
                },
            )? {
                PrivReply::Done => self.events.extend(wanted.iter().cloned()),
                other => return Err(privd::refusal(other).into()),
            }
        }
        if selection != self.syscall_ids {
            let ids: Vec<u32> = selection.iter().flatten().copied().collect();
            match call(
                &self.privd,
                &PrivRequest::SyscallFilter {
                    session: self.id,
                    ids,
                },
            )? {
                PrivReply::Done => self.syscall_ids = selection,
                other => return Err(privd::refusal(other).into()),
            }
        }
        Ok(wanted)
    }

    /// The names of the system calls recorded when not all of them are.
    pub fn syscall_names(&self) -> Option<Vec<String>> {
        let ids = self.syscall_ids.as_ref()?;
        Some(
            ids.iter()
                .filter_map(|&n| ctf::syscalls::native(n.into()))
                .map(|c| c.name.to_string())
                .collect(),
        )
    }

    /// The system calls to record once `names` (empty: all) are added to what is
    /// recorded already (`already`: `raw_syscalls` is enabled); `None`: all of them.
    fn syscall_selection(
        &self,
        names: &[String],
        already: bool,
    ) -> Result<Option<std::collections::BTreeSet<u32>>, KernelError> {
        if names.is_empty() || (already && self.syscall_ids.is_none()) {
            return Ok(None);
        }
        let mut ids = self.syscall_ids.clone().unwrap_or_default();
        for n in names {
            let nr = ctf::syscalls::native_nr(n)
                .ok_or_else(|| KernelError::NoMatch(format!("--syscall {n}")))?;
            ids.insert(nr);
        }
        if ids.len() > proto::wire::privd::MAX_SYSCALL_IDS {
            return Err(KernelError::NoMatch(format!(
                "more than {} named system calls (use --syscall --all)",
                proto::wire::privd::MAX_SYSCALL_IDS
            )));
        }
        Ok(Some(ids))
    }

    /// `lttng add-context -k`: context fields of every kernel event, before the start.
    /// Returns those newly added.
    pub fn add_contexts(
        &mut self,
        contexts: &[KernelContext],
    ) -> Result<Vec<KernelContext>, KernelError> {
        if self.started {
            return Err(KernelError::Started);
        }
        let mut added = Vec::new();
        for c in contexts {
            if !self.contexts.contains(c) {
                self.contexts.push(*c);
                added.push(*c);
            }
        }
        Ok(added)
    }

    /// Disables the enabled events matching `patterns`; returns them. Before the first
    /// start they are forgotten; afterwards their classes stay in the trace (ids are
    /// fixed), they only stop being recorded.
    pub fn disable(&mut self, patterns: &[String]) -> Result<Vec<String>, KernelError> {
        let mut hits: Vec<String> = Vec::new();
        for p in patterns {
            let matched: Vec<String> = self
                .events
                .iter()
                .filter(|e| names_match(p, e))
                .cloned()
                .collect();
            if matched.is_empty() {
                return Err(KernelError::NoMatch(p.chars().take(80).collect()));
            }
            hits.extend(matched);
        }
        hits.sort();
        hits.dedup();
        match call(
            &self.privd,
            &PrivRequest::DisableEvents {
                session: self.id,
                events: hits.clone(),
            },
        )? {
            PrivReply::Done => {}
            other => return Err(privd::refusal(other).into()),
        }
        if !self.started {
            self.events.retain(|e| !hits.contains(e));
        } else {
            self.disabled.extend(hits.iter().cloned());
        }
        Ok(hits)
    }

    /// Records only `pids` and their children from now on.
    pub fn set_pids(&mut self, pids: &[u32]) -> Result<(), KernelError> {
        match call(
            &self.privd,
            &PrivRequest::SetEventPids {
                session: self.id,
                pids: pids.to_vec(),
            },
        )? {
            PrivReply::Done => {
                self.pids = pids.to_vec();
                Ok(())
            }
            other => Err(privd::refusal(other).into()),
        }
    }

    /// First start: reads the formats, builds the schema, starts the consumer with one
    /// stream per CPU, then starts tracing. Returns the consumer when it started one
    /// (the first start, or a later one that found it dead), for the caller to
    /// supervise (see [`Self::restart`]).
    pub fn start(
        &mut self,
        at: &StartAt<'_>,
        next_key: &mut dyn FnMut() -> u64,
    ) -> Result<Option<std::process::Child>, KernelError> {
        let StartAt {
            session,
            output,
            clock,
            hostname,
            trace_name,
            source,
            allow_unsandboxed,
        } = *at;
        let mut started = None;
        if !self.started {
            self.header_page = self.format(None)?;
            self.formats = self
                .events
                .clone()
                .iter()
                .map(|e| self.format(Some(e)))
                .collect::<Result<_, _>>()?;
            let parsed = self
                .formats
                .iter()
                .zip(&self.events)
                .map(|(t, e)| {
                    proto::ftrace::parse_format(t).map_err(|x| KernelError::Format {
                        event: e.clone(),
                        why: x.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.hostname = hostname.to_string();
            self.schema = Some(KernelSchema::with_contexts(
                &parsed,
                &self.contexts,
                hostname,
            ));
            self.write_metadata(output, clock, hostname, trace_name)?;
            let resume = ResumeAt {
                session,
                output: output.to_path_buf(),
                source,
                allow_unsandboxed,
            };
            let child = self.spawn_consumer(&resume, next_key)?;
            self.resume = Some(resume);
            self.statedump(session)?;
            self.started = true;
            started = Some(child);
        } else if !self.consumer.is_running() {
            // Its consumer died and could not be replaced then (say, during a stop):
            // try again before tracing resumes.
            started = Some(self.restart(next_key)?);
        }
        match call(&self.privd, &PrivRequest::Start { session: self.id })? {
            PrivReply::Done => Ok(started),
            other => Err(privd::refusal(other).into()),
        }
    }

    /// Replaces a kernel consumer that died: a new one, given the formats and fresh
    /// `trace_pipe_raw` descriptors from privd, resumes each stream file after its
    /// last complete packet (see consumer-kernel's `stream`), while the instance keeps
    /// tracing. What the dead one had read but not written is lost, and reported as a
    /// discarded packet. Returns the new consumer to supervise.
    pub fn restart(
        &mut self,
        next_key: &mut dyn FnMut() -> u64,
    ) -> Result<std::process::Child, KernelError> {
        let resume = self.resume.clone().ok_or(KernelError::NotStarted)?;
        self.consumer.forget();
        self.restarts += 1;
        self.spawn_consumer(&resume, next_key)
    }

    /// Starts a consumer and hands it the formats and one stream per CPU.
    fn spawn_consumer(
        &mut self,
        at: &ResumeAt,
        next_key: &mut dyn FnMut() -> u64,
    ) -> Result<std::process::Child, KernelError> {
        let ResumeAt {
            session,
            ref output,
            source,
            allow_unsandboxed,
        } = *at;
        let child = self.consumer.spawn(source, output, allow_unsandboxed)?;
        let fed = self.feed_consumer(session, output, next_key);
        if let Err(e) = fed {
            self.consumer.kill();
            return Err(e);
        }
        Ok(child)
    }

    fn feed_consumer(
        &mut self,
        session: u64,
        output: &Path,
        next_key: &mut dyn FnMut() -> u64,
    ) -> Result<(), KernelError> {
        {
            self.consumer_call(
                &ConsumerRequest::KernelSetup {
                    session,
                    header_page: self.header_page.clone(),
                    formats: self.formats.len() as u32,
                    contexts: self.contexts.clone(),
                    hostname: self.hostname.clone(),
                    pid_ns_inum: pid_ns_inum(),
                },
                &[],
            )?;
            for text in self.formats.clone() {
                self.consumer_call(&ConsumerRequest::KernelFormat { session, text }, &[])?;
            }
            for cpu in 0..self.cpus {
                let fd = self.stream(cpu)?;
                let spec = KernelStreamSpec {
                    key: next_key(),
                    session,
                    output: output.display().to_string(),
                    trace_dir: "kernel".into(),
                    file: format!("channel0_{cpu}"),
                    cpu,
                    uuid: self.uuid,
                };
                self.consumer_call(&ConsumerRequest::AddKernelStream(spec), &[fd.as_fd()])?;
            }
        }
        Ok(())
    }

    /// Has the consumer write the threads that exist now as statedump events, timed
    /// now, before tracing starts (see `crate::statedump`).
    fn statedump(&mut self, session: u64) -> Result<(), KernelError> {
        let ts = proto::clock::now();
        let mut threads = crate::statedump::processes();
        if !self.pids.is_empty() {
            threads.retain(|t| u32::try_from(t.pid).is_ok_and(|p| self.pids.contains(&p)));
        }
        let chunks: Vec<&[ProcessState]> = if threads.is_empty() {
            vec![&[]]
        } else {
            threads.chunks(STATEDUMP_CHUNK).collect()
        };
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.consumer_call(
                &ConsumerRequest::KernelStatedump {
                    session,
                    ts,
                    first: i == 0,
                    last: i + 1 == n,
                    processes: chunk.to_vec(),
                },
                &[],
            )?;
        }
        Ok(())
    }

    fn stream(&self, cpu: u32) -> Result<OwnedFd, KernelError> {
        proto::wire::socket::send(
            self.privd.as_fd(),
            &PrivRequest::Stream {
                session: self.id,
                cpu,
            },
            &[],
        )
        .map_err(|e| PrivdError(format!("lttng-privd did not answer: {e}")))?;
        let mut r = proto::wire::socket::recv::<PrivReply>(self.privd.as_fd())
            .map_err(|e| PrivdError(format!("lttng-privd did not answer: {e}")))?;
        match (r.msg, r.fds.pop()) {
            (PrivReply::Stream { .. }, Some(fd)) => Ok(fd),
            (other, _) => Err(privd::refusal(other).into()),
        }
    }

    fn format(&self, event: Option<&String>) -> Result<String, KernelError> {
        match call(
            &self.privd,
            &PrivRequest::Format {
                session: self.id,
                event: event.cloned(),
            },
        )? {
            PrivReply::Text(t) => Ok(t),
            other => Err(KernelError::Format {
                event: event.cloned().unwrap_or_else(|| "header_page".into()),
                why: privd::refusal(other).to_string(),
            }),
        }
    }

    fn consumer_call(
        &mut self,
        req: &ConsumerRequest,
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<ConsumerReply, KernelError> {
        Ok(self.consumer.call(req, fds)?)
    }

    /// Stops tracing and has the consumer write out every page.
    pub fn stop(&mut self, session: u64) -> Result<(), KernelError> {
        match call(&self.privd, &PrivRequest::Stop { session: self.id })? {
            PrivReply::Done => {}
            other => return Err(privd::refusal(other).into()),
        }
        if self.consumer.is_running() {
            self.consumer_call(&ConsumerRequest::Flush { session }, &[])?;
        } else if self.started {
            return Err(KernelError::ConsumerGone);
        }
        Ok(())
    }

    /// Writes everything out and gives the instance back.
    pub fn destroy(&mut self, session: u64) {
        if self.consumer.is_running() {
            let _ = self.consumer_call(&ConsumerRequest::RemoveSession { session }, &[]);
            self.consumer.forget();
        }
        let _ = call(&self.privd, &PrivRequest::Destroy { session: self.id });
    }

    /// `<output>/kernel/metadata`: the kernel env LTTng-modules writes, the same clock
    /// as the userspace trace, the schema's classes.
    pub fn write_metadata(
        &self,
        output: &Path,
        clock: &ClockDesc,
        hostname: &str,
        trace_name: &str,
    ) -> Result<(), KernelError> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let s = |v: &str| EnvValue::Str(v.to_string());
        let proc = |f: &str| {
            std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let desc = TraceDesc {
            uuid: self.uuid,
            clock: clock.clone(),
            env: vec![
                ("hostname".into(), s(hostname)),
                ("domain".into(), s("kernel")),
                ("sysname".into(), s("Linux")),
                ("kernel_release".into(), s(&proc("osrelease"))),
                ("kernel_version".into(), s(&proc("version"))),
                ("tracer_name".into(), s("lttng-modules")),
                ("tracer_major".into(), EnvValue::Int(2)),
                ("tracer_minor".into(), EnvValue::Int(13)),
                ("tracer_patchlevel".into(), EnvValue::Int(0)),
                // LTTng-modules' key (its userspace traces say `tracer_buffering_scheme`).
                ("trace_buffering_scheme".into(), s("global")),
                ("trace_name".into(), s(trace_name)),
                ("trace_creation_datetime".into(), s(&self.creation)),
            ],
            streams: vec![StreamDesc {
                id: 0,
                header: EventHeader::Large,
                contexts: KernelSchema::CONTEXTS,
                more_contexts: schema.context_fields(),
            }],
            events: schema.classes.clone(),
        };
        let text = metadata::generate(&desc).map_err(|e| KernelError::Metadata(e.to_string()))?;
        // Kernel traces show every process of the machine: the owner's eyes only.
        let dir = output.join("kernel");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| KernelError::Metadata(e.to_string()))?;
        let tmp = dir.join("metadata.tmp");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, dir.join("metadata")))
            .map_err(|e| KernelError::Metadata(e.to_string()))
    }
}

/// The inode of this process's pid namespace (`/proc/self/ns/pid`), as LTTng-modules
/// records a fork's `parent_ns_inum` and `child_ns_inum`; 0 (LTTng's unknown) if it
/// cannot be read.
fn pid_ns_inum() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid")
        .ok()
        .and_then(|m| u32::try_from(m.ino()).ok())
        .unwrap_or(0)
}
