//! The request loop: a single thread waits on the control socket (100 ms at most) and
//! drains every stream in between.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use ctf::kernel::{KernelSchema, SessionState};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use proto::ftrace::{parse_format, parse_header_page, EventFormat, PageLayout};
use proto::wire::consumer::{ConsumerReply, ConsumerRequest};
use proto::wire::socket;
use proto::wire::{WireError, VERSION};

use crate::stream::KernelStream;

/// Pages read from one stream per pass (bounds the time between requests).
const PAGES_PER_PASS: usize = 256;

/// A session's formats, as they arrive.
#[derive(Default)]
struct Setup {
    layout: Option<PageLayout>,
    expected: u32,
    formats: Vec<EventFormat>,
    schema: Option<Arc<KernelSchema>>,
    /// `lttng add-context -k` fields and the hostname.
    contexts: Vec<proto::event::KernelContext>,
    hostname: String,
    /// What every CPU's records share: paths from the path probes waiting for their
    /// system calls, the process of each thread.
    state: SessionState,
}

/// The shared encoder state of `session`.
fn state_of(setups: &mut BTreeMap<u64, Setup>, session: u64) -> &mut SessionState {
    &mut setups.entry(session).or_default().state
}

struct Consumer {
    control: OwnedFd,
    sandboxed: bool,
    greeted: bool,
    setups: BTreeMap<u64, Setup>,
    streams: BTreeMap<u64, KernelStream>,
}

/// Why the loop ended badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("control socket: {0}")]
    Control(WireError),
}

/// Serves the daemon on `control` until it closes the connection; then writes out
/// everything and returns.
pub fn run(control: OwnedFd, sandboxed: bool) -> Result<(), ServeError> {
    let mut c = Consumer {
        control,
        sandboxed,
        greeted: false,
        setups: BTreeMap::new(),
        streams: BTreeMap::new(),
    };
    let r = c.serve();
    for s in c.streams.values_mut() {
        s.flush(state_of(&mut c.setups, s.spec.session));
    }
    r
}

impl Consumer {
    fn serve(&mut self) -> Result<(), ServeError> {
        loop {
            // The control socket, and every stream: a stream's descriptor is readable
            // once its kernel buffer is half full; the timeout catches the rest.
            let mut fds = vec![PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                self.streams
                    .values()
                    .map(|s| PollFd::new(s.pipe(), PollFlags::POLLIN)),
            );
            let ready = match poll(&mut fds, PollTimeout::from(100u16)) {
                Ok(_) => fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP)),
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(ServeError::Control(WireError::Io(e.into()))),
            };
            drop(fds);
            if ready {
                let received = if self.greeted {
                    socket::recv::<ConsumerRequest>(self.control.as_fd())
                } else {
                    socket::recv_hello::<ConsumerRequest>(self.control.as_fd())
                };
                match received {
                    // A session daemon of another release learns ours from our hello.
                    Err(WireError::Version { peer }) => {
                        proto::wire::consumer::answer_other_release(
                            self.control.as_fd(),
                            self.sandboxed,
                        );
                        return Err(ServeError::Control(WireError::Version { peer }));
                    }
                    Ok(r) => {
                        let reply = self.handle(r.msg, r.fds);
                        socket::send(self.control.as_fd(), &reply, &[])
                            .map_err(ServeError::Control)?;
                    }
                    Err(WireError::Closed) => return Ok(()),
                    Err(e @ WireError::Io(_)) => return Err(ServeError::Control(e)),
                    Err(e) => {
                        let _ = socket::send(
                            self.control.as_fd(),
                            &ConsumerReply::Error(format!("bad request: {e}")),
                            &[],
                        );
                    }
                }
            }
            for s in self.streams.values_mut() {
                s.drain(PAGES_PER_PASS, state_of(&mut self.setups, s.spec.session));
            }
        }
    }

    fn handle(&mut self, msg: ConsumerRequest, mut fds: Vec<OwnedFd>) -> ConsumerReply {
        if !self.greeted && !matches!(msg, ConsumerRequest::Hello { .. }) {
            return ConsumerReply::Error("say hello first".into());
        }
        match msg {
            ConsumerRequest::Hello { version, clock } => {
                if version != VERSION {
                    return ConsumerReply::Error(WireError::Version { peer: version }.to_string());
                }
                proto::clock::set_source(clock);
                self.greeted = true;
                ConsumerReply::Hello {
                    version: VERSION,
                    sandboxed: self.sandboxed,
                }
            }
            ConsumerRequest::KernelSetup {
                session,
                header_page,
                formats,
                contexts,
                hostname,
                pid_ns_inum,
            } => match parse_header_page(&header_page) {
                Ok(layout) if formats as usize <= 4096 && contexts.len() <= 64 => {
                    self.setups.insert(
                        session,
                        Setup {
                            layout: Some(layout),
                            expected: formats,
                            contexts,
                            hostname,
                            state: SessionState {
                                pid_ns_inum,
                                ..SessionState::default()
                            },
                            ..Setup::default()
                        },
                    );
                    ConsumerReply::Done
                }
                Ok(_) => ConsumerReply::Error("too many formats or contexts".into()),
                Err(e) => ConsumerReply::Error(format!("header_page: {e}")),
            },
            ConsumerRequest::KernelFormat { session, text } => {
                let Some(setup) = self.setups.get_mut(&session) else {
                    return ConsumerReply::Error("kernel format before its setup".into());
                };
                if setup.formats.len() as u32 >= setup.expected {
                    return ConsumerReply::Error("more formats than announced".into());
                }
                match parse_format(&text) {
                    Ok(f) => {
                        setup.formats.push(f);
                        if setup.formats.len() as u32 == setup.expected {
                            setup.schema = Some(Arc::new(KernelSchema::with_contexts(
                                &setup.formats,
                                &setup.contexts,
                                &setup.hostname,
                            )));
                        }
                        ConsumerReply::Done
                    }
                    Err(e) => ConsumerReply::Error(format!("format: {e}")),
                }
            }
            ConsumerRequest::AddKernelStream(spec) => {
                let Some(fd) = fds.pop() else {
                    return ConsumerReply::Error("a kernel stream needs its descriptor".into());
                };
                let Some(setup) = self.setups.get(&spec.session) else {
                    return ConsumerReply::Error("kernel stream before its setup".into());
                };
                let (Some(layout), Some(schema)) = (setup.layout, setup.schema.clone()) else {
                    return ConsumerReply::Error("kernel stream before all its formats".into());
                };
                let key = spec.key;
                match KernelStream::new(spec, fd, layout, schema) {
                    Ok(s) => {
                        self.streams.insert(key, s);
                        ConsumerReply::Done
                    }
                    Err(e) => ConsumerReply::Error(e.to_string()),
                }
            }
            ConsumerRequest::KernelStatedump {
                session,
                ts,
                first,
                last,
                processes,
            } => {
                if processes.len() > proto::wire::consumer::STATEDUMP_CHUNK {
                    return ConsumerReply::Error(format!(
                        "at most {} threads per statedump message",
                        proto::wire::consumer::STATEDUMP_CHUNK
                    ));
                }
                // The session's first CPU stream carries it.
                match self
                    .streams
                    .values_mut()
                    .filter(|s| s.spec.session == session)
                    .min_by_key(|s| s.spec.cpu)
                {
                    Some(s) => {
                        let state = state_of(&mut self.setups, session);
                        for p in &processes {
                            state.statedump_thread(p);
                        }
                        s.statedump(ts, first, last, &processes, state);
                        ConsumerReply::Done
                    }
                    None => ConsumerReply::Error(format!(
                        "no kernel stream in session {session} for the statedump"
                    )),
                }
            }
            ConsumerRequest::Flush { session } => {
                for s in self
                    .streams
                    .values_mut()
                    .filter(|s| s.spec.session == session)
                {
                    s.flush(state_of(&mut self.setups, session));
                }
                ConsumerReply::Done
            }
            ConsumerRequest::RemoveSession { session } => {
                let keys: Vec<u64> = self
                    .streams
                    .iter()
                    .filter(|(_, s)| s.spec.session == session)
                    .map(|(k, _)| *k)
                    .collect();
                for k in keys {
                    if let Some(mut s) = self.streams.remove(&k) {
                        s.flush(state_of(&mut self.setups, session));
                    }
                }
                self.setups.remove(&session);
                ConsumerReply::Done
            }
            ConsumerRequest::Stats { session } => ConsumerReply::Stats(
                self.streams
                    .values()
                    .filter(|s| s.spec.session == session)
                    .map(KernelStream::stats)
                    .collect(),
            ),
            ConsumerRequest::AddStream(_)
            | ConsumerRequest::WritersGone { .. }
            | ConsumerRequest::RemoveTrace { .. }
            | ConsumerRequest::Snapshot { .. } => ConsumerReply::Error(
                "userspace buffers go to the userspace consumer (lttng-consumerd-ust)".into(),
            ),
        }
    }
}
