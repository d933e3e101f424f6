//! The application protocol: an instrumented application (`libust`) and its user's
//! session daemon.
//!
//! The application connects, sends [`AppMessage::Hello`] and its tracepoint
//! descriptions in [`AppMessage::Tracepoints`] chunks (in its own order: the position
//! of a description is the tracepoint's index in later messages). The daemon answers
//! [`DaemonMessage::Accepted`] (or `Refused`), then sends the channels and bindings of
//! the sessions already running, then [`DaemonMessage::Ready`]: an application that
//! waits for `Ready` at start-up (bounded) records its first events. From `Accepted`
//! on only the daemon speaks first, and every message after `Accepted` gets one
//! [`AppMessage::Reply`].

use serde::{Deserialize, Serialize};

use super::Message;
use crate::clock::Source;
use crate::event::{Contexts, EventDesc};
use crate::ring::layout::StreamIdentity;
use crate::ring::BufferConfig;

/// Most tracepoints one application may register.
pub const MAX_TRACEPOINTS: u32 = 65536;

/// From the application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AppMessage {
    Hello {
        version: u32,
        /// Thread group id; the daemon checks it against the socket's credentials.
        pid: u32,
        /// The process name (`comm`, at most 16 bytes).
        procname: String,
        /// How many descriptions follow in `Tracepoints` messages.
        tracepoints: u32,
    },
    Tracepoints(Vec<EventDesc>),
    /// Tracepoints registered after `Ready`, sent on a connection of their own by a
    /// registered application (the daemon finds it by the socket's pid): `first` is
    /// the index of the first description. An empty list ends the batch; the daemon
    /// answers it with `Ready` once they are set up, or `Refused`.
    MoreTracepoints {
        first: u32,
        descs: Vec<EventDesc>,
    },
    /// The answer to a daemon message: `None` on success, else why it failed.
    Reply(Option<String>),
}

impl Message for AppMessage {}

/// One enabled (tracepoint, channel) pair: events of tracepoint `tracepoint` go to
/// channel `channel` with event id `event_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Binding {
    pub tracepoint: u32,
    pub channel: u64,
    pub event_id: u32,
}

/// From the session daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DaemonMessage {
    /// Registration accepted; the application must use the daemon's clock source.
    /// (No reply.)
    Accepted { version: u32, clock: Source },
    /// Registration refused (the text says why); the application stays untraced.
    Refused(String),
    /// A channel the application will write into, and how many streams (one per
    /// possible CPU) follow as `AddStream`.
    AddChannel {
        key: u64,
        config: BufferConfig,
        /// Spare sub-buffers after the ring in each stream's memfd, which the slots
        /// may show (see `ring::layout`): the application maps them too.
        spares: u64,
        contexts: Contexts,
        /// How long a writer waits for room in a full buffer before dropping.
        full_wait_us: u64,
        streams: u32,
    },
    /// One stream of a channel: carries two descriptors, the buffer's sealed memfd and
    /// the consumer's wakeup eventfd.
    AddStream {
        channel: u64,
        index: u32,
        identity: StreamIdentity,
    },
    /// The complete set of bindings from now on (replaces the previous set). Long sets
    /// come in several messages, the last with `last: true`.
    SetEvents { bindings: Vec<Binding>, last: bool },
    /// The channel will not be written again (its session was destroyed).
    RemoveChannel { key: u64 },
    /// The initial set-up after registration is complete.
    Ready,
}

impl Message for DaemonMessage {
    fn fd_count(&self) -> usize {
        match self {
            DaemonMessage::AddStream { .. } => 2,
            _ => 0,
        }
    }
}
