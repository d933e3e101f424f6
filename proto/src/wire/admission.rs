//! Admission of connections to a daemon: how many it serves at once, in all and per
//! key (privd: per uid), and the refusal of the ones over a limit without a thread of
//! their own, so that no client can make a daemon hold threads without bound.
//!
//! A connection over a limit goes to the one refusing thread ([`Refuser`]), which
//! waits briefly for the client's first message (closing a socket with an unread
//! message resets the connection, and the client would not see the reply), sends the
//! daemon's refusal, and closes it. When that thread is behind by [`QUEUED`]
//! connections, further ones are closed unanswered (and counted in the log).

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::socket;
use super::Message;
use super::WireError;

/// Connections waiting for their refusal; beyond that they are closed unanswered.
pub const QUEUED: usize = 32;
/// How long the refusing thread waits for a refused client's first message, and for
/// its refusal to be taken.
const WAIT: Duration = Duration::from_millis(200);

/// The connection counts and their limits.
#[derive(Debug)]
pub struct Limits {
    max_total: u32,
    max_per_key: u32,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_key: HashMap<u32, u32>,
}

/// Which limit a connection is over, and how many the daemon holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// `key` holds `held` connections, the most one key may.
    PerKey { key: u32, held: u32 },
    /// The daemon serves `held` connections, the most it may.
    Total { held: u32 },
}

/// A connection that counts against the limits until it is dropped.
#[derive(Debug)]
pub struct Admitted {
    limits: Arc<Limits>,
    key: u32,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_key.remove(&self.key);
            }
        }
    }
}

impl Limits {
    /// At most `max_total` connections at once, and `max_per_key` of one key.
    pub fn new(max_total: u32, max_per_key: u32) -> Arc<Limits> {
        Arc::new(Limits {
            max_total,
            max_per_key,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection of `key`, or says which limit it is over.
    pub fn admit(self: &Arc<Limits>, key: u32) -> Result<Admitted, Over> {
        let mut c = self.lock();
        let held = c.per_key.get(&key).copied().unwrap_or(0);
        if held >= self.max_per_key {
            return Err(Over::PerKey { key, held });
        }
        if c.total >= self.max_total {
            return Err(Over::Total { held: c.total });
        }
        c.total += 1;
        *c.per_key.entry(key).or_insert(0) += 1;
        Ok(Admitted {
            limits: self.clone(),
            key,
        })
    }

    /// Connections held now.
    pub fn held(&self) -> u32 {
        self.lock().total
    }
}

/// The refusing thread's queue.
#[derive(Debug)]
pub struct Refuser {
    queue: SyncSender<(OwnedFd, Vec<u8>)>,
    /// For the log: who refuses.
    daemon: &'static str,
}

/// Connections closed without an answer (the refusing thread was behind).
static UNANSWERED: AtomicU64 = AtomicU64::new(0);

impl Refuser {
    /// Starts the refusing thread of `daemon` (its name in log lines).
    pub fn start(daemon: &'static str) -> std::io::Result<Refuser> {
        let (queue, rx) = sync_channel::<(OwnedFd, Vec<u8>)>(QUEUED);
        std::thread::Builder::new()
            .name("refuse".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for (sock, reply) in rx {
                    let s = sock.as_fd();
                    let _ = socket::set_timeout(s, Some(WAIT));
                    let _ = socket::recv_bytes(s);
                    let _ = socket::send_bytes(s, &reply, &[]);
                }
            })?;
        Ok(Refuser { queue, daemon })
    }

    /// Refuses `sock` with `reply` (from the refusing thread), or closes it at once
    /// when that thread is behind.
    pub fn refuse<M: Message>(&self, sock: OwnedFd, reply: &M) -> Result<(), WireError> {
        let bytes = postcard::to_allocvec(reply).map_err(WireError::Encode)?;
        if self.queue.try_send((sock, bytes)).is_err() {
            let n = UNANSWERED.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                eprintln!(
                    "{}: {n} connection(s) over the limits closed unanswered so far (too many at once)",
                    self.daemon
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_key_and_in_all_and_free_on_drop() {
        let l = Limits::new(3, 2);
        let a1 = l.admit(1000).unwrap();
        let _a2 = l.admit(1000).unwrap();
        assert_eq!(
            l.admit(1000).unwrap_err(),
            Over::PerKey { key: 1000, held: 2 }
        );
        let _b1 = l.admit(1001).unwrap();
        assert_eq!(l.admit(1002).unwrap_err(), Over::Total { held: 3 });
        drop(a1);
        // Dropped at once: the count goes back to two.
        assert!(l.admit(1002).is_ok());
        let _a3 = l.admit(1000).unwrap();
        assert!(l.admit(1003).is_err());
        assert_eq!(l.held(), 3);
    }

    #[test]
    fn a_refused_client_reads_its_refusal() {
        let r = Refuser::start("test").unwrap();
        let (ours, theirs) = socket::pair().unwrap();
        socket::send_bytes(theirs.as_fd(), b"hello", &[]).unwrap();
        r.refuse(ours, &super::super::control::Reply::Error("full".into()))
            .unwrap();
        socket::set_timeout(theirs.as_fd(), Some(Duration::from_secs(5))).unwrap();
        match socket::recv::<super::super::control::Reply>(theirs.as_fd())
            .unwrap()
            .msg
        {
            super::super::control::Reply::Error(t) => assert_eq!(t, "full"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            socket::recv_bytes(theirs.as_fd()),
            Err(WireError::Closed)
        ));
    }
}
