//! Traces and their buffers: a session's traces (one per user or per process), their
//! streams handed to the consumer, the consumers' supervision, and the metadata.

use super::*;

impl Daemon {
    pub(super) fn add_trace(&mut self, si: usize, owner: TraceOwner) -> Result<usize, DaemonError> {
        // A consumer started now receives every existing stream; start it before the
        // new trace exists, so that its streams are handed over exactly once.
        if !self.sessions[si].consumer.is_running() {
            self.start_consumer(si)?;
        }
        let id = self.next_id();
        let dir = match &owner {
            TraceOwner::Uid(uid) => format!("ust/uid/{uid}/64-bit"),
            TraceOwner::Pid { pid, procname, .. } => format!(
                "ust/pid/{}-{pid}-{}",
                dir_safe(procname),
                clock::dir_datetime_now()
            ),
        };
        let uuid = random_uuid();
        let mut channels = Vec::new();
        let drained = !self.sessions[si].snapshot;
        for (ci, ch) in self.sessions[si].channels.iter().enumerate() {
            let spares = crate::session::spare_subbufs(&ch.config, self.ncpu, drained);
            let mut streams = Vec::new();
            for cpu in 0..self.ncpu {
                let identity = StreamIdentity {
                    uuid,
                    stream_id: ci as u32,
                    stream_instance_id: cpu as u64,
                    cpu_id: cpu as u32,
                };
                let name = CString::new(format!("lttng-ust-{}-{cpu}", ch.name)).unwrap_or_default();
                let (_writer, memfd) =
                    RingWriter::create_with_spares(&name, ch.config, identity, None, spares)
                        .map_err(|e| DaemonError::Buffers(e.to_string()))?;
                let wakeup: OwnedFd =
                    EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                        .map_err(|e| DaemonError::Buffers(format!("eventfd: {e}")))?
                        .into();
                streams.push(Stream {
                    key: 0,
                    memfd,
                    wakeup,
                    identity,
                });
            }
            channels.push(TraceChannel {
                key: 0,
                spares,
                streams,
            });
        }
        // Unique keys for channels and streams.
        for c in &mut channels {
            c.key = self.next_id();
            for st in &mut c.streams {
                st.key = self.next_id();
            }
        }
        let s = &mut self.sessions[si];
        s.traces.push(Trace {
            id,
            owner,
            dir,
            uuid,
            channels,
            events: Vec::new(),
            ids: std::collections::HashMap::new(),
            creation: clock::iso8601_now(),
            dirty: true,
        });
        let ti = s.traces.len() - 1;
        self.add_streams_to_consumer(si, ti)?;
        Ok(ti)
    }

    pub(super) fn stream_spec(&self, si: usize, ti: usize, ci: usize, cpu: usize) -> StreamSpec {
        let s = &self.sessions[si];
        let t = &s.traces[ti];
        let ch = &s.channels[ci];
        let st = &t.channels[ci].streams[cpu];
        StreamSpec {
            key: st.key,
            session: s.id,
            trace: t.id,
            output: s.output.display().to_string(),
            trace_dir: t.dir.clone(),
            file: format!("{}_{cpu}", ch.name),
            config: ch.config,
            spares: t.channels[ci].spares,
            identity: st.identity,
            switch_timer_us: ch.switch_timer_us,
            drain: !s.snapshot,
        }
    }

    pub(super) fn add_streams_to_consumer(
        &mut self,
        si: usize,
        ti: usize,
    ) -> Result<(), DaemonError> {
        let nch = self.sessions[si].traces[ti].channels.len();
        for ci in 0..nch {
            for cpu in 0..self.ncpu {
                let spec = self.stream_spec(si, ti, ci, cpu);
                let st = &self.sessions[si].traces[ti].channels[ci].streams[cpu];
                let (m, w) = (dup(&st.memfd)?, dup(&st.wakeup)?);
                self.consumer_call(
                    si,
                    &ConsumerRequest::AddStream(spec),
                    &[m.as_fd(), w.as_fd()],
                )?;
            }
        }
        Ok(())
    }

    /// Sends `req` to the consumer of session `si`, starting (or restarting) it first
    /// if needed.
    pub fn consumer_call(
        &mut self,
        si: usize,
        req: &ConsumerRequest,
        fds: &[BorrowedFd<'_>],
    ) -> Result<ConsumerReply, DaemonError> {
        if !self.sessions[si].consumer.is_running() {
            self.start_consumer(si)?;
        }
        Ok(self.sessions[si].consumer.call(req, fds)?)
    }

    /// Has a thread wait for the kernel consumer `child` of session `si` and replace it
    /// if it dies (a thread that cannot start leaves it unsupervised, said in the log).
    pub(super) fn supervise_kernel_consumer(&mut self, si: usize, child: std::process::Child) {
        let s = &self.sessions[si];
        let Some(generation) = s.kernel.as_ref().map(|k| k.consumer.generation) else {
            return;
        };
        let (session, this) = (s.id, self.this.clone());
        if let Err(e) = std::thread::Builder::new()
            .name("kernel-consumer-supervisor".into())
            .spawn(move || supervise_kernel(this, child, session, generation))
        {
            eprintln!("lttng-sessiond: the kernel consumer runs unsupervised: {e}");
        }
    }

    /// Starts the consumer of session `si` (sandboxed to the session's output), hands
    /// it every stream of the session, and supervises it.
    pub fn start_consumer(&mut self, si: usize) -> Result<(), DaemonError> {
        let clock = self.clock.source;
        let allow = self.allow_unsandboxed;
        let s = &mut self.sessions[si];
        let child = s.consumer.spawn(clock, &s.output, allow)?;
        let generation = s.consumer.generation;
        let session = s.id;
        let this = self.this.clone();
        std::thread::Builder::new()
            .name("consumer-supervisor".into())
            .spawn(move || supervise(this, child, session, generation))
            .map_err(|e| DaemonError::Buffers(format!("cannot start a thread: {e}")))?;
        for ti in 0..self.sessions[si].traces.len() {
            self.add_streams_to_consumer(si, ti)?;
        }
        Ok(())
    }

    /// Writes the metadata of the session's traces whose event classes changed.
    pub fn write_metadata(&mut self, si: usize) {
        // One calibration for every metadata file of the session, so that its
        // userspace and kernel traces share one clock exactly.
        let clock = self.clock.desc();
        let s = &self.sessions[si];
        if let Some(k) = &s.kernel {
            if let Err(e) = k.write_metadata(&s.output, &clock, &self.hostname, &s.name) {
                eprintln!("lttng-sessiond: session {}: {e}", s.name);
            }
        }
        let mut written = Vec::new();
        for (ti, t) in s.traces.iter().enumerate() {
            if !t.dirty {
                continue;
            }
            let r = t
                .metadata(s, &clock, &self.hostname)
                .map_err(|e| DaemonError::Metadata(e.to_string()))
                .and_then(|text| {
                    let dir = s.output.join(&t.dir);
                    std::fs::create_dir_all(&dir).map_err(|source| DaemonError::Output {
                        path: dir.clone(),
                        source,
                    })?;
                    write_atomically(&dir.join("metadata"), text.as_bytes())
                });
            match r {
                Ok(()) => written.push(ti),
                Err(e) => eprintln!("lttng-sessiond: session {}: {e}", s.name),
            }
        }
        for ti in written {
            self.sessions[si].traces[ti].dirty = false;
        }
    }
}
