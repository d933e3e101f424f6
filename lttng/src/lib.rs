//! The control library: a typed API over the user's session daemon, used by the
//! `lttng` command and by tests.
//!
//! ```no_run
//! use lttng::{Client, EventRule};
//!
//! let mut c = Client::connect_or_start()?;
//! let (name, output) = c.create(Some("demo"), None, false)?;
//! c.enable_event(&name, None, EventRule::pattern("myapp:*"))?;
//! c.start(&name)?;
//! // ... run the application ...
//! c.stop(&name)?;
//! c.destroy(&name)?;
//! println!("trace in {output}");
//! # Ok::<(), lttng::ControlError>(())
//! ```
//!
//! [`Client::connect_or_start`] starts `lttng-sessiond --daemonize` when no daemon
//! answers: the program next to the running executable, else `$LTTNG_SESSIOND_PATH`,
//! else `lttng-sessiond` from `PATH`. [`current`] remembers the current session in
//! `.lttngrc` like LTTng.
#![deny(unsafe_code)]

pub mod current;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use proto::rundir::{self, RundirError};
pub use proto::wire::control::{
    AppTracepoints, Buffers, ChannelDetail, ChannelSpec, ContextKind, DaemonStatus, EventRule,
    LogLevelFilter, SessionDetail, SessionSummary,
};
use proto::wire::control::{CreateSession, Reply, Request};
use proto::wire::socket;
use proto::wire::{WireError, VERSION};

/// Why a control operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Rundir(#[from] RundirError),
    #[error("no session daemon is running (none answers at {0}): run `lttng-sessiond --daemonize` or any `lttng create`")]
    NoDaemon(PathBuf),
    #[error("no session daemon: it could not be started because {0}")]
    Start(String),
    #[error("talking to the session daemon: {0}")]
    Wire(#[from] WireError),
    /// The daemon refused; its text says why.
    #[error("{0}")]
    Daemon(String),
    #[error("the session daemon answered something unexpected")]
    Unexpected,
    #[error("{}", other_release(*pid, *theirs))]
    OtherRelease {
        /// The daemon's process id (from the socket's credentials).
        pid: u32,
        /// The protocol version it speaks, when it said.
        theirs: Option<u32>,
    },
    #[error("the session daemon (pid {pid}) did not answer the hello within {HELLO_TIMEOUT:?}: it is stuck; restart your session daemon (`kill {pid}`, or `kill -9 {pid}` if it stays)")]
    HelloTimeout { pid: u32 },
}

/// How long [`Client::connect`] waits for the daemon's hello.
pub const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn other_release(pid: u32, theirs: Option<u32>) -> String {
    let speaks = match theirs {
        Some(v) => format!("it speaks protocol {v}, this lttng {VERSION}"),
        None => format!("its answer to the hello is not protocol {VERSION}'s"),
    };
    format!(
        "the session daemon (pid {pid}) is from another release of the tracer ({speaks}): \
         restart your session daemon: `kill {pid}` stops it after writing out its sessions' \
         traces, and the next `lttng` command starts the one installed with this lttng"
    )
}

/// A connection to the user's session daemon.
#[derive(Debug)]
pub struct Client {
    sock: OwnedFd,
    daemon_pid: u32,
}

impl Client {
    /// Connects to the running daemon.
    pub fn connect() -> Result<Client, ControlError> {
        let dir = rundir::resolve()?;
        rundir::check(&dir, rundir::current_uid())?;
        let path = dir.join(rundir::CLIENT_SOCKET);
        let sock = socket::connect(&path).map_err(|_| ControlError::NoDaemon(path.clone()))?;
        let pid = socket::peer_cred(sock.as_fd()).map_or(0, |c| c.pid as u32);
        let other = |theirs| ControlError::OtherRelease { pid, theirs };
        socket::set_recv_timeout(sock.as_fd(), Some(HELLO_TIMEOUT))?;
        let reply = socket::call_hello::<_, Reply>(&sock, &Request::Hello { version: VERSION });
        socket::set_recv_timeout(sock.as_fd(), None)?;
        // Another release's daemon answers with its own version, or refuses ours in
        // words that name it (every release since the first says "protocol version").
        match reply {
            Ok(Reply::Hello { pid, .. }) => Ok(Client {
                sock,
                daemon_pid: pid,
            }),
            Ok(Reply::Error(e)) if e.contains("protocol version") => Err(other(None)),
            Ok(Reply::Error(e)) => Err(ControlError::Daemon(e)),
            Err(WireError::Version { peer }) => Err(other(Some(peer))),
            Err(WireError::Timeout) => Err(ControlError::HelloTimeout { pid }),
            Err(WireError::Decode(_) | WireError::TrailingBytes(_) | WireError::FdCount { .. })
            | Ok(_) => Err(other(None)),
            Err(e) => Err(e.into()),
        }
    }

    /// Connects to the running daemon, starting one first if none runs.
    pub fn connect_or_start() -> Result<Client, ControlError> {
        match Client::connect() {
            Err(ControlError::NoDaemon(_)) => {
                start_daemon()?;
                Client::connect()
            }
            Err(ControlError::Rundir(RundirError::Stat { .. })) => {
                start_daemon()?;
                Client::connect()
            }
            other => other,
        }
    }

    /// The daemon's process id.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon_pid
    }

    fn call(&mut self, req: Request) -> Result<Reply, ControlError> {
        let reply = match socket::call::<_, Reply>(&self.sock, &req) {
            // The daemon closes a connection that stays silent too long, before it
            // reads anything more from it: the request was not seen, and goes again
            // on a new connection.
            Err(WireError::Closed) => {
                *self = Client::connect()?;
                socket::call::<_, Reply>(&self.sock, &req)?
            }
            r => r?,
        };
        match reply {
            Reply::Error(e) => Err(ControlError::Daemon(e)),
            r => Ok(r),
        }
    }

    fn done(&mut self, req: Request) -> Result<(), ControlError> {
        match self.call(req)? {
            Reply::Done => Ok(()),
            _ => Err(ControlError::Unexpected),
        }
    }

    /// Creates a session; returns its name and output directory.
    pub fn create(
        &mut self,
        name: Option<&str>,
        output: Option<&Path>,
        snapshot: bool,
    ) -> Result<(String, String), ControlError> {
        let req = Request::CreateSession(CreateSession {
            name: name.map(str::to_string),
            output: output.map(|p| p.display().to_string()),
            snapshot,
        });
        match self.call(req)? {
            Reply::Created { name, output } => Ok((name, output)),
            _ => Err(ControlError::Unexpected),
        }
    }

    pub fn destroy(&mut self, session: &str) -> Result<(), ControlError> {
        self.done(Request::DestroySession {
            session: session.into(),
        })
    }

    pub fn list(&mut self) -> Result<Vec<SessionSummary>, ControlError> {
        match self.call(Request::ListSessions)? {
            Reply::Sessions(v) => Ok(v),
            _ => Err(ControlError::Unexpected),
        }
    }

    pub fn session(&mut self, session: &str) -> Result<SessionDetail, ControlError> {
        match self.call(Request::Session {
            session: session.into(),
        })? {
            Reply::Session(s) => Ok(s),
            _ => Err(ControlError::Unexpected),
        }
    }

    pub fn enable_channel(&mut self, session: &str, spec: ChannelSpec) -> Result<(), ControlError> {
        self.done(Request::EnableChannel {
            session: session.into(),
            channel: spec,
        })
    }

    pub fn enable_event(
        &mut self,
        session: &str,
        channel: Option<&str>,
        rule: EventRule,
    ) -> Result<(), ControlError> {
        self.done(Request::EnableEvent {
            session: session.into(),
            channel: channel.map(str::to_string),
            rule,
        })
    }

    /// Disables the rules with this pattern (`None`: all rules of the channel).
    pub fn disable_event(
        &mut self,
        session: &str,
        channel: Option<&str>,
        pattern: Option<&str>,
    ) -> Result<(), ControlError> {
        self.done(Request::DisableEvent {
            session: session.into(),
            channel: channel.map(str::to_string),
            pattern: pattern.map(str::to_string),
        })
    }

    pub fn add_context(
        &mut self,
        session: &str,
        channel: Option<&str>,
        contexts: Vec<ContextKind>,
    ) -> Result<(), ControlError> {
        self.done(Request::AddContext {
            session: session.into(),
            channel: channel.map(str::to_string),
            contexts,
        })
    }

    pub fn start(&mut self, session: &str) -> Result<(), ControlError> {
        self.done(Request::Start {
            session: session.into(),
        })
    }

    /// Stops recording; returns once everything recorded is written out.
    pub fn stop(&mut self, session: &str) -> Result<(), ControlError> {
        self.done(Request::Stop {
            session: session.into(),
        })
    }

    pub fn list_tracepoints(&mut self) -> Result<Vec<AppTracepoints>, ControlError> {
        match self.call(Request::ListTracepoints)? {
            Reply::Tracepoints(v) => Ok(v),
            _ => Err(ControlError::Unexpected),
        }
    }

    /// Writes the buffers' current contents as a new trace; returns its directory.
    pub fn snapshot_record(
        &mut self,
        session: &str,
        name: Option<&str>,
    ) -> Result<String, ControlError> {
        match self.call(Request::SnapshotRecord {
            session: session.into(),
            name: name.map(str::to_string),
        })? {
            Reply::Snapshot { path } => Ok(path),
            _ => Err(ControlError::Unexpected),
        }
    }

    /// Enables kernel events (names or globs, `--syscall`); returns those newly enabled.
    /// Enables kernel events (names or globs) and, with `syscalls`, the system calls
    /// it names (all of them when empty).
    pub fn enable_kernel_events(
        &mut self,
        session: &str,
        patterns: Vec<String>,
        syscalls: Option<Vec<String>>,
    ) -> Result<Vec<String>, ControlError> {
        match self.call(Request::EnableKernelEvents {
            session: session.into(),
            patterns,
            syscalls: syscalls.is_some(),
            syscall_names: syscalls.unwrap_or_default(),
        })? {
            Reply::KernelEvents(v) => Ok(v),
            _ => Err(ControlError::Unexpected),
        }
    }

    /// Disables kernel events (names or globs); returns those disabled.
    pub fn disable_kernel_events(
        &mut self,
        session: &str,
        patterns: Vec<String>,
    ) -> Result<Vec<String>, ControlError> {
        match self.call(Request::DisableKernelEvents {
            session: session.into(),
            patterns,
        })? {
            Reply::KernelEvents(v) => Ok(v),
            _ => Err(ControlError::Unexpected),
        }
    }

    /// `lttng add-context -k`: returns the contexts newly added.
    pub fn add_kernel_context(
        &mut self,
        session: &str,
        contexts: Vec<proto::event::KernelContext>,
    ) -> Result<Vec<String>, ControlError> {
        match self.call(Request::AddKernelContext {
            session: session.into(),
            contexts,
        })? {
            Reply::KernelEvents(v) => Ok(v),
            _ => Err(ControlError::Unexpected),
        }
    }

    /// Kernel events of these processes and their children only.
    pub fn kernel_pids(&mut self, session: &str, pids: Vec<u32>) -> Result<(), ControlError> {
        self.done(Request::KernelPids {
            session: session.into(),
            pids,
        })
    }

    /// The kernel buffer per CPU, in KiB (before any kernel event).
    pub fn enable_kernel_channel(
        &mut self,
        session: &str,
        buffer_kb: u32,
    ) -> Result<(), ControlError> {
        self.done(Request::EnableKernelChannel {
            session: session.into(),
            buffer_kb,
        })
    }

    /// The kernel events this user may enable (through privd).
    pub fn list_kernel_events(&mut self) -> Result<Vec<String>, ControlError> {
        match self.call(Request::ListKernelEvents)? {
            Reply::KernelEvents(v) => Ok(v),
            _ => Err(ControlError::Unexpected),
        }
    }

    pub fn daemon_status(&mut self) -> Result<DaemonStatus, ControlError> {
        match self.call(Request::DaemonStatus)? {
            Reply::DaemonStatus(s) => Ok(s),
            _ => Err(ControlError::Unexpected),
        }
    }
}

/// Where `lttng-sessiond` is.
fn sessiond_path() -> PathBuf {
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("lttng-sessiond")))
        .filter(|p| p.exists())
    {
        return p;
    }
    if let Some(p) = std::env::var_os("LTTNG_SESSIOND_PATH") {
        return PathBuf::from(p);
    }
    PathBuf::from("lttng-sessiond")
}

/// Runs `lttng-sessiond --daemonize`, which returns once the daemon serves.
fn start_daemon() -> Result<(), ControlError> {
    let path = sessiond_path();
    let out = Command::new(&path)
        .arg("--daemonize")
        .output()
        .map_err(|e| ControlError::Start(format!("{} cannot run: {e}", path.display())))?;
    if out.status.success() {
        return Ok(());
    }
    // Another `lttng` may have started one at the same moment: fine.
    if out.status.code() == Some(3) {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    let why = why.trim().trim_start_matches("lttng-sessiond: ");
    Err(ControlError::Start(if why.is_empty() {
        format!("{} exited with {}", path.display(), out.status)
    } else {
        why.to_string()
    }))
}
