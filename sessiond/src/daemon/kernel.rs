//! The kernel side of the daemon's requests: `lttng enable-channel -k`,
//! `enable-event -k`, `disable-event -k`, `add-context -k`.

use proto::event::KernelContext;

use super::{pattern_check, random_uuid, Daemon, DaemonError};
use crate::consumer::Consumer;

impl Daemon {
    /// `lttng disable-event -k`.
    pub fn disable_kernel_events(
        &mut self,
        session: &str,
        patterns: Vec<String>,
    ) -> Result<Vec<String>, DaemonError> {
        let si = self.session_index(session)?;
        let k = self.sessions[si].kernel.as_mut().ok_or_else(|| {
            DaemonError::Invalid(format!("session '{session}' has no kernel event enabled"))
        })?;
        Ok(k.disable(&patterns)?)
    }

    /// `lttng enable-channel -k`: the kernel buffer size, before kernel events.
    pub fn enable_kernel_channel(
        &mut self,
        session: &str,
        buffer_kb: u32,
    ) -> Result<(), DaemonError> {
        let si = self.session_index(session)?;
        if self.sessions[si].kernel.is_some() {
            return Err(DaemonError::Invalid(
                "the kernel channel must be set up before any kernel event is enabled".into(),
            ));
        }
        self.sessions[si].kernel_buffer_kb = buffer_kb.max(4);
        Ok(())
    }

    /// `lttng enable-event -k`: the first call asks privd for the session's kernel
    /// instance. `syscalls`: the system calls to record by name, empty for all. Returns
    /// the events newly enabled.
    pub fn enable_kernel_events(
        &mut self,
        session: &str,
        patterns: Vec<String>,
        syscalls: Option<Vec<String>>,
    ) -> Result<Vec<String>, DaemonError> {
        for p in &patterns {
            pattern_check(p)?;
        }
        let si = self.session_index(session)?;
        if self.sessions[si].kernel.is_none() {
            if self.sessions[si].started {
                return Err(crate::kernel::KernelError::Started.into());
            }
            let consumer = Consumer::new(self.kernel_consumer_path.clone());
            let k = crate::kernel::KernelSide::create(
                self.uid,
                self.clock.source,
                consumer,
                random_uuid(),
            )?;
            self.sessions[si].kernel = Some(k);
        }
        let k = self.sessions[si]
            .kernel
            .as_mut()
            .ok_or(crate::kernel::KernelError::Started)?;
        Ok(k.enable(&patterns, syscalls.as_deref())?)
    }

    /// `lttng add-context -k`: context fields of every kernel event, before the
    /// session starts. Returns those newly added.
    pub fn add_kernel_context(
        &mut self,
        session: &str,
        contexts: Vec<KernelContext>,
    ) -> Result<Vec<KernelContext>, DaemonError> {
        let si = self.session_index(session)?;
        let k = self.sessions[si].kernel.as_mut().ok_or_else(|| {
            DaemonError::Invalid(format!(
                "session '{session}' has no kernel event yet: `lttng enable-event -k` first"
            ))
        })?;
        Ok(k.add_contexts(&contexts)?)
    }
}
