//! What one client can make the root helper hold: connections at once, in all and
//! per uid (each is a thread of privd), so that a member of the tracing group cannot
//! make privd hold thousands of threads outside that member's own resource limits,
//! and other members keep being served. A connection over a limit gets no thread: it
//! is refused from one thread (`proto::wire::admission`) with the limit's name and
//! the configuration file. The deadlines of a connection (hello, idle, reply) are
//! applied by `server::serve`.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use proto::wire::admission::{self, Admitted, Over, Refuser};
use proto::wire::privd::PrivReply;

use crate::config::Config;

/// The limits of privd's configuration, and the refusing thread.
pub struct Limits {
    counts: Arc<admission::Limits>,
    refuser: Refuser,
    config: PathBuf,
}

impl Limits {
    /// Starts the refusing thread.
    pub fn start(cfg: &Config) -> std::io::Result<Limits> {
        Ok(Limits {
            counts: admission::Limits::new(cfg.max_connections, cfg.max_connections_per_user),
            refuser: Refuser::start("lttng-privd")?,
            config: cfg.path.clone(),
        })
    }

    /// Counts a new connection of `uid`, or refuses it (and says so in the log).
    pub fn admit(&self, uid: u32, sock: OwnedFd) -> Option<(Admitted, OwnedFd)> {
        match self.counts.admit(uid) {
            Ok(a) => Some((a, sock)),
            Err(over) => {
                let why = refusal(over, &self.config);
                eprintln!("lttng-privd: refused a connection: {why}");
                let _ = self.refuser.refuse(sock, &PrivReply::Denied(why));
                None
            }
        }
    }
}

/// What a client over a limit is told.
fn refusal(over: Over, config: &std::path::Path) -> String {
    match over {
        Over::PerKey { key, held } => format!(
            "uid {key} has {held} connections to lttng-privd open already, the most one user may hold (max_connections_per_user in {}): end some kernel sessions, or ask an administrator to raise it",
            config.display()
        ),
        Over::Total { held } => format!(
            "lttng-privd serves {held} connections already, its limit (max_connections in {}): try again later, or ask an administrator to raise it",
            config.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_setting_and_the_file() {
        let conf = std::path::Path::new("/etc/lttng-rs/privd.conf");
        let t = refusal(Over::PerKey { key: 1000, held: 8 }, conf);
        assert!(
            t.contains("uid 1000 has 8")
                && t.contains("max_connections_per_user in /etc/lttng-rs/privd.conf"),
            "{t}"
        );
        let t = refusal(Over::Total { held: 64 }, conf);
        assert!(
            t.contains("serves 64") && t.contains("max_connections in /etc"),
            "{t}"
        );
    }
}
