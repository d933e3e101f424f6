//! Applications: registration, late tracepoints, departure, and bringing every
//! application's channels and bindings up to date with the sessions.

use super::*;

impl Daemon {
    /// Registers an application and brings it up to date; returns its id.
    pub fn register_app(&mut self, hello: Hello, sock: OwnedFd) -> Result<u64, DaemonError> {
        if self.apps.len() >= MAX_APPS {
            return Err(DaemonError::Limit {
                what: "applications",
                max: MAX_APPS,
            });
        }
        let id = self.next_id();
        self.apps.push(App {
            id,
            pid: hello.pid,
            procname: hello.procname,
            sock,
            tracepoints: hello.tracepoints,
            channels: HashSet::new(),
        });
        // Per-process sessions already started get buffers for the newcomer.
        for si in 0..self.sessions.len() {
            let s = &self.sessions[si];
            if s.started && s.buffers == Buffers::PerPid {
                let app = &self.apps[self.apps.len() - 1];
                let owner = TraceOwner::Pid {
                    app: id,
                    pid: app.pid,
                    procname: app.procname.clone(),
                };
                if let Err(e) = self.add_trace(si, owner) {
                    eprintln!("lttng-sessiond: buffers for app {}: {e}", hello.pid);
                }
            }
        }
        self.push_bindings();
        Ok(id)
    }

    /// Appends tracepoints registered late by the application `pid` (their indexes
    /// start at `first`), then sets up what the running sessions select of them.
    pub fn add_app_tracepoints(
        &mut self,
        pid: u32,
        first: u32,
        tracepoints: Vec<Option<EventDesc>>,
    ) -> Result<(), DaemonError> {
        let Some(app) = self.apps.iter_mut().rev().find(|a| a.pid == pid) else {
            return Err(DaemonError::LateTracepoints(format!(
                "no registered application has pid {pid}"
            )));
        };
        if first as usize != app.tracepoints.len() {
            return Err(DaemonError::LateTracepoints(format!(
                "they start at index {first}, the application has {} tracepoints",
                app.tracepoints.len()
            )));
        }
        if app.tracepoints.len() + tracepoints.len() > MAX_TRACEPOINTS as usize {
            return Err(DaemonError::Limit {
                what: "tracepoints of one application",
                max: MAX_TRACEPOINTS as usize,
            });
        }
        app.tracepoints.extend(tracepoints);
        self.push_bindings();
        Ok(())
    }

    /// An application's connection closed: forget it, and write out and release
    /// its per-process buffers.
    pub fn app_gone(&mut self, id: u64) {
        let Some(i) = self.apps.iter().position(|a| a.id == id) else {
            return;
        };
        let gone = self.apps.remove(i);
        // Shared buffers nobody writes into any more may hold a packet the app left
        // unfinished when it was killed mid-event: have the consumer complete it.
        let orphaned: Vec<(usize, u64)> = self
            .sessions
            .iter()
            .enumerate()
            .flat_map(|(si, s)| s.traces.iter().map(move |t| (si, t)))
            .filter(|(_, t)| matches!(t.owner, TraceOwner::Uid(_)))
            .filter(|(_, t)| {
                let keys: Vec<u64> = t.channels.iter().map(|c| c.key).collect();
                keys.iter().any(|k| gone.channels.contains(k))
                    && !self
                        .apps
                        .iter()
                        .any(|a| keys.iter().any(|k| a.channels.contains(k)))
            })
            .map(|(si, t)| (si, t.id))
            .collect();
        for (si, trace) in orphaned {
            if let Err(e) = self.consumer_call(si, &ConsumerRequest::WritersGone { trace }, &[]) {
                eprintln!(
                    "lttng-sessiond: recovering the buffers of app {}: {e}",
                    gone.pid
                );
            }
        }
        for si in 0..self.sessions.len() {
            let doomed: Vec<u64> = self.sessions[si]
                .traces
                .iter()
                .filter(|t| matches!(t.owner, TraceOwner::Pid { app, .. } if app == id))
                .map(|t| t.id)
                .collect();
            for trace in doomed {
                if let Some(t) = self.sessions[si].traces.iter_mut().find(|t| t.id == trace) {
                    t.dirty = true;
                }
                self.write_metadata(si);
                if let Err(e) = self.consumer_call(si, &ConsumerRequest::RemoveTrace { trace }, &[])
                {
                    eprintln!("lttng-sessiond: writing out the buffers of app {id}: {e}");
                }
                self.sessions[si].traces.retain(|t| t.id != trace);
            }
        }
    }

    /// Sends each application the messages `f` returns for it, all applications at
    /// once (see [`apps::exchange_all`]); an application that fails one is
    /// disconnected.
    pub(super) fn sync_apps(&mut self, mut f: impl FnMut(&App) -> Vec<DaemonMessage>) {
        let exchanges: Vec<apps::Exchange<'_>> = self
            .apps
            .iter()
            .map(|app| apps::Exchange {
                sock: &app.sock,
                msgs: f(app).into_iter().map(|m| (m, Vec::new())).collect(),
            })
            .collect();
        let results = apps::exchange_all(&exchanges);
        for (app, r) in self.apps.iter().zip(results) {
            if let Err(e) = r {
                eprintln!("lttng-sessiond: app {} dropped: {e}", app.pid);
                apps::disconnect(&app.sock);
            }
        }
    }

    /// Recomputes every application's bindings from the active sessions and sends
    /// the channels they lack and the new binding sets, to all applications at once.
    pub fn push_bindings(&mut self) {
        let plans: Vec<Plan> = (0..self.apps.len()).map(|ai| self.plan_app(ai)).collect();
        let results = {
            let exchanges: Vec<apps::Exchange<'_>> = plans
                .iter()
                .zip(&self.apps)
                .map(|(plan, app)| apps::Exchange {
                    sock: &app.sock,
                    msgs: plan.messages(&self.sessions),
                })
                .collect();
            apps::exchange_all(&exchanges)
        };
        for ((app, plan), r) in self.apps.iter_mut().zip(plans).zip(results) {
            match r {
                Ok(()) => app.channels.extend(plan.new_channels.iter().map(|c| c.key)),
                Err(e) => {
                    eprintln!("lttng-sessiond: app {} dropped: {e}", app.pid);
                    apps::disconnect(&app.sock);
                }
            }
        }
        for si in 0..self.sessions.len() {
            if self.sessions[si].traces.iter().any(|t| t.dirty) {
                self.write_metadata(si);
            }
        }
    }

    /// What application `ai` lacks: the channels of the started sessions it has not
    /// received, and its bindings (event ids are assigned here).
    fn plan_app(&mut self, ai: usize) -> Plan {
        let app_id = self.apps[ai].id;
        let mut plan = Plan::default();
        for s in &mut self.sessions {
            if !s.started {
                continue;
            }
            let Some(t) = s.traces.iter_mut().find(|t| match t.owner {
                TraceOwner::Uid(_) => true,
                TraceOwner::Pid { app, .. } => app == app_id,
            }) else {
                continue;
            };
            for (ci, ch) in s.channels.iter().enumerate() {
                let tc = &t.channels[ci];
                if !self.apps[ai].channels.contains(&tc.key) {
                    plan.new_channels.push(NewChannel {
                        key: tc.key,
                        session: s.id,
                        trace: t.id,
                        ci,
                        add: DaemonMessage::AddChannel {
                            key: tc.key,
                            config: ch.config,
                            spares: tc.spares,
                            contexts: ch.contexts,
                            full_wait_us: ch.blocking_timeout_us,
                            streams: tc.streams.len() as u32,
                        },
                    });
                }
                if !s.active {
                    continue;
                }
                for (tpi, desc) in self.apps[ai].tracepoints.iter().enumerate() {
                    let Some(desc) = desc else { continue };
                    if ch.selects(desc) {
                        match t.event_id(ci as u32, desc) {
                            Ok(event_id) => plan.bindings.push(Binding {
                                tracepoint: tpi as u32,
                                channel: t.channels[ci].key,
                                event_id,
                            }),
                            Err(e) => eprintln!("lttng-sessiond: {e}"),
                        }
                    }
                }
            }
        }
        plan
    }
}

/// What one application is sent by [`Daemon::push_bindings`].
#[derive(Default)]
struct Plan {
    new_channels: Vec<NewChannel>,
    bindings: Vec<Binding>,
}

/// A channel an application has not received yet.
struct NewChannel {
    key: u64,
    session: u64,
    trace: u64,
    ci: usize,
    add: DaemonMessage,
}

impl Plan {
    /// The messages, in order: each new channel with its streams (their descriptors
    /// borrowed from `sessions`), then the binding set in parts.
    fn messages<'a>(&self, sessions: &'a [Session]) -> Vec<(DaemonMessage, Vec<BorrowedFd<'a>>)> {
        let mut msgs = Vec::new();
        for c in &self.new_channels {
            let Some(t) = sessions
                .iter()
                .find(|s| s.id == c.session)
                .and_then(|s| s.traces.iter().find(|t| t.id == c.trace))
            else {
                continue;
            };
            msgs.push((c.add.clone(), Vec::new()));
            for (index, st) in t.channels[c.ci].streams.iter().enumerate() {
                msgs.push((
                    DaemonMessage::AddStream {
                        channel: c.key,
                        index: index as u32,
                        identity: st.identity,
                    },
                    vec![st.memfd.as_fd(), st.wakeup.as_fd()],
                ));
            }
        }
        let mut chunks = self.bindings.chunks(BINDINGS_PER_MESSAGE).peekable();
        if chunks.peek().is_none() {
            msgs.push((
                DaemonMessage::SetEvents {
                    bindings: Vec::new(),
                    last: true,
                },
                Vec::new(),
            ));
        }
        while let Some(c) = chunks.next() {
            let last = chunks.peek().is_none();
            msgs.push((
                DaemonMessage::SetEvents {
                    bindings: c.to_vec(),
                    last,
                },
                Vec::new(),
            ));
        }
        msgs
    }
}
