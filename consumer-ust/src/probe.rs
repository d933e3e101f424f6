//! `--sandbox-probe CASE`: enters the consumer's sandbox exactly as in service, then
//! does one thing the sandbox must allow or forbid, and reports on stdout. The tests
//! run one probe process per case (a forbidden system call kills the process).
//!
//! A thread is started *before* the sandbox and does the same check afterwards, so
//! that threads that already exist are shown to be covered too. Cases:
//!
//! - `status`, `thread-status`: print the `NoNewPrivs`, `Seccomp` and `Cap*` lines of
//!   the thread's status;
//! - `open-outside`, `thread-open-outside`: open `/etc/passwd`; print `EACCES` if
//!   refused;
//! - `write-inside`: create, write and read back a file below the output directory;
//! - `syscall`, `thread-syscall`: open a TCP socket (not in the allowlist: the process
//!   dies of SIGSYS);
//! - `exec`: run `/bin/true` (execve is not allowed either).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::sync::mpsc;

use crate::{enter_sandbox, Args, EXIT_SANDBOX, EXIT_USAGE};

/// What a check printed.
fn check(case: &str, status: &File, args: &Args) -> String {
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
            let dir = args.output.clone().unwrap_or_default().join("probe-dir");
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

pub(crate) fn run(case: &str, args: &Args) -> ExitCode {
    let (on_thread, what) = match case.strip_prefix("thread-") {
        Some(w) => (true, w.to_string()),
        None => (false, case.to_string()),
    };
    let known = ["status", "open-outside", "write-inside", "syscall", "exec"];
    if !known.contains(&what.as_str()) {
        eprintln!("lttng-consumerd-ust: unknown probe case '{case}'");
        return ExitCode::from(EXIT_USAGE);
    }
    // The thread exists before the sandbox; it waits for the go.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<String>();
    let (fd_tx, fd_rx) = mpsc::channel::<RawFd>();
    let thread_status = File::open("/proc/thread-self/status").ok();
    let worker = {
        let what = what.clone();
        let output = args.output.clone();
        std::thread::spawn(move || {
            let Ok(status) = File::open("/proc/thread-self/status") else {
                return;
            };
            let _ = fd_tx.send(status.as_raw_fd());
            // No go (the case runs on the main thread): just end.
            if go_rx.recv().is_err() {
                return;
            }
            let a = Args {
                output,
                ..Args::default()
            };
            let _ = done_tx.send(check(&what, &status, &a));
        })
    };
    // The sandbox closes inherited descriptors: keep the two status files.
    let mut keep: Vec<RawFd> = thread_status.iter().map(|f| f.as_raw_fd()).collect();
    keep.extend(fd_rx.recv());
    if let Err(code) = enter_sandbox(args, &keep) {
        return code;
    }
    let out = if on_thread {
        let _ = go_tx.send(());
        let r = done_rx.recv().unwrap_or_else(|_| "no answer\n".into());
        let _ = worker.join();
        r
    } else {
        drop(go_tx);
        let Some(status) = thread_status else {
            return ExitCode::from(EXIT_SANDBOX);
        };
        check(&what, &status, args)
    };
    print!("{out}");
    ExitCode::SUCCESS
}
