//! Control connections from the `lttng` command: one thread per connection, one reply
//! per request. Only the daemon's own uid may connect. A connection must say hello
//! within its deadline and is closed after a silence (the `lttng` library reconnects
//! on its next request); a reply the client does not read ends it (see
//! `listeners::Bounds`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use proto::wire::control::{Reply, Request};
use proto::wire::socket;
use proto::wire::{WireError, VERSION};

use crate::daemon::{lock, Shared};
use crate::listeners::Bounds;

/// Serves one client until it disconnects, sends garbage or misses a deadline.
pub fn serve(daemon: Shared, sock: OwnedFd, bounds: Bounds) {
    let uid = lock(&daemon).uid;
    match socket::peer_cred(sock.as_fd()) {
        Ok(c) if c.uid == uid => {}
        Ok(c) => {
            eprintln!(
                "lttng-sessiond: refused a client of uid {} (pid {})",
                c.uid, c.pid
            );
            let _ = socket::send(
                sock.as_fd(),
                &Reply::Error(format!(
                    "this session daemon belongs to uid {uid}; start your own (uid {})",
                    c.uid
                )),
                &[],
            );
            linger(sock.as_fd());
            return;
        }
        Err(_) => return,
    }
    if socket::set_send_timeout(sock.as_fd(), Some(bounds.reply_timeout)).is_err() {
        return;
    }
    let mut greeted = false;
    loop {
        let deadline = if greeted {
            bounds.idle_timeout
        } else {
            bounds.hello_timeout
        };
        if socket::set_recv_timeout(sock.as_fd(), Some(deadline)).is_err() {
            return;
        }
        let received = if greeted {
            socket::recv::<Request>(sock.as_fd())
        } else {
            socket::recv_hello::<Request>(sock.as_fd())
        };
        let req = match received {
            Ok(r) => r.msg,
            Err(WireError::Version { peer }) => {
                let _ = socket::send(sock.as_fd(), &Reply::Error(other_release(peer)), &[]);
                linger(sock.as_fd());
                return;
            }
            // Idle: closed without a word (the client reconnects when it needs to).
            Err(WireError::Timeout) if greeted => return,
            Err(WireError::Timeout) => {
                let _ = socket::send(
                    sock.as_fd(),
                    &Reply::Error(format!(
                        "no hello within {:?} (lttng-sessiond --hello-timeout-ms)",
                        bounds.hello_timeout
                    )),
                    &[],
                );
                return;
            }
            Err(WireError::Closed) | Err(WireError::Io(_)) => return,
            Err(e) => {
                // A malformed request gets an error reply, then the peer is
                // disconnected (DESIGN §5): its descriptors are already closed.
                let _ = socket::send(
                    sock.as_fd(),
                    &Reply::Error(format!("bad request: {e}")),
                    &[],
                );
                linger(sock.as_fd());
                return;
            }
        };
        let reply = match req {
            Request::Hello { version } if version == VERSION => {
                greeted = true;
                Reply::Hello {
                    version: VERSION,
                    pid: std::process::id(),
                }
            }
            Request::Hello { version } => Reply::Error(other_release(version)),
            _ if !greeted => Reply::Error("say hello first (protocol error)".into()),
            req => handle(&daemon, req),
        };
        match socket::send(sock.as_fd(), &reply, &[]) {
            Ok(()) => {}
            Err(WireError::Timeout) => {
                eprintln!(
                    "lttng-sessiond: dropped a client that did not read its reply within {:?}",
                    bounds.reply_timeout
                );
                return;
            }
            Err(_) => return,
        }
    }
}

/// The refusal of an `lttng` of another release. Its words "protocol version" are
/// what every release's `lttng` recognises as a refusal of its version.
fn other_release(peer: u32) -> String {
    let pid = std::process::id();
    format!(
        "this lttng speaks protocol version {peer} and the session daemon (pid {pid}) \
         {VERSION}: they are from different releases of the tracer. Restart your session \
         daemon (`kill {pid}` stops it after writing out its sessions' traces; the next \
         `lttng` command starts the one installed with that lttng), or use the lttng \
         installed with the daemon"
    )
}

/// Before closing a refused peer's connection: reads (and drops) what it already
/// sent, briefly. Closing a socket with unread messages resets the connection, and
/// the peer would lose the reply that says why it was refused.
pub fn linger(sock: BorrowedFd<'_>) {
    if socket::set_timeout(sock, Some(Duration::from_millis(500))).is_err() {
        return;
    }
    for _ in 0..4 {
        match socket::recv_bytes(sock) {
            Ok(_) | Err(WireError::TooLarge) | Err(WireError::FdsTruncated) => {}
            Err(_) => return,
        }
    }
}

fn handle(daemon: &Shared, req: Request) -> Reply {
    let mut d = lock(daemon);
    let done = |r: Result<(), crate::daemon::DaemonError>| match r {
        Ok(()) => Reply::Done,
        Err(e) => Reply::Error(e.to_string()),
    };
    match req {
        Request::Hello { .. } => Reply::Error("already greeted".into()),
        Request::CreateSession(c) => match d.create_session(c) {
            Ok((name, output)) => Reply::Created { name, output },
            Err(e) => Reply::Error(e.to_string()),
        },
        Request::DestroySession { session } => done(d.destroy_session(&session)),
        Request::ListSessions => Reply::Sessions(d.list_sessions()),
        Request::Session { session } => match d.session_detail(&session) {
            Ok(s) => Reply::Session(s),
            Err(e) => Reply::Error(e.to_string()),
        },
        Request::EnableChannel { session, channel } => done(d.enable_channel(&session, channel)),
        Request::EnableEvent {
            session,
            channel,
            rule,
        } => done(d.enable_event(&session, channel, rule)),
        Request::DisableEvent {
            session,
            channel,
            pattern,
        } => done(d.disable_event(&session, channel, pattern)),
        Request::AddContext {
            session,
            channel,
            contexts,
        } => done(d.add_context(&session, channel, contexts)),
        Request::Start { session } => done(d.start(&session)),
        Request::Stop { session } => done(d.stop(&session)),
        Request::ListTracepoints => Reply::Tracepoints(d.list_tracepoints()),
        Request::SnapshotRecord { session, name } => match d.snapshot_record(&session, name) {
            Ok(path) => Reply::Snapshot { path },
            Err(e) => Reply::Error(e.to_string()),
        },
        Request::DaemonStatus => Reply::DaemonStatus(d.status()),
        Request::EnableKernelEvents {
            session,
            patterns,
            syscalls,
            syscall_names,
        } => match d.enable_kernel_events(&session, patterns, syscalls.then_some(syscall_names)) {
            Ok(v) => Reply::KernelEvents(v),
            Err(e) => Reply::Error(e.to_string()),
        },
        Request::DisableKernelEvents { session, patterns } => {
            match d.disable_kernel_events(&session, patterns) {
                Ok(v) => Reply::KernelEvents(v),
                Err(e) => Reply::Error(e.to_string()),
            }
        }
        Request::KernelPids { session, pids } => done(d.kernel_pids(&session, pids)),
        Request::AddKernelContext { session, contexts } => {
            match d.add_kernel_context(&session, contexts) {
                Ok(v) => Reply::KernelEvents(v.iter().map(|c| c.name().to_string()).collect()),
                Err(e) => Reply::Error(e.to_string()),
            }
        }
        Request::EnableKernelChannel { session, buffer_kb } => {
            done(d.enable_kernel_channel(&session, buffer_kb))
        }
        Request::ListKernelEvents => {
            let uid = d.uid;
            // privd may be slow; do not hold the daemon's lock meanwhile.
            drop(d);
            match crate::privd::list_events(uid) {
                Ok(v) => Reply::KernelEvents(v),
                Err(e) => Reply::Error(e.to_string()),
            }
        }
    }
}
