//! Registered applications: the registration handshake and the commands the daemon
//! sends them.
//!
//! An application connects to `app.sock`; its uid must be the daemon's (SO_PEERCRED).
//! It sends its hello and tracepoint descriptions within [`REGISTER_TIMEOUT`]; every
//! description is validated ([`EventDesc::validate`]) before anything else sees it: an
//! invalid one is never enabled. Every later command gets a reply within
//! [`REPLY_TIMEOUT`]; an application that does not answer is disconnected.

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use proto::event::EventDesc;
use proto::wire::app::{AppMessage, DaemonMessage, MAX_TRACEPOINTS};
use proto::wire::socket::{self, PeerCred};
use proto::wire::{WireError, VERSION};

/// How long an application has to send its registration.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an application has to answer a command.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(1);
/// Most applications registered at once.
pub const MAX_APPS: usize = 4096;

/// Why an application was refused or disconnected.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("application of uid {peer} refused: this daemon serves uid {ours} only")]
    Uid { peer: u32, ours: u32 },
    #[error("application sent {0} instead of its hello")]
    NoHello(&'static str),
    #[error("application announces {0} tracepoints (at most {MAX_TRACEPOINTS})")]
    TooManyTracepoints(u32),
    #[error("application sent more tracepoint descriptions than it announced")]
    ExtraTracepoints,
    #[error("late tracepoints out of order: a message starts at index {got}, {expected} expected")]
    OutOfOrder { expected: u64, got: u32 },
    #[error("application failed a command: {0}")]
    Failed(String),
    #[error("application answered with something other than a reply")]
    NotAReply,
}

/// One registered application.
#[derive(Debug)]
pub struct App {
    pub id: u64,
    pub pid: u32,
    pub procname: String,
    pub sock: OwnedFd,
    /// Its tracepoints by index; `None` for descriptions that failed validation.
    pub tracepoints: Vec<Option<EventDesc>>,
    /// Channel keys the application has received.
    pub channels: HashSet<u64>,
}

/// A registration in progress: what the application announced.
#[derive(Debug)]
pub struct Hello {
    pub pid: u32,
    pub procname: String,
    pub tracepoints: Vec<Option<EventDesc>>,
}

/// What a new connection on `app.sock` brings.
#[derive(Debug)]
pub enum Arrival {
    /// A new application.
    Hello(Hello),
    /// More tracepoints of the registered application with this pid, to append from
    /// index `first`; `None` where a description failed validation.
    More {
        pid: u32,
        first: u32,
        tracepoints: Vec<Option<EventDesc>>,
    },
}

/// Reads an application's registration from `sock`, checking its credentials.
pub fn read_registration(
    sock: BorrowedFd<'_>,
    cred: PeerCred,
    uid: u32,
) -> Result<Arrival, AppError> {
    if cred.uid != uid {
        return Err(AppError::Uid {
            peer: cred.uid,
            ours: uid,
        });
    }
    socket::set_timeout(sock, Some(REGISTER_TIMEOUT))?;
    let refuse = |version: u32| {
        let _ = socket::send(
            sock,
            &DaemonMessage::Refused(format!(
                "protocol version {version} is not the daemon's ({VERSION}): the application's libust is from another release; restart your session daemon if the package was upgraded, else rebuild the application against this release"
            )),
            &[],
        );
        WireError::Version { peer: version }
    };
    let first = match socket::recv_hello::<AppMessage>(sock) {
        Err(WireError::Version { peer }) => return Err(refuse(peer).into()),
        r => r?,
    };
    let (version, procname, count) = match first.msg {
        AppMessage::Hello {
            version,
            procname,
            tracepoints,
            ..
        } => (version, procname, tracepoints),
        AppMessage::MoreTracepoints { first, descs } => {
            return read_more(sock, cred, first, descs).map(|(first, tracepoints)| Arrival::More {
                pid: cred.pid as u32,
                first,
                tracepoints,
            })
        }
        AppMessage::Tracepoints(_) => return Err(AppError::NoHello("tracepoints")),
        AppMessage::Reply(_) => return Err(AppError::NoHello("a reply")),
    };
    if version != VERSION {
        return Err(refuse(version).into());
    }
    if count > MAX_TRACEPOINTS {
        return Err(AppError::TooManyTracepoints(count));
    }
    let mut tracepoints = Vec::with_capacity(count as usize);
    while tracepoints.len() < count as usize {
        match socket::recv::<AppMessage>(sock)?.msg {
            AppMessage::Tracepoints(descs) => {
                if tracepoints.len() + descs.len() > count as usize {
                    return Err(AppError::ExtraTracepoints);
                }
                checked_into(&mut tracepoints, descs, cred);
            }
            _ => return Err(AppError::NoHello("another hello")),
        }
    }
    // The kernel's view of the pid is the truth (the app may live in a pid namespace).
    let procname: String = procname
        .chars()
        .filter(|c| !c.is_control())
        .take(16)
        .collect();
    Ok(Arrival::Hello(Hello {
        pid: cred.pid as u32,
        procname,
        tracepoints,
    }))
}

/// Validates each description, keeping `None` in the place of a refused one.
fn checked_into(out: &mut Vec<Option<EventDesc>>, descs: Vec<EventDesc>, cred: PeerCred) {
    for d in descs {
        match check_app_desc(&d) {
            Ok(()) => out.push(Some(d)),
            Err(e) => {
                eprintln!("lttng-sessiond: app {}: tracepoint refused: {e}", cred.pid);
                out.push(None);
            }
        }
    }
}

/// Reads a `MoreTracepoints` batch (the first message is given), up to its empty
/// closing message; the indexes must follow on from each other.
fn read_more(
    sock: BorrowedFd<'_>,
    cred: PeerCred,
    first: u32,
    mut descs: Vec<EventDesc>,
) -> Result<(u32, Vec<Option<EventDesc>>), AppError> {
    let mut tracepoints = Vec::new();
    loop {
        if descs.is_empty() {
            return Ok((first, tracepoints));
        }
        if tracepoints.len() + descs.len() > MAX_TRACEPOINTS as usize {
            return Err(AppError::TooManyTracepoints(MAX_TRACEPOINTS + 1));
        }
        checked_into(&mut tracepoints, std::mem::take(&mut descs), cred);
        match socket::recv::<AppMessage>(sock)?.msg {
            AppMessage::MoreTracepoints {
                first: next,
                descs: more,
            } => {
                let expected = u64::from(first) + tracepoints.len() as u64;
                if u64::from(next) != expected {
                    return Err(AppError::OutOfOrder {
                        expected,
                        got: next,
                    });
                }
                descs = more;
            }
            _ => return Err(AppError::NoHello("another message")),
        }
    }
}

/// Checks a description an application registers: valid for the metadata, and with a
/// provider (only kernel events have none).
pub fn check_app_desc(d: &EventDesc) -> Result<(), String> {
    if d.provider.is_empty() {
        return Err("an application's tracepoint needs a provider".into());
    }
    d.validate().map_err(|e| e.to_string())
}

/// Sends `msg` (with `fds`) and waits for the application's reply.
pub fn call(sock: &OwnedFd, msg: &DaemonMessage, fds: &[BorrowedFd<'_>]) -> Result<(), AppError> {
    socket::set_timeout(sock.as_fd(), Some(REPLY_TIMEOUT))?;
    socket::send(sock.as_fd(), msg, fds)?;
    read_reply(sock)
}

/// Reads the application's reply to the command it was sent.
fn read_reply(sock: &OwnedFd) -> Result<(), AppError> {
    match socket::recv::<AppMessage>(sock.as_fd())?.msg {
        AppMessage::Reply(None) => Ok(()),
        AppMessage::Reply(Some(e)) => Err(AppError::Failed(e)),
        _ => Err(AppError::NotAReply),
    }
}

/// One application's part of an operation: its socket and the messages to send it
/// in order, each with its descriptors.
pub struct Exchange<'a> {
    pub sock: &'a OwnedFd,
    pub msgs: Vec<(DaemonMessage, Vec<BorrowedFd<'a>>)>,
}

/// Runs every exchange at once: each application gets its next message as soon as
/// it answered the previous one, and fails when it does not answer one within
/// [`REPLY_TIMEOUT`]. The whole takes as long as the slowest application's chain,
/// not the sum of all: however many applications are frozen, an operation waits for
/// them one reply timeout (the daemon holds its lock meanwhile, so this bounds what
/// a stopped application costs every other client).
pub fn exchange_all(exchanges: &[Exchange<'_>]) -> Vec<Result<(), AppError>> {
    let n = exchanges.len();
    // Per exchange: the next message to send, when its pending reply is due, and
    // its result once known (`None` while a reply is pending).
    let mut next = vec![0usize; n];
    let mut due = vec![Instant::now(); n];
    // Sends exchange i's next message; the exchange's result when it has no more.
    let send_next = |i: usize, next: &mut [usize], due: &mut [Instant]| {
        let ex = &exchanges[i];
        let (msg, fds) = match ex.msgs.get(next[i]) {
            Some(m) => m,
            None => return Some(Ok(())),
        };
        if let Err(e) = socket::send(ex.sock.as_fd(), msg, fds) {
            return Some(Err(AppError::from(e)));
        }
        due[i] = Instant::now() + REPLY_TIMEOUT;
        next[i] += 1;
        None
    };
    // Sends block at most a reply timeout too (an application that reads nothing).
    let mut done: Vec<Option<Result<(), AppError>>> = (0..n)
        .map(
            |i| match socket::set_send_timeout(exchanges[i].sock.as_fd(), Some(REPLY_TIMEOUT)) {
                Ok(()) => send_next(i, &mut next, &mut due),
                Err(e) => Some(Err(e.into())),
            },
        )
        .collect();
    loop {
        let waiting: Vec<usize> = (0..n).filter(|&i| done[i].is_none()).collect();
        if waiting.is_empty() {
            break;
        }
        let now = Instant::now();
        let wait = waiting
            .iter()
            .map(|&i| due[i].saturating_duration_since(now))
            .min()
            .unwrap_or_default();
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = waiting
                .iter()
                .map(|&i| PollFd::new(exchanges[i].sock.as_fd(), PollFlags::POLLIN))
                .collect();
            // Rounded up: a poll that returns early never ends an exchange too soon.
            let ms = u16::try_from(wait.as_millis() + 1).unwrap_or(u16::MAX);
            if let Err(e) = poll(&mut fds, PollTimeout::from(ms)) {
                if e != nix::errno::Errno::EINTR {
                    for &i in &waiting {
                        done[i] = Some(Err(AppError::Wire(WireError::Io(e.into()))));
                    }
                    break;
                }
            }
            // nix knows no POLLRDHUP: revents holding unknown bits come back as None.
            fds.iter()
                .map(|f| f.revents().is_none_or(|r| !r.is_empty()))
                .collect()
        };
        let now = Instant::now();
        for (k, &i) in waiting.iter().enumerate() {
            if ready[k] {
                // Readable: the reply (or the hang-up) is there, no wait.
                done[i] = match read_reply(exchanges[i].sock) {
                    Ok(()) => send_next(i, &mut next, &mut due),
                    Err(e) => Some(Err(e)),
                };
            } else if now >= due[i] {
                done[i] = Some(Err(AppError::Wire(WireError::Timeout)));
            }
        }
    }
    done.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
}

/// Disconnects an application: the watcher (`watch`) sees the hang-up and
/// unregisters it.
pub fn disconnect(sock: &OwnedFd) {
    let _ = nix::sys::socket::shutdown(
        std::os::fd::AsRawFd::as_raw_fd(sock),
        nix::sys::socket::Shutdown::Both,
    );
}

#[cfg(test)]
mod tests {
    use super::{check_app_desc, exchange_all, Exchange, REPLY_TIMEOUT};
    use proto::wire::app::{AppMessage, DaemonMessage};
    use proto::wire::socket;
    use std::os::fd::AsFd;

    #[test]
    fn exchanges_run_side_by_side_and_silent_apps_cost_one_timeout_in_all() {
        let pairs: Vec<_> = (0..4).map(|_| socket::pair().unwrap()).collect();
        // App 0 answers all three messages; apps 1..4 never answer.
        let answering = pairs[0].1.try_clone().unwrap();
        let t = std::thread::spawn(move || {
            for _ in 0..3 {
                socket::recv::<DaemonMessage>(answering.as_fd()).unwrap();
                socket::send(answering.as_fd(), &AppMessage::Reply(None), &[]).unwrap();
            }
        });
        let exchanges: Vec<Exchange<'_>> = pairs
            .iter()
            .map(|(ours, _)| Exchange {
                sock: ours,
                msgs: (0..3).map(|_| (DaemonMessage::Ready, Vec::new())).collect(),
            })
            .collect();
        let started = std::time::Instant::now();
        let results = exchange_all(&exchanges);
        let took = started.elapsed();
        t.join().unwrap();
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(results[1..].iter().all(|r| r.is_err()), "{results:?}");
        assert!(
            took >= REPLY_TIMEOUT && took < REPLY_TIMEOUT * 2,
            "{took:?}"
        );
        assert!(exchange_all(&[]).is_empty());
    }
    use proto::event::{EventDesc, LogLevel};

    #[test]
    fn an_app_cannot_register_a_kernel_like_event_without_provider() {
        let d = |provider: &str, name: &str| EventDesc {
            provider: provider.into(),
            name: name.into(),
            loglevel: LogLevel::Info,
            model_emf_uri: None,
            fields: vec![],
        };
        assert!(check_app_desc(&d("myapp", "x")).is_ok());
        assert!(check_app_desc(&d("", "sched_switch")).is_err());
        assert!(check_app_desc(&d("a;b", "x")).is_err());
    }
}
