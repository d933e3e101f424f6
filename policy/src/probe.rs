//! Probing a sandbox from the inside, for tests: enter a role's sandbox exactly as in
//! service, then do one thing the sandbox must allow or forbid, and say what happened.
//! Run one probe process per case (a forbidden system call kills the process).
//!
//! A thread is started *before* the sandbox and, for the `thread-*` cases, does the
//! check afterwards, so that threads that already exist are shown to be covered too.
//! Cases:
//!
//! - `status`, `thread-status`: the `NoNewPrivs`, `Seccomp` and `Cap*` lines of the
//!   thread's status;
//! - `open-outside`, `thread-open-outside`: open `/etc/passwd` (`EACCES` if refused);
//! - `write-inside`: create, write and read back a file below the first writable
//!   directory;
//! - `syscall`, `thread-syscall`: open a TCP socket (not in any allowlist: the process
//!   dies of SIGSYS);
//! - `exec`: run `/bin/true` (execve is not allowed either).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc;

use crate::Sandbox;

/// The cases [`run`] knows, without the `thread-` prefix.
pub const CASES: [&str; 5] = ["status", "open-outside", "write-inside", "syscall", "exec"];

/// Why a probe could not run its case.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("unknown probe case '{0}'")]
    UnknownCase(String),
    #[error("cannot prepare the probe: {0}")]
    Prepare(String),
    #[error(transparent)]
    Sandbox(#[from] crate::SandboxError),
}

/// What one check printed.
fn check(case: &str, status: &File, inside: Option<&PathBuf>) -> String {
    match case {
        "status" => {
            let mut buf = vec![0u8; 16384];
            let n = status.read_at(&mut buf, 0).unwrap_or(0);
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .filter(|l| {
                    [
                        "NoNewPrivs",
                        "Seccomp:",
                        "CapInh",
                        "CapPrm",
                        "CapEff",
                        "CapBnd",
                        "CapAmb",
                    ]
                    .iter()
                    .any(|p| l.starts_with(p))
                })
                .map(|l| format!("{l}\n"))
                .collect()
        }
        "open-outside" => match File::open("/etc/passwd") {
            Ok(_) => "opened\n".into(),
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => "EACCES\n".into(),
            Err(e) => format!("error {e}\n"),
        },
        "write-inside" => {
            let dir = inside.cloned().unwrap_or_default().join("probe-dir");
            let r = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join("f"), b"inside"))
                .and_then(|()| {
                    let mut s = String::new();
                    File::open(dir.join("f"))?.read_to_string(&mut s)?;
                    Ok(s)
                });
            match r {
                Ok(s) => format!("wrote {s}\n"),
                Err(e) => format!("error {e}\n"),
            }
        }
        "syscall" => match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => "connected\n".into(),
            Err(e) => format!("survived: {e}\n"),
        },
        "exec" => match std::process::Command::new("/bin/true").status() {
            Ok(s) => format!("ran: {s}\n"),
            Err(e) => format!("survived: {e}\n"),
        },
        other => format!("unknown case {other}\n"),
    }
}

/// Enters `sandbox` (its inherited descriptors are closed, but the probe's own are
/// kept), then runs `case` on the main thread, or with a `thread-` prefix on the
/// thread started before the sandbox. Returns what the case printed.
pub fn run(case: &str, mut sandbox: Sandbox) -> Result<String, ProbeError> {
    let (on_thread, what) = match case.strip_prefix("thread-") {
        Some(w) => (true, w.to_string()),
        None => (false, case.to_string()),
    };
    if !CASES.contains(&what.as_str()) {
        return Err(ProbeError::UnknownCase(case.into()));
    }
    let inside = sandbox.writable.first().cloned();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<String>();
    let (fd_tx, fd_rx) = mpsc::channel::<RawFd>();
    let main_status =
        File::open("/proc/thread-self/status").map_err(|e| ProbeError::Prepare(e.to_string()))?;
    let worker = {
        let what = what.clone();
        let inside = inside.clone();
        std::thread::spawn(move || {
            let Ok(status) = File::open("/proc/thread-self/status") else {
                return;
            };
            let _ = fd_tx.send(status.as_raw_fd());
            // No go (the case runs on the main thread): just end.
            if go_rx.recv().is_err() {
                return;
            }
            let _ = done_tx.send(check(&what, &status, inside.as_ref()));
        })
    };
    sandbox.keep_fds.push(main_status.as_raw_fd());
    sandbox.keep_fds.extend(fd_rx.recv());
    crate::enter(&sandbox)?;
    if on_thread {
        let _ = go_tx.send(());
        let r = done_rx.recv().unwrap_or_else(|_| "no answer\n".into());
        let _ = worker.join();
        Ok(r)
    } else {
        drop(go_tx);
        Ok(check(&what, &main_status, inside.as_ref()))
    }
}
