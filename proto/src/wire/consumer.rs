//! The consumer protocol: the session daemon and the consumer process it spawned
//! (connected by a socket pair). The daemon sends requests, the consumer answers each.

use serde::{Deserialize, Serialize};

use super::Message;
use crate::clock::Source;
use crate::ring::layout::StreamIdentity;
use crate::ring::BufferConfig;

/// One per-CPU buffer to drain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Unique for the consumer's lifetime.
    pub key: u64,
    pub session: u64,
    /// The trace (one metadata file) the stream belongs to.
    pub trace: u64,
    /// The session's output directory (absolute).
    pub output: String,
    /// The trace's directory relative to `output` (`ust/uid/1000/64-bit`).
    pub trace_dir: String,
    /// The stream file's name (`channel0_1`).
    pub file: String,
    pub config: BufferConfig,
    /// Spare sub-buffers after the ring in the memfd (see `ring::layout`): the consumer
    /// exchanges a complete packet's sub-buffer for one and writes the packet from it,
    /// so that the writers never wait on the disk while a spare is free. Zero for
    /// overwrite mode and for streams that are not drained.
    pub spares: u64,
    pub identity: StreamIdentity,
    /// Close the open packet this often (0: never) so that it reaches the file.
    pub switch_timer_us: u64,
    /// Snapshot sessions keep their data in the buffers until `Snapshot`.
    pub drain: bool,
}

/// From the session daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerRequest {
    /// First message; `clock` is the source the writers use (the consumer closes
    /// packets with timestamps from it).
    Hello {
        version: u32,
        clock: Source,
    },
    /// Start draining a stream; carries the buffer's memfd and its wakeup eventfd.
    AddStream(StreamSpec),
    /// Close the open packets of the session's streams and write out everything
    /// recorded (stop).
    Flush {
        session: u64,
    },
    /// Every process that wrote into the trace's buffers has exited: complete the
    /// packets a writer killed mid-event left unfinished, and write them out.
    WritersGone {
        trace: u64,
    },
    /// The writers of one trace are gone (an exited per-process application): as
    /// `WritersGone`, then flush, write out, and forget its streams ...
    RemoveTrace {
        trace: u64,
    },
    /// ... or of a whole session (destroy).
    RemoveSession {
        session: u64,
    },
    /// Write what the session's buffers hold now under `dir` (same layout as the
    /// session's output), without consuming it.
    Snapshot {
        session: u64,
        dir: String,
    },
    /// Per-stream counters of a session.
    Stats {
        session: u64,
    },
    /// Kernel consumer: the layout of the session's ftrace pages (`header_page`) and
    /// how many `KernelFormat` messages follow (the enabled events' `format` texts, in
    /// the order that gives the event ids, see `ctf::kernel`).
    KernelSetup {
        session: u64,
        header_page: String,
        formats: u32,
        /// `lttng add-context -k` fields, and the `hostname` context's value.
        contexts: Vec<crate::event::KernelContext>,
        hostname: String,
        /// The inode of the session daemon's pid namespace (LTTng's `*_ns_inum` of
        /// forks; 0: unknown).
        pid_ns_inum: u32,
    },
    KernelFormat {
        session: u64,
        text: String,
    },
    /// Kernel consumer: drain one CPU's `trace_pipe_raw` (the descriptor travels with
    /// the message) into `<output>/<trace_dir>/<file>`.
    AddKernelStream(KernelStreamSpec),
    /// Kernel consumer: the processes that exist when tracing starts, as LTTng's
    /// statedump events at `ts`, written before any kernel page into the first CPU's
    /// stream. A long list comes in several messages, the first and the last marked.
    KernelStatedump {
        session: u64,
        ts: u64,
        first: bool,
        last: bool,
        processes: Vec<ProcessState>,
    },
}

/// One thread in a statedump (`lttng_statedump_process_state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessState {
    pub tid: i32,
    pub pid: i32,
    pub ppid: i32,
    /// At most 15 bytes (the kernel's `comm`).
    pub name: String,
    /// A kernel thread rather than a user one.
    pub kernel_thread: bool,
    /// LTTng's process status: 0 unnamed, 2 waiting for a CPU, 4 zombie, 5 waiting,
    /// 7 dead.
    pub status: u8,
    pub cpu: u32,
}

/// Most threads in one `KernelStatedump` message (keeps it far below the size cap).
pub const STATEDUMP_CHUNK: usize = 512;

/// One CPU of a kernel session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelStreamSpec {
    pub key: u64,
    pub session: u64,
    pub output: String,
    pub trace_dir: String,
    pub file: String,
    pub cpu: u32,
    /// The kernel trace's uuid (packet headers).
    pub uuid: [u8; 16],
}

impl Message for ConsumerRequest {
    fn fd_count(&self) -> usize {
        match self {
            ConsumerRequest::AddStream(_) => 2,
            ConsumerRequest::AddKernelStream(_) => 1,
            _ => 0,
        }
    }
}

/// Counters of one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStats {
    pub key: u64,
    /// Events the writers dropped (buffer full).
    pub discarded: u64,
    /// Packets refused as corrupt, or overwritten before they could be read.
    pub lost_packets: u64,
    /// Packets written to the stream file.
    pub packets: u64,
    /// Bytes written to the stream file.
    pub bytes: u64,
}

/// From the consumer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerReply {
    Hello { version: u32, sandboxed: bool },
    Done,
    Error(String),
    Stats(Vec<StreamStats>),
}

impl Message for ConsumerReply {}

/// A consumer that cannot enter its sandbox tells the session daemon why, as the
/// answer to its hello (read first: a message left unread would reset the connection,
/// and the answer would be lost), so that `lttng` shows the reason, not a closed
/// socket. Best effort: the consumer exits right after.
pub fn refuse_hello(control: std::os::fd::BorrowedFd<'_>, why: &str) {
    use super::socket;
    let _ = socket::set_timeout(control, Some(std::time::Duration::from_secs(2)));
    let _ = socket::recv_bytes(control);
    let reply = ConsumerReply::Error(format!(
        "the consumer cannot enter its sandbox: {why}; to run consumers without it (degraded mode), start lttng-sessiond with --allow-unsandboxed"
    ));
    let _ = socket::send(control, &reply, &[]);
}

/// Answers the hello of a session daemon of another release with this consumer's own
/// hello, so that the daemon (of any release) learns which version it met and tells
/// its user to restart it. Best effort: the consumer exits right after.
pub fn answer_other_release(control: std::os::fd::BorrowedFd<'_>, sandboxed: bool) {
    let ours = ConsumerReply::Hello {
        version: super::VERSION,
        sandboxed,
    };
    let _ = super::socket::send(control, &ours, &[]);
}
