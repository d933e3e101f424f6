//! The request loop: one thread per connection; the instances a connection created
//! are torn down when it ends, however it ends (the session daemon exited, crashed or
//! was killed).

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use proto::clock::Source;
use proto::wire::privd::{PrivReply, PrivRequest, MAX_EVENTS_PER_REQUEST};
use proto::wire::socket::{self, PeerCred};
use proto::wire::{WireError, VERSION};

use crate::auth::{self, Caller, Connection};
use crate::config::Config;
use crate::tracefs::{self, Instance};

/// State shared by the connections.
pub struct Server {
    pub cfg: Config,
    /// Instances per uid, for the per-user limit.
    per_uid: Mutex<HashMap<u32, u32>>,
    next: Mutex<u64>,
    /// `Some(mode)` when kernel lockdown forbids tracefs.
    pub lockdown: Option<String>,
    /// Instances destroyed while someone still held one of their streams: removed
    /// by [`Server::reap`] once tracefs lets go. They still count for their user.
    pending: Mutex<Vec<(u32, Instance)>>,
}

impl Server {
    pub fn new(cfg: Config, lockdown: Option<String>) -> Server {
        Server {
            cfg,
            per_uid: Mutex::new(HashMap::new()),
            next: Mutex::new(0),
            lockdown,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Destroys `inst` (of `uid`): at once, or later when its streams are closed.
    fn retire(&self, uid: u32, inst: Instance) {
        if inst.destroy() {
            self.uncount(uid);
        } else {
            eprintln!(
                "lttng-privd: instance {} of uid {uid} still has open streams: removed when they are closed",
                inst.name
            );
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((uid, inst));
        }
    }

    fn uncount(&self, uid: u32) {
        let mut m = self.per_uid.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&uid) {
            *n = n.saturating_sub(1);
        }
    }

    /// Tries again to remove the instances whose removal was deferred.
    pub fn reap(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = Vec::new();
        for (uid, inst) in pending.drain(..) {
            if inst.destroy() {
                eprintln!("lttng-privd: removed instance {} of uid {uid}", inst.name);
                self.uncount(uid);
            } else {
                kept.push((uid, inst));
            }
        }
        *pending = kept;
    }

    fn tracefs(&self) -> PathBuf {
        self.cfg.tracefs.clone()
    }
}

/// The instances of one connection, by session number.
struct Conn {
    server: Arc<Server>,
    instances: HashMap<u32, (u32, Instance)>,
    next_session: u32,
}

impl Drop for Conn {
    fn drop(&mut self) {
        for (_, (uid, inst)) in self.instances.drain() {
            eprintln!(
                "lttng-privd: connection closed: removing instance {} of uid {uid}",
                inst.name
            );
            self.server.retire(uid, inst);
        }
    }
}

/// Serves one connection.
pub fn serve(server: Arc<Server>, sock: OwnedFd) {
    let conn_info = match connection(&sock) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lttng-privd: refused a connection: {e}");
            return;
        }
    };
    let mut conn = Conn {
        server,
        instances: HashMap::new(),
        next_session: 1,
    };
    let cfg = &conn.server.cfg;
    // A reply the client does not read ends the connection (its instances go with
    // it) rather than holding this thread.
    let (hello_timeout, idle_timeout) = (cfg.hello_timeout, cfg.idle_timeout);
    if socket::set_send_timeout(sock.as_fd(), Some(cfg.reply_timeout)).is_err() {
        return;
    }
    let mut greeted = false;
    loop {
        // Until its hello, a connection has `hello_timeout`; then, while it holds no
        // instance, `idle_timeout` between requests; with an instance, no deadline
        // (the session daemon keeps it for the session's life).
        let deadline = match (greeted, conn.instances.is_empty()) {
            (false, _) => Some(hello_timeout),
            (true, true) => Some(idle_timeout),
            (true, false) => None,
        };
        if socket::set_recv_timeout(sock.as_fd(), deadline).is_err() {
            return;
        }
        let (req, sender) = match socket::recv_with_sender::<PrivRequest>(sock.as_fd()) {
            Ok((r, c)) => (r.msg, c),
            Err(WireError::Timeout) => {
                let why = if greeted {
                    format!("idle for {idle_timeout:?} with no kernel session")
                } else {
                    format!("no hello within {hello_timeout:?}")
                };
                eprintln!(
                    "lttng-privd: uid {} pid {}: closed the connection: {why}",
                    conn_info.uid, conn_info.pid
                );
                let _ = socket::send(
                    sock.as_fd(),
                    &PrivReply::Error(format!("lttng-privd closed the connection: {why}")),
                    &[],
                );
                return;
            }
            Err(WireError::Closed) => return,
            Err(WireError::Io(e)) => {
                eprintln!(
                    "lttng-privd: uid {} pid {}: connection ended: {e}",
                    conn_info.uid, conn_info.pid
                );
                return;
            }
            Err(e) => {
                // Malformed: one error reply, then the connection ends (its instances
                // go with it).
                let _ = socket::send(
                    sock.as_fd(),
                    &PrivReply::Error(format!("bad request: {e}")),
                    &[],
                );
                return;
            }
        };
        if !greeted && !matches!(req, PrivRequest::Hello { .. }) {
            let _ = socket::send(
                sock.as_fd(),
                &PrivReply::Error("say hello first: the first request is Hello".into()),
                &[],
            );
            return;
        }
        greeted = true;
        let (reply, fd) = match auth::authorize(sender, &conn_info, &conn.server.cfg.group) {
            Ok(caller) => {
                let (reply, fd) = conn.handle(&caller, req.clone());
                log(&caller, &req, &reply);
                (reply, fd)
            }
            Err(why) => {
                eprintln!(
                    "lttng-privd: uid {} pid {}: denied {}",
                    sender.uid,
                    sender.pid,
                    summary(&req)
                );
                (PrivReply::Denied(why), None)
            }
        };
        let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
        match socket::send(sock.as_fd(), &reply, &fds) {
            Ok(()) => {}
            Err(WireError::Timeout) => {
                eprintln!(
                    "lttng-privd: uid {} pid {}: closed the connection: it did not read a reply within {:?}",
                    conn_info.uid, conn_info.pid, conn.server.cfg.reply_timeout
                );
                return;
            }
            Err(WireError::Closed) => return,
            Err(e) => {
                eprintln!(
                    "lttng-privd: uid {} pid {}: connection ended: cannot reply: {e}",
                    conn_info.uid, conn_info.pid
                );
                return;
            }
        }
    }
}

fn connection(sock: &OwnedFd) -> Result<Connection, String> {
    let c: PeerCred = socket::peer_cred(sock.as_fd()).map_err(|e| e.to_string())?;
    let groups = crate::sys::peer_groups(sock.as_fd()).map_err(|e| e.to_string())?;
    Ok(Connection {
        pid: c.pid,
        uid: c.uid,
        gid: c.gid,
        groups,
    })
}

fn summary(req: &PrivRequest) -> String {
    match req {
        // Debug-escaped: a client's names must not forge lines in the log.
        PrivRequest::EnableEvents { session, events }
        | PrivRequest::DisableEvents { session, events } => {
            let shown: String = format!("{events:?}").chars().take(400).collect();
            format!(
                "enable {} event(s) in session {session}: {shown}",
                events.len()
            )
        }
        other => format!("{other:?}").chars().take(120).collect(),
    }
}

fn log(caller: &Caller, req: &PrivRequest, reply: &PrivReply) {
    if matches!(
        req,
        PrivRequest::Hello { .. }
            | PrivRequest::Stream { .. }
            | PrivRequest::Format { .. }
            | PrivRequest::HeaderEvent { .. }
    ) {
        return;
    }
    let outcome = match reply {
        PrivReply::Error(e) | PrivReply::Denied(e) => format!("refused: {e}"),
        _ => "ok".into(),
    };
    eprintln!(
        "lttng-privd: uid {} ({}) pid {}: {} -> {outcome}",
        caller.uid,
        caller.name,
        caller.pid,
        summary(req)
    );
}

impl Conn {
    fn handle(&mut self, caller: &Caller, req: PrivRequest) -> (PrivReply, Option<OwnedFd>) {
        let cfg = &self.server.cfg;
        if let (Some(mode), false) = (
            &self.server.lockdown,
            matches!(req, PrivRequest::Hello { .. }),
        ) {
            return (
                PrivReply::Error(format!(
                    "kernel tracing is unavailable: the kernel is locked down (lockdown={mode})"
                )),
                None,
            );
        }
        let reply = match req {
            PrivRequest::Hello { version } if version == VERSION => {
                PrivReply::Hello { version: VERSION }
            }
            // A session daemon of another release (`PrivRequest::Hello` holds only the
            // version, in every release): its user must restart it.
            PrivRequest::Hello { version } => PrivReply::Error(format!(
                "this session daemon speaks protocol version {version} and lttng-privd \
                 {VERSION}: they are from different releases of the tracer; restart your \
                 session daemon (`kill {}`: it writes out its sessions' traces first)",
                caller.pid
            )),
            PrivRequest::ListEvents => PrivReply::Events(
                tracefs::kernel_events(&self.server.tracefs())
                    .into_iter()
                    .filter(|e| cfg.allows(e))
                    .collect(),
            ),
            PrivRequest::CreateSession { buffer_kb, clock } => {
                self.create(caller, buffer_kb, clock)
            }
            PrivRequest::EnableEvents { session, events } => {
                if events.len() > MAX_EVENTS_PER_REQUEST {
                    PrivReply::Error(format!(
                        "at most {MAX_EVENTS_PER_REQUEST} events per request"
                    ))
                } else if let Some(bad) = events
                    .iter()
                    .find(|e| !tracefs::is_event_name(e) || !cfg.allows(e))
                {
                    PrivReply::Denied(format!(
                        "event {:?} is not allowed here (see `lttng list -k`)",
                        bad.chars().take(80).collect::<String>()
                    ))
                } else {
                    match self.instance(caller, session) {
                        Ok(inst) => events
                            .iter()
                            .try_for_each(|e| inst.enable(e))
                            .map_or_else(|e| PrivReply::Error(e.to_string()), |()| PrivReply::Done),
                        Err(r) => r,
                    }
                }
            }
            PrivRequest::DisableEvents { session, events } => {
                if events.len() > MAX_EVENTS_PER_REQUEST {
                    PrivReply::Error(format!(
                        "at most {MAX_EVENTS_PER_REQUEST} events per request"
                    ))
                } else {
                    match self.instance(caller, session) {
                        Ok(inst) => events
                            .iter()
                            .try_for_each(|e| inst.disable(e))
                            .map_or_else(|e| PrivReply::Error(e.to_string()), |()| PrivReply::Done),
                        Err(r) => r,
                    }
                }
            }
            PrivRequest::SetEventPids { session, pids } => {
                if pids.is_empty() || pids.len() > proto::wire::privd::MAX_PIDS {
                    PrivReply::Error(format!(
                        "give 1 to {} process ids",
                        proto::wire::privd::MAX_PIDS
                    ))
                } else {
                    match self.instance(caller, session) {
                        Ok(inst) => inst
                            .set_pids(&pids)
                            .map_or_else(|e| PrivReply::Error(e.to_string()), |()| PrivReply::Done),
                        Err(r) => r,
                    }
                }
            }
            PrivRequest::SyscallFilter { session, ids } => {
                use proto::wire::privd::{MAX_SYSCALL_IDS, SYSCALL_ID_LIMIT};
                if ids.len() > MAX_SYSCALL_IDS || ids.iter().any(|&n| n >= SYSCALL_ID_LIMIT) {
                    PrivReply::Error(format!(
                        "give at most {MAX_SYSCALL_IDS} system call numbers below {SYSCALL_ID_LIMIT} (or none for all)"
                    ))
                } else {
                    match self.instance(caller, session) {
                        Ok(inst) => inst
                            .set_syscall_filter(&ids)
                            .map_or_else(|e| PrivReply::Error(e.to_string()), |()| PrivReply::Done),
                        Err(r) => r,
                    }
                }
            }
            PrivRequest::Start { session } | PrivRequest::Stop { session } => {
                let on = matches!(req, PrivRequest::Start { .. });
                match self.instance(caller, session) {
                    Ok(inst) => inst
                        .set_tracing(on)
                        .map_or_else(|e| PrivReply::Error(e.to_string()), |()| PrivReply::Done),
                    Err(r) => r,
                }
            }
            PrivRequest::Stream { session, cpu } => match self.instance(caller, session) {
                Ok(inst) if cpu < inst.cpus => match inst.stream(cpu) {
                    Ok(fd) => return (PrivReply::Stream { cpu }, Some(fd)),
                    Err(e) => PrivReply::Error(e.to_string()),
                },
                Ok(inst) => {
                    PrivReply::Error(format!("cpu {cpu} does not exist (0..{})", inst.cpus))
                }
                Err(r) => r,
            },
            PrivRequest::HeaderEvent { session } => match self.instance(caller, session) {
                Ok(inst) => inst
                    .header_event()
                    .map_or_else(|e| PrivReply::Error(e.to_string()), PrivReply::Text),
                Err(r) => r,
            },
            PrivRequest::Format { session, event } => match self.instance(caller, session) {
                Ok(inst) => inst
                    .format(event.as_deref())
                    .map_or_else(|e| PrivReply::Error(e.to_string()), PrivReply::Text),
                Err(r) => r,
            },
            PrivRequest::Destroy { session } => match self.instances.remove(&session) {
                Some((uid, inst)) if uid == caller.uid || caller.uid == 0 => {
                    self.server.retire(uid, inst);
                    PrivReply::Done
                }
                Some(other) => {
                    self.instances.insert(session, other);
                    PrivReply::Denied(format!("session {session} is not yours"))
                }
                None => PrivReply::Error(format!("no kernel session {session} on this connection")),
            },
        };
        (reply, None)
    }

    /// The caller's instance `session` on this connection.
    fn instance(&mut self, caller: &Caller, session: u32) -> Result<&mut Instance, PrivReply> {
        match self.instances.get_mut(&session) {
            Some((uid, inst)) if *uid == caller.uid || caller.uid == 0 => Ok(inst),
            Some(_) => Err(PrivReply::Denied(format!("session {session} is not yours"))),
            None => Err(PrivReply::Error(format!(
                "no kernel session {session} on this connection"
            ))),
        }
    }

    fn create(&mut self, caller: &Caller, buffer_kb: u32, clock: Source) -> PrivReply {
        let cfg = &self.server.cfg;
        {
            let mut m = self
                .server
                .per_uid
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let n = m.entry(caller.uid).or_insert(0);
            if *n >= cfg.max_instances_per_user {
                return PrivReply::Denied(format!(
                    "you have {} kernel sessions already (at most {}): destroy one first",
                    *n, cfg.max_instances_per_user
                ));
            }
            *n += 1;
        }
        let serial = {
            let mut n = self.server.next.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            *n
        };
        let name = format!("lttng-rs-u{}-{}-{serial}", caller.uid, std::process::id());
        let clock_name = match clock {
            Source::Tsc => "x86-tsc",
            Source::Monotonic => "mono",
        };
        let kb = buffer_kb.clamp(4, cfg.max_buffer_kb);
        match Instance::create(&self.server.tracefs(), &name, kb, clock_name) {
            Ok(inst) => {
                let session = self.next_session;
                self.next_session += 1;
                let cpus = inst.cpus;
                self.instances.insert(session, (caller.uid, inst));
                PrivReply::Session { session, cpus }
            }
            Err(e) => {
                self.server.uncount(caller.uid);
                PrivReply::Error(e.to_string())
            }
        }
    }
}
