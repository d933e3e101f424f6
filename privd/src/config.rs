//! privd's configuration: a small `key = value` file (default
//! `/etc/lttng-rs/privd.conf`); every key has a safe default, so a missing file means
//! the defaults.
//!
//! ```text
//! # who may trace the kernel
//! group = tracing
//! # where the socket goes (created root:<group>, mode 0750; socket 0660)
//! socket_dir = /run/lttng-rs
//! tracefs = /sys/kernel/tracing
//! max_instances_per_user = 4
//! max_buffer_kb = 16384
//! # connections served at once, in all and per user (one thread each); a
//! # connection over a limit is refused with a message naming the key
//! max_connections = 64
//! max_connections_per_user = 8
//! # a new connection must say hello within this time; one that holds no kernel
//! # session is closed after this long without a request; a reply the client does
//! # not read within this time ends the connection
//! hello_timeout_ms = 5000
//! idle_timeout_ms = 60000
//! reply_timeout_ms = 5000
//! # the events members may enable (system:event, `*` globs)
//! # (kernel addresses and page frame numbers: see SECURITY.md, "What a member's
//! # kernel trace reveals")
//! events = sched:*, raw_syscalls:*, irq:*, timer:*, block:block_rq_issue
//! # the C library whose open functions get path probes (`off`: none, and openat
//! # entries carry no file name)
//! path_probes = /usr/lib/x86_64-linux-gnu/libc.so.6
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the configuration is read from by default.
pub const DEFAULT_PATH: &str = "/etc/lttng-rs/privd.conf";

/// The settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub group: String,
    pub socket_dir: PathBuf,
    pub tracefs: PathBuf,
    pub max_instances_per_user: u32,
    pub max_buffer_kb: u32,
    /// Connections served at once, in all.
    pub max_connections: u32,
    /// Connections served at once for one uid.
    pub max_connections_per_user: u32,
    /// How long a new connection has to say hello.
    pub hello_timeout: Duration,
    /// How long a connection holding no kernel session may stay silent.
    pub idle_timeout: Duration,
    /// How long a reply may wait for the client to read it.
    pub reply_timeout: Duration,
    /// The file these settings came from (named in refusals that cite a setting).
    pub path: PathBuf,
    /// `system:event` globs.
    pub events: Vec<String>,
    /// The C library to put the path probes on (`None`: no path probes).
    pub path_probes: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            group: "tracing".into(),
            socket_dir: PathBuf::from("/run/lttng-rs"),
            tracefs: PathBuf::from("/sys/kernel/tracing"),
            max_instances_per_user: 4,
            max_buffer_kb: 16384,
            max_connections: 64,
            max_connections_per_user: 8,
            hello_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            reply_timeout: Duration::from_secs(5),
            path: PathBuf::from(DEFAULT_PATH),
            events: [
                "sched:sched_switch",
                "sched:sched_wakeup",
                "sched:sched_wakeup_new",
                "sched:sched_waking",
                "sched:sched_migrate_task",
                "sched:sched_process_fork",
                "sched:sched_process_exit",
                "sched:sched_process_exec",
                "sched:sched_process_free",
                "sched:sched_process_wait",
                "sched:sched_stat_runtime",
                // Enabled with sched_process_fork: whether the new task is a thread.
                "task:task_newtask",
                "raw_syscalls:sys_enter",
                "raw_syscalls:sys_exit",
                "irq:*",
                "timer:*",
                "block:block_rq_issue",
                "block:block_rq_complete",
                "block:block_rq_insert",
                "block:block_rq_requeue",
                "block:block_bio_*",
                "net:net_dev_xmit",
                "net:net_dev_queue",
                "net:netif_receive_skb",
                "net:netif_rx",
                "kmem:mm_page_alloc",
                "kmem:mm_page_free",
                "power:cpu_idle",
                "power:cpu_frequency",
                // privd's own path probes (see path_probes.rs): sessiond enables them
                // with the system calls.
                "lttng_rs_user:*",
            ]
            .map(String::from)
            .to_vec(),
            path_probes: Some(PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6")),
        }
    }
}

/// The most connections any setting allows: each is a thread of the root helper.
pub const MAX_CONNECTIONS: u32 = 1024;

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {why}")]
    Bad {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config {
                path: path.to_path_buf(),
                ..Config::default()
            }),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut c = Config {
            path: path.to_path_buf(),
            ..Config::default()
        };
        for (i, raw) in text.lines().enumerate() {
            let bad = |why: String| ConfigError::Bad {
                path: path.to_path_buf(),
                line: i + 1,
                why,
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| bad("expected key = value".into()))?;
            let (k, v) = (k.trim(), v.trim());
            let number = |v: &str| {
                v.parse::<u32>()
                    .map_err(|_| bad(format!("{k} must be a number, not '{v}'")))
            };
            match k {
                "group" => {
                    if v.is_empty()
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                    {
                        return Err(bad(format!("'{v}' is not a group name")));
                    }
                    c.group = v.into();
                }
                "socket_dir" | "tracefs" => {
                    let p = PathBuf::from(v);
                    if !p.is_absolute() {
                        return Err(bad(format!("{k} must be an absolute path")));
                    }
                    if k == "tracefs" {
                        c.tracefs = p;
                    } else {
                        c.socket_dir = p;
                    }
                }
                "path_probes" if v == "off" => c.path_probes = None,
                "path_probes" => {
                    // It goes into a uprobe definition line: a plain absolute path.
                    if !v.starts_with('/')
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
                    {
                        return Err(bad(format!(
                            "path_probes must be 'off' or an absolute path of letters, digits and /._+-, not '{v}'"
                        )));
                    }
                    c.path_probes = Some(PathBuf::from(v));
                }
                "max_instances_per_user" => c.max_instances_per_user = number(v)?,
                "max_buffer_kb" => c.max_buffer_kb = number(v)?.max(4),
                "max_connections" => c.max_connections = number(v)?.clamp(1, MAX_CONNECTIONS),
                "max_connections_per_user" => {
                    c.max_connections_per_user = number(v)?.clamp(1, MAX_CONNECTIONS)
                }
                "hello_timeout_ms" | "idle_timeout_ms" | "reply_timeout_ms" => {
                    let ms = number(v)?;
                    if ms == 0 {
                        return Err(bad(format!("{k} must be at least 1")));
                    }
                    let d = Duration::from_millis(u64::from(ms));
                    match k {
                        "hello_timeout_ms" => c.hello_timeout = d,
                        "idle_timeout_ms" => c.idle_timeout = d,
                        _ => c.reply_timeout = d,
                    }
                }
                "events" => {
                    let list: Vec<String> = v
                        .split(',')
                        .map(|e| e.trim().to_string())
                        .filter(|e| !e.is_empty())
                        .collect();
                    for e in &list {
                        if !crate::tracefs::is_event_pattern(e) {
                            return Err(bad(format!("'{e}' is not a system:event name or glob")));
                        }
                    }
                    c.events = list;
                }
                other => return Err(bad(format!("unknown key '{other}'"))),
            }
        }
        Ok(c)
    }

    /// Whether `event` (`system:event`) is on the allowlist.
    pub fn allows(&self, event: &str) -> bool {
        self.events
            .iter()
            .any(|p| proto::event::glob_match(p, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commented file the package installs as /etc/lttng-rs/privd.conf says
    /// exactly the defaults.
    #[test]
    fn the_installed_file_states_the_defaults() {
        let text = include_str!("../privd.conf");
        let c = Config::parse(text, Path::new(DEFAULT_PATH)).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn a_config_file_overrides_the_safe_defaults() {
        let c = Config::parse(
            "# comment\ngroup = tracers\nmax_instances_per_user = 2\nevents = sched:sched_switch, irq:*\n",
            Path::new("t"),
        )
        .unwrap();
        assert_eq!(c.group, "tracers");
        assert_eq!(c.max_instances_per_user, 2);
        assert_eq!(c.path, Path::new("t"));
        let l = Config::parse(
            "max_connections = 100000\nmax_connections_per_user = 3\nidle_timeout_ms = 250\n",
            Path::new("t"),
        )
        .unwrap();
        assert_eq!(l.max_connections, MAX_CONNECTIONS);
        assert_eq!(l.max_connections_per_user, 3);
        assert_eq!(l.idle_timeout, Duration::from_millis(250));
        assert_eq!(l.hello_timeout, Duration::from_secs(5));
        assert!(c.allows("sched:sched_switch"));
        assert!(c.allows("irq:irq_handler_entry"));
        assert!(!c.allows("sched:sched_wakeup"));
        assert!(!c.allows("syscalls:sys_enter_openat"));
        for bad in [
            "group = a b",
            "socket_dir = relative",
            "events = ../x",
            "events = sched",
            "max_buffer_kb = lots",
            "nonsense",
            "colour = blue",
            "path_probes = libc.so.6",
            "hello_timeout_ms = 0",
            "max_connections = -1",
            "path_probes = /lib/libc.so.6 p:evil/x /bin/sh:0x1",
        ] {
            assert!(Config::parse(bad, Path::new("t")).is_err(), "{bad}");
        }
        assert!(Config::default().allows("sched:sched_switch"));
        assert!(Config::parse("path_probes = off", Path::new("t"))
            .unwrap()
            .path_probes
            .is_none());
    }
}
