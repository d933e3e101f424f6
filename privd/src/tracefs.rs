//! tracefs: privd's only window on the kernel tracer. Every path here is built by
//! privd from its own configuration, a name it chose (`lttng-rs-u<uid>-<n>`) and
//! event names checked against a strict syntax and the allowlist: no client string
//! reaches the file system unchecked.

use std::fs::{self, File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a tracefs operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    #[error("tracefs is not mounted at {0} and cannot be mounted: {1}")]
    Mount(PathBuf, String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the kernel has no event '{0}'")]
    NoEvent(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> TracefsError + 'a {
    move |source| TracefsError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// `system:event` with both parts made of `[A-Za-z0-9_]` (what tracefs uses), at most
/// [`proto::wire::privd::EVENT_NAME_MAX`] bytes.
pub fn is_event_name(s: &str) -> bool {
    let ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    s.len() <= proto::wire::privd::EVENT_NAME_MAX
        && s.split_once(':').is_some_and(|(a, b)| ok(a) && ok(b))
}

/// Like [`is_event_name`], with `*` allowed (configuration globs).
pub fn is_event_pattern(s: &str) -> bool {
    is_event_name(&s.replace('*', "x"))
}

/// Reads a tracefs text file. Some of them (`header_page`, `header_event`) answer
/// only the first `read` of an open file and return 0 afterwards, so a reader that
/// starts small (as `fs::read_to_string` does) gets a truncated text: read with one
/// large buffer.
fn read_text(path: &Path) -> Result<String, TracefsError> {
    use std::io::Read;
    let mut f = File::open(path).map_err(io("cannot open", path))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io("cannot read", path)(e)),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| {
        io("cannot read", path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    })
}

/// Mounts tracefs at `root` if it is not there yet.
pub fn ensure_mounted(root: &Path) -> Result<(), TracefsError> {
    if root.join("instances").is_dir() {
        return Ok(());
    }
    nix::mount::mount(
        Some("nodev"),
        root,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| TracefsError::Mount(root.to_path_buf(), e.to_string()))?;
    Ok(())
}

/// What `/sys/kernel/security/lockdown` says, if it forbids tracefs: `Some(mode)`.
pub fn lockdown() -> Option<String> {
    let text = fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    lockdown_forbids(&text)
}

/// Parses `none [integrity] confidentiality`: tracefs is denied in confidentiality
/// mode only.
pub fn lockdown_forbids(text: &str) -> Option<String> {
    let active = text
        .split_whitespace()
        .find(|w| w.starts_with('[') && w.ends_with(']'))?
        .trim_matches(|c| c == '[' || c == ']');
    (active == "confidentiality").then(|| active.to_string())
}

/// Every event the kernel offers, as `system:event`.
pub fn kernel_events(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(systems) = fs::read_dir(root.join("events")) else {
        return out;
    };
    for sys in systems.flatten() {
        if !sys.path().is_dir() {
            continue;
        }
        let Some(sys_name) = sys.file_name().to_str().map(String::from) else {
            continue;
        };
        let Ok(events) = fs::read_dir(sys.path()) else {
            continue;
        };
        for ev in events.flatten() {
            if let Some(name) = ev.file_name().to_str() {
                let full = format!("{sys_name}:{name}");
                if ev.path().join("format").exists() && is_event_name(&full) {
                    out.push(full);
                }
            }
        }
    }
    out.sort();
    out
}

/// One tracefs instance created by privd.
#[derive(Debug)]
pub struct Instance {
    pub name: String,
    path: PathBuf,
    pub cpus: u32,
    pub enabled: Vec<String>,
}

impl Instance {
    /// Creates `instances/<name>` with a per-CPU buffer of `buffer_kb` KiB and the trace
    /// clock `clock`. Overwrite stays on (ftrace's default): when the reader falls
    /// behind, the oldest pages go and the next page read carries the count of lost
    /// events, which the kernel consumer reports (without overwrite the kernel drops
    /// new events and flags nothing on the pages).
    pub fn create(
        root: &Path,
        name: &str,
        buffer_kb: u32,
        clock: &str,
    ) -> Result<Instance, TracefsError> {
        let path = root.join("instances").join(name);
        fs::create_dir(&path).map_err(io("cannot create the instance", &path))?;
        let inst = Instance {
            name: name.to_string(),
            cpus: count_cpus(&path),
            path,
            enabled: Vec::new(),
        };
        let setup = || -> Result<(), TracefsError> {
            inst.write("tracing_on", "0")?;
            inst.write("buffer_size_kb", &buffer_kb.to_string())?;
            inst.write("trace_clock", clock)?;
            Ok(())
        };
        if let Err(e) = setup() {
            let _ = inst.destroy();
            return Err(e);
        }
        Ok(inst)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), TracefsError> {
        let p = self.path.join(file);
        fs::write(&p, value).map_err(io("cannot write", &p))
    }

    fn event_dir(&self, event: &str) -> Option<PathBuf> {
        let (sys, name) = event.split_once(':')?;
        is_event_name(event).then(|| self.path.join("events").join(sys).join(name))
    }

    /// Enables `event` (already checked against the allowlist).
    pub fn enable(&mut self, event: &str) -> Result<(), TracefsError> {
        let dir = self
            .event_dir(event)
            .filter(|d| d.join("enable").exists())
            .ok_or_else(|| TracefsError::NoEvent(event.into()))?;
        let p = dir.join("enable");
        fs::write(&p, "1").map_err(io("cannot enable", &p))?;
        if !self.enabled.iter().any(|e| e == event) {
            self.enabled.push(event.to_string());
        }
        Ok(())
    }

    /// Disables `event` (one this instance enabled).
    pub fn disable(&mut self, event: &str) -> Result<(), TracefsError> {
        if !self.enabled.iter().any(|e| e == event) {
            return Err(TracefsError::NoEvent(event.into()));
        }
        let dir = self
            .event_dir(event)
            .ok_or_else(|| TracefsError::NoEvent(event.into()))?;
        let p = dir.join("enable");
        fs::write(&p, "0").map_err(io("cannot disable", &p))
    }

    /// Records only `pids` and their future children.
    pub fn set_pids(&self, pids: &[u32]) -> Result<(), TracefsError> {
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        self.write("options/event-fork", "1")?;
        self.write("set_event_pid", &list.join(" "))
    }

    /// Records only the system calls `ids` in `raw_syscalls` (an event filter built
    /// from the numbers alone); none: all of them.
    pub fn set_syscall_filter(&self, ids: &[u32]) -> Result<(), TracefsError> {
        let filter = if ids.is_empty() {
            "0".to_string() // clears the filter
        } else {
            ids.iter()
                .map(|n| format!("id == {n}"))
                .collect::<Vec<_>>()
                .join(" || ")
        };
        for e in ["sys_enter", "sys_exit"] {
            self.write(&format!("events/raw_syscalls/{e}/filter"), &filter)?;
        }
        Ok(())
    }

    pub fn set_tracing(&self, on: bool) -> Result<(), TracefsError> {
        self.write("tracing_on", if on { "1" } else { "0" })
    }

    /// The read-only, non-blocking `trace_pipe_raw` of `cpu`.
    pub fn stream(&self, cpu: u32) -> Result<OwnedFd, TracefsError> {
        let p = self.path.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
        let f: File = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&p)
            .map_err(io("cannot open", &p))?;
        Ok(f.into())
    }

    /// `events/header_page`, or the `format` of an enabled event.
    pub fn format(&self, event: Option<&str>) -> Result<String, TracefsError> {
        let p = match event {
            None => self.path.join("events/header_page"),
            Some(e) if self.enabled.iter().any(|x| x == e) => self
                .event_dir(e)
                .ok_or_else(|| TracefsError::NoEvent(e.into()))?
                .join("format"),
            Some(e) => return Err(TracefsError::NoEvent(e.into())),
        };
        read_text(&p)
    }

    /// `events/header_event`.
    pub fn header_event(&self) -> Result<String, TracefsError> {
        read_text(&self.path.join("events/header_event"))
    }

    /// Stops tracing, disables every event and removes the instance. Returns false
    /// when tracefs refuses the removal for now (EBUSY: someone still holds one of its
    /// `trace_pipe_raw`), so that the caller tries again later.
    pub fn destroy(&self) -> bool {
        let _ = self.set_tracing(false);
        let _ = fs::write(self.path.join("events/enable"), "0");
        match fs::remove_dir(&self.path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                if e.raw_os_error() != Some(libc::EBUSY) {
                    eprintln!("lttng-privd: cannot remove {}: {e}", self.path.display());
                }
                false
            }
        }
    }
}

/// Number of per-CPU directories of an instance.
fn count_cpus(instance: &Path) -> u32 {
    fs::read_dir(instance.join("per_cpu"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("cpu")))
                .count() as u32
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_cannot_carry_paths() {
        assert!(is_event_name("sched:sched_switch"));
        for bad in [
            "sched", "../x:y", "a:b/c", "a:", ":b", "a:b:c", "a :b", "a:b\0", "*:x",
        ] {
            assert!(!is_event_name(bad), "{bad:?}");
        }
        assert!(is_event_pattern("irq:*"));
        assert!(!is_event_pattern("irq/*"));
    }

    #[test]
    fn lockdown_confidentiality_forbids_tracefs() {
        assert_eq!(
            lockdown_forbids("none integrity [confidentiality]\n"),
            Some("confidentiality".into())
        );
        assert_eq!(lockdown_forbids("none [integrity] confidentiality"), None);
        assert_eq!(lockdown_forbids("[none] integrity confidentiality"), None);
        assert_eq!(lockdown_forbids(""), None);
    }
}
