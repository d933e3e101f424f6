//! The consumer process: spawned by the daemon, talked to over a socket pair, restarted
//! when it dies.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use proto::clock::Source;
use proto::wire::consumer::{ConsumerReply, ConsumerRequest};
use proto::wire::{socket, WireError, VERSION};

/// How long the daemon waits for any consumer answer (a flush of large buffers to a
/// slow disk included) before it declares the consumer hung and replaces it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the consumer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(
        "cannot start the consumer {path}: {source} (is it installed next to lttng-sessiond?)"
    )]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the consumer does not answer: {0}")]
    Wire(#[from] WireError),
    #[error("the consumer refused: {0}")]
    Refused(String),
    #[error("the consumer answered something unexpected")]
    Unexpected,
    #[error("the consumer {} is from another release of the tracer (it speaks protocol {peer}, this session daemon {VERSION}): the package was upgraded under a running session daemon; restart your session daemon (`kill {}`: it writes out its sessions' traces first)", path.display(), std::process::id())]
    OtherRelease { path: PathBuf, peer: u32 },
}

/// The running consumer, if any.
#[derive(Debug)]
pub struct Consumer {
    pub path: PathBuf,
    sock: Option<OwnedFd>,
    pub pid: Option<u32>,
    /// Bumped at every (re)start, so a supervisor knows whether its child is current.
    pub generation: u64,
    pub restarts: u32,
    pub sandboxed: bool,
}

impl Consumer {
    pub fn new(path: PathBuf) -> Consumer {
        Consumer {
            path,
            sock: None,
            pid: None,
            generation: 0,
            restarts: 0,
            sandboxed: false,
        }
    }

    pub fn is_running(&self) -> bool {
        self.sock.is_some()
    }

    /// Spawns a consumer and greets it. Returns the child for the caller to supervise.
    pub fn spawn(
        &mut self,
        clock: Source,
        output: &Path,
        allow_unsandboxed: bool,
    ) -> Result<Child, ConsumerError> {
        let (ours, theirs) = socket::pair()?;
        let spawn_err = |source| ConsumerError::Spawn {
            path: self.path.clone(),
            source,
        };
        // The child's end must survive exec; it is closed here right after the spawn.
        fcntl(theirs.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
            .map_err(|e| spawn_err(e.into()))?;
        let mut cmd = Command::new(&self.path);
        cmd.arg("--control-fd")
            .arg(theirs.as_raw_fd().to_string())
            .arg("--output")
            .arg(output)
            .stdin(Stdio::null());
        if allow_unsandboxed {
            cmd.arg("--allow-unsandboxed");
        }
        let child = cmd.spawn().map_err(spawn_err)?;
        drop(theirs);
        socket::set_timeout(ours.as_fd(), Some(REPLY_TIMEOUT))?;
        self.generation += 1;
        self.pid = Some(child.id());
        let hello = socket::call_hello::<_, ConsumerReply>(
            &ours,
            &ConsumerRequest::Hello {
                version: VERSION,
                clock,
            },
        );
        self.sock = Some(ours);
        // An old daemon meeting a consumer installed by a newer package (or the
        // reverse) learns it from the version its hello answer starts with.
        match hello {
            Ok(ConsumerReply::Hello { sandboxed, .. }) => {
                self.sandboxed = sandboxed;
                Ok(child)
            }
            Err(WireError::Version { peer }) => {
                self.kill();
                Err(ConsumerError::OtherRelease {
                    path: self.path.clone(),
                    peer,
                })
            }
            Err(e) => {
                self.kill();
                Err(e.into())
            }
            Ok(ConsumerReply::Error(e)) => {
                self.forget();
                Err(ConsumerError::Refused(e))
            }
            _ => {
                self.forget();
                Err(ConsumerError::Unexpected)
            }
        }
    }

    /// Sends one request and returns the reply; `Error` replies become errors.
    pub fn call(
        &mut self,
        req: &ConsumerRequest,
        fds: &[BorrowedFd<'_>],
    ) -> Result<ConsumerReply, ConsumerError> {
        let Some(sock) = &self.sock else {
            return Err(WireError::Closed.into());
        };
        let r = socket::send(sock.as_fd(), req, fds)
            .and_then(|()| socket::recv::<ConsumerReply>(sock.as_fd()));
        match r {
            Ok(got) => match got.msg {
                ConsumerReply::Error(e) => Err(ConsumerError::Refused(e)),
                other => Ok(other),
            },
            Err(e) => {
                // A consumer that fails to answer is replaced.
                self.kill();
                Err(e.into())
            }
        }
    }

    /// Kills the current consumer (its supervisor then reaps it).
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.forget();
    }

    /// Drops the connection (the consumer drains everything and exits on EOF).
    pub fn forget(&mut self) {
        self.sock = None;
        self.pid = None;
    }
}
