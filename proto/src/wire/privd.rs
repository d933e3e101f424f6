//! The privd protocol: a member of the tracing group (through their session daemon)
//! and `lttng-privd`, the root helper that owns tracefs.
//!
//! The vocabulary is closed: no request names a path. Events are named `system:event`
//! and must be on privd's allowlist; privd names and creates the tracefs instance
//! itself. Every request is authorised on its own, from the credentials the kernel
//! attaches to that very message (`SO_PASSCRED`) and the group database as it is now.

use serde::{Deserialize, Serialize};

use super::Message;
use crate::clock::Source;

/// Longest event name in a request (`system:event`).
pub const EVENT_NAME_MAX: usize = 128;
/// Most events in one `EnableEvents`.
pub const MAX_EVENTS_PER_REQUEST: usize = 1024;

/// From the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrivRequest {
    Hello {
        version: u32,
    },
    /// The kernel events this privd allows (`system:event`).
    ListEvents,
    /// Creates a kernel tracing instance for the caller, with a per-CPU buffer of
    /// `buffer_kb` KiB (capped by privd) and the trace clock matching `clock`.
    CreateSession {
        buffer_kb: u32,
        clock: Source,
    },
    EnableEvents {
        session: u32,
        events: Vec<String>,
    },
    Start {
        session: u32,
    },
    Stop {
        session: u32,
    },
    /// The read-only `trace_pipe_raw` of one CPU (the reply carries one descriptor).
    Stream {
        session: u32,
        cpu: u32,
    },
    /// The text of `events/header_page` (`event: None`), or of an enabled event's
    /// `format` file.
    Format {
        session: u32,
        event: Option<String>,
    },
    Destroy {
        session: u32,
    },
    /// The text of `events/header_event` (the record header layout).
    HeaderEvent {
        session: u32,
    },
    DisableEvents {
        session: u32,
        events: Vec<String>,
    },
    /// Record only these processes and, from now on, their children
    /// (`set_event_pid` with `event-fork`). At most [`MAX_PIDS`].
    SetEventPids {
        session: u32,
        pids: Vec<u32>,
    },
    /// Record only these system calls (by number) in `raw_syscalls`; empty: all of
    /// them. At most [`MAX_SYSCALL_IDS`], each below [`SYSCALL_ID_LIMIT`].
    SyscallFilter {
        session: u32,
        ids: Vec<u32>,
    },
}

/// Most pids in one `SetEventPids`.
pub const MAX_PIDS: usize = 64;
/// Most system calls named in one `SyscallFilter` (the filter text stays far below
/// the page tracefs accepts); more than this: record them all.
pub const MAX_SYSCALL_IDS: usize = 64;
/// System call numbers are below this.
pub const SYSCALL_ID_LIMIT: u32 = 1024;

impl Message for PrivRequest {}

/// From privd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrivReply {
    Hello {
        version: u32,
    },
    Done,
    /// Not allowed: the text says why and what to do.
    Denied(String),
    /// Allowed but failed.
    Error(String),
    Events(Vec<String>),
    Session {
        session: u32,
        cpus: u32,
    },
    /// Carries one descriptor: `per_cpu/cpu<cpu>/trace_pipe_raw`, read-only.
    Stream {
        cpu: u32,
    },
    Text(String),
}

impl Message for PrivReply {
    fn fd_count(&self) -> usize {
        match self {
            PrivReply::Stream { .. } => 1,
            _ => 0,
        }
    }
}

/// The message a non-member gets, naming the group and the fix.
pub fn not_a_member(group: &str, user: &str) -> String {
    format!(
        "kernel tracing needs membership in group '{group}' (ask an administrator: usermod -aG {group} {user})"
    )
}
