//! What one client can make the root helper hold: connections at once, in all and
//! per uid (each is a thread of privd), so that a member of the tracing group cannot
//! make privd hold thousands of threads outside that member's own resource limits,
//! and other members keep being served. The deadlines of a connection (hello, idle,
//! reply) are applied by `server::serve`.
//!
//! A connection over a limit gets no thread: the accept loop hands it to the one
//! refusing thread, which waits briefly for its hello (so that the reply is not lost
//! to a reset), answers `Denied` with the limit and where it is configured, and
//! closes it. When even that thread is behind, the connection is closed unanswered.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::wire::privd::PrivReply;
use proto::wire::socket;

use crate::config::Config;

/// Connections waiting for their refusal; beyond that they are closed unanswered.
const REFUSALS_QUEUED: usize = 32;
/// How long the refusing thread waits for a refused client's hello, and for its
/// refusal to be taken.
const REFUSAL_WAIT: Duration = Duration::from_millis(200);

/// The connection counts and their limits.
pub struct Limits {
    max_total: u32,
    max_per_user: u32,
    config: PathBuf,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: u32,
    per_uid: HashMap<u32, u32>,
}

/// A connection that counts against the limits until it is dropped.
pub struct Admitted {
    limits: Arc<Limits>,
    uid: u32,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_uid.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_uid.remove(&self.uid);
            }
        }
    }
}

impl Limits {
    pub fn new(cfg: &Config) -> Arc<Limits> {
        Arc::new(Limits {
            max_total: cfg.max_connections,
            max_per_user: cfg.max_connections_per_user,
            config: cfg.path.clone(),
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection of `uid`, or says which limit it is over.
    pub fn admit(self: &Arc<Limits>, uid: u32) -> Result<Admitted, String> {
        let mut c = self.lock();
        let mine = c.per_uid.get(&uid).copied().unwrap_or(0);
        if mine >= self.max_per_user {
            return Err(format!(
                "uid {uid} has {mine} connections to lttng-privd open already, the most one user may hold (max_connections_per_user in {}): end some kernel sessions, or ask an administrator to raise it",
                self.config.display()
            ));
        }
        if c.total >= self.max_total {
            return Err(format!(
                "lttng-privd serves {} connections already, its limit (max_connections in {}): try again later, or ask an administrator to raise it",
                c.total,
                self.config.display()
            ));
        }
        c.total += 1;
        *c.per_uid.entry(uid).or_insert(0) += 1;
        Ok(Admitted {
            limits: self.clone(),
            uid,
        })
    }
}

/// The refusing thread's queue.
pub struct Refuser {
    queue: SyncSender<(OwnedFd, String)>,
}

/// Connections closed without an answer (the refusing thread was behind).
static UNANSWERED: AtomicU64 = AtomicU64::new(0);

impl Refuser {
    /// Starts the refusing thread.
    pub fn start() -> std::io::Result<Refuser> {
        let (queue, rx) = sync_channel::<(OwnedFd, String)>(REFUSALS_QUEUED);
        std::thread::Builder::new()
            .name("refuse".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for (sock, why) in rx {
                    refuse(&sock, &why);
                }
            })?;
        Ok(Refuser { queue })
    }

    /// Refuses `sock` with `why` (from the refusing thread), or closes it at once.
    pub fn refuse(&self, sock: OwnedFd, why: String) {
        match self.queue.try_send((sock, why)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = UNANSWERED.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    eprintln!(
                        "lttng-privd: {n} connection(s) over the limits closed unanswered so far (too many at once)"
                    );
                }
            }
        }
    }
}

fn refuse(sock: &OwnedFd, why: &str) {
    let s = sock.as_fd();
    let _ = socket::set_timeout(s, Some(REFUSAL_WAIT));
    // The client's hello, if it comes: closing with it unread would reset the
    // connection, and the client would not see the reply.
    let _ = socket::recv_bytes(s);
    let _ = socket::send(s, &PrivReply::Denied(why.to_string()), &[]);
    eprintln!("lttng-privd: refused a connection: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_user_and_in_all_and_free_on_drop() {
        let cfg = Config {
            max_connections: 3,
            max_connections_per_user: 2,
            ..Config::default()
        };
        let l = Limits::new(&cfg);
        let a1 = l.admit(1000).unwrap();
        let _a2 = l.admit(1000).unwrap();
        let e = l.admit(1000).err().unwrap();
        assert!(
            e.contains("max_connections_per_user in /etc/lttng-rs/privd.conf"),
            "{e}"
        );
        let _b1 = l.admit(1001).unwrap();
        let e = l.admit(1002).err().unwrap();
        assert!(
            e.contains("serves 3 connections") && e.contains("max_connections in"),
            "{e}"
        );
        drop(a1);
        // Dropped at once: the count goes back to two.
        assert!(l.admit(1002).is_ok());
        let _a3 = l.admit(1000).unwrap();
        assert!(l.admit(1003).is_err());
        assert_eq!(l.lock().total, 3);
    }
}
