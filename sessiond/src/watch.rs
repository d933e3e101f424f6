//! Watching registered applications go away: one thread polls every registered
//! application's socket for the hang-up (it reads nothing: replies are read by
//! whoever sent a command), so that a registered application costs the daemon a
//! descriptor, not a thread. Registrations in progress have threads of their own,
//! bounded by `--max-registrations`.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::daemon::{lock, Shared};

/// Applications handed over and not yet seen by the watching thread, and the wakeup
/// that makes it look.
pub struct Watcher {
    incoming: Mutex<Vec<(u64, OwnedFd)>>,
    wakeup: EventFd,
}

impl Watcher {
    /// Starts the watching thread of `daemon`.
    pub fn start(daemon: Shared) -> std::io::Result<Arc<Watcher>> {
        let wakeup = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let w = Arc::new(Watcher {
            incoming: Mutex::new(Vec::new()),
            wakeup,
        });
        let me = w.clone();
        std::thread::Builder::new()
            .name("app-watch".into())
            .stack_size(256 * 1024)
            .spawn(move || me.run(&daemon))?;
        Ok(w)
    }

    /// Watches application `id` through `sock` (a duplicate of its connection):
    /// [`crate::daemon::Daemon::app_gone`] is called once it hangs up.
    pub fn add(&self, id: u64, sock: OwnedFd) {
        self.incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, sock));
        let _ = self.wakeup.write(1);
    }

    fn run(&self, daemon: &Shared) {
        // nix has no name for POLLRDHUP (the peer closed its end).
        let rdhup = PollFlags::from_bits_retain(libc::POLLRDHUP);
        let gone_if = rdhup | PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
        let mut watched: Vec<(u64, OwnedFd)> = Vec::new();
        loop {
            watched.append(&mut self.incoming.lock().unwrap_or_else(|p| p.into_inner()));
            let gone: Vec<usize> = {
                let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(watched.len() + 1);
                fds.push(PollFd::new(self.wakeup.as_fd(), PollFlags::POLLIN));
                fds.extend(watched.iter().map(|(_, s)| PollFd::new(s.as_fd(), rdhup)));
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        eprintln!("lttng-sessiond: cannot watch applications: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    }
                }
                fds[1..]
                    .iter()
                    .enumerate()
                    // nix knows no POLLRDHUP: revents holding it come back as None.
                    .filter(|(_, f)| f.revents().is_none_or(|r| r.intersects(gone_if)))
                    .map(|(i, _)| i)
                    .collect()
            };
            // Cleared after the poll: an `add` since then wakes the next one.
            let _ = self.wakeup.read();
            if gone.is_empty() {
                continue;
            }
            let mut ids = Vec::with_capacity(gone.len());
            for &i in gone.iter().rev() {
                ids.push(watched.swap_remove(i).0);
            }
            let mut d = lock(daemon);
            for id in ids {
                d.app_gone(id);
            }
        }
    }
}
