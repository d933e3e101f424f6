//! `lttng-privd`: the only process of the tracer that runs as root.
//!
//! It owns kernel-tracer access (tracefs) and the tracing-group check, and serves a
//! closed vocabulary (`proto::wire::privd`) on a socket under `/run/lttng-rs/`
//! (directory `root:<group>` 0750, socket `root:<group>` 0660): list the allowed kernel
//! events, create a tracefs instance (privd names it), enable allowlisted events, set
//! the buffer size (capped) and the trace clock, hand over the per-CPU
//! `trace_pipe_raw` descriptors read-only with the format texts, start, stop, destroy.
//! Each request is authorised on its own (see `auth`); each connection's instances are
//! removed when it closes. Per-user instance limits, caps and the allowlist come from
//! a small configuration file (see `config`). At start-up it defines the path probes
//! (uprobes on the C library's open functions, see `path_probes`), which sessiond
//! enables with the system calls so that `openat` entries carry their file name. It mounts tracefs if needed, reports
//! kernel lockdown, logs who asked for what on stderr, and keeps no capability once
//! its socket is set up (tracefs files belong to root, which it still is): it runs
//! under its own policy (`policy`, role `privd`: Landlock on tracefs, its socket
//! directory and /etc read-only; a seccomp allowlist).
//!
//! Usage: `lttng-privd [--config FILE]` (default `/etc/lttng-rs/privd.conf`; missing
//! means the defaults). It runs in the foreground (a service manager's job to
//! background it); SIGTERM stops it.
//!
//! Exit codes: 0 stopped by a signal; 1 runtime error; 2 usage error (bad arguments or
//! configuration, not root); 3 another privd is running; 4 the sandbox could not be
//! entered.
#![deny(unsafe_code)]

mod auth;
mod config;
mod limits;
mod path_probes;
mod server;
mod sys;
mod tracefs;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{chown, Gid, Group};
use proto::wire::socket;

use config::Config;
use limits::Limits;
use path_probes::PathProbes;
use server::Server;

/// The socket's file name in the socket directory.
const SOCKET: &str = "privd.sock";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_path = PathBuf::from(config::DEFAULT_PATH);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => match args.next() {
                Some(p) => config_path = PathBuf::from(p),
                None => return usage("--config needs a file"),
            },
            "-h" | "--help" => {
                println!("usage: lttng-privd [--config FILE]");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument '{other}'")),
        }
    }
    if !nix::unistd::geteuid().is_root() {
        return usage(
            "must run as root: it is the helper that opens tracefs for the tracing group",
        );
    }
    let cfg = match Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => return usage(&e.to_string()),
    };
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("lttng-privd: {msg}");
            ExitCode::from(code)
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("lttng-privd: {msg}\nusage: lttng-privd [--config FILE]");
    ExitCode::from(2)
}

fn run(cfg: Config) -> Result<(), (u8, String)> {
    let rt = |e: &dyn std::fmt::Display| (1u8, e.to_string());
    let group = Group::from_name(&cfg.group)
        .ok()
        .flatten()
        .ok_or_else(|| {
            (
                2,
                format!(
                    "the group '{}' does not exist: create it (groupadd {}) or set `group` in the configuration",
                    cfg.group, cfg.group
                ),
            )
        })?;
    let lockdown = tracefs::lockdown();
    let mut path_probes = None;
    if let Some(mode) = &lockdown {
        eprintln!("lttng-privd: the kernel is locked down (lockdown={mode}): kernel tracing requests will be refused");
    } else {
        tracefs::ensure_mounted(&cfg.tracefs).map_err(|e| rt(&e))?;
        remove_leftovers(&cfg.tracefs);
        if let Some(library) = &cfg.path_probes {
            match PathProbes::define(&cfg.tracefs, library) {
                Ok(p) => {
                    eprintln!("lttng-privd: path probes: {}", p.events().join(", "));
                    path_probes = Some(p);
                }
                Err(e) => eprintln!(
                    "lttng-privd: no path probes ({e}): openat entries will carry no file name"
                ),
            }
        }
    }

    let listener = listen(&cfg.socket_dir, group.gid)?;
    // Signals to the thread that waits for them.
    let mut signals = nix::sys::signal::SigSet::empty();
    signals.add(nix::sys::signal::Signal::SIGTERM);
    signals.add(nix::sys::signal::Signal::SIGINT);
    signals.thread_block().map_err(|e| rt(&e))?;

    // Its sandbox, before the first request: no capability (tracefs files belong to
    // root, which it stays), no_new_privs, Landlock (tracefs and its socket directory
    // read-write, /etc read-only for the group database), seccomp.
    let (sock, lock) = listener;
    let sandbox = policy::Sandbox {
        role: policy::Role::Privd,
        writable: vec![cfg.tracefs.clone(), cfg.socket_dir.clone()],
        readable: vec![PathBuf::from("/etc")],
        keep_fds: vec![sock.as_raw_fd(), lock.as_raw_fd()],
        degraded: false,
    };
    // Warm the group database up (glibc opens its files lazily).
    let _ = Group::from_name(&cfg.group);
    policy::enter(&sandbox).map_err(|e| (4u8, format!("cannot enter the sandbox: {e}")))?;
    eprintln!(
        "lttng-privd: pid {} serving group '{}' on {}",
        std::process::id(),
        cfg.group,
        cfg.socket_dir.join(SOCKET).display()
    );
    let limits = Limits::start(&cfg).map_err(|e| rt(&e))?;
    let server = Arc::new(Server::new(cfg, lockdown));
    {
        let server = server.clone();
        std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(sock, server, limits))
            .map_err(|e| rt(&e))?;
    }
    {
        let server = server.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                server.reap();
            })
            .map_err(|e| rt(&e))?;
    }
    let sig = signals.wait().map_err(|e| rt(&e))?;
    eprintln!("lttng-privd: {sig:?}: stopping");
    let _ = std::fs::remove_file(server.cfg.socket_dir.join(SOCKET));
    drop(lock);
    // Instances of connections still open: gone with the process's exit is not enough
    // (tracefs keeps them), so remove them by name; then the probes they used.
    remove_leftovers(&server.cfg.tracefs);
    if let Some(p) = path_probes {
        p.remove();
    }
    Ok(())
}

/// Creates the socket directory and socket with their ownership and modes; returns
/// the listening socket and the lock that makes this privd the only one.
fn listen(dir: &Path, gid: Gid) -> Result<(OwnedFd, Flock<File>), (u8, String)> {
    let rt =
        |what: &str, e: &dyn std::fmt::Display| (1u8, format!("{what} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| rt("cannot create", &e))?;
    chown(dir, Some(nix::unistd::Uid::from_raw(0)), Some(gid))
        .map_err(|e| rt("cannot chown", &e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
        .map_err(|e| rt("cannot chmod", &e))?;
    let lock_file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("privd.lock"))
        .map_err(|e| rt("cannot open the lock in", &e))?;
    let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        (
            3u8,
            format!("another lttng-privd already serves {}", dir.display()),
        )
    })?;
    let path = dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let sock = socket::listen(&path).map_err(|e| rt("cannot listen in", &e))?;
    socket::pass_credentials(sock.as_fd()).map_err(|e| rt("cannot set SO_PASSCRED in", &e))?;
    chown(&path, Some(nix::unistd::Uid::from_raw(0)), Some(gid))
        .map_err(|e| rt("cannot chown the socket in", &e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| rt("cannot chmod the socket in", &e))?;
    Ok((sock, lock))
}

/// The stack of a connection's thread: requests are small and parsed in place.
const CONNECTION_STACK: usize = 256 * 1024;

/// Accepts connections: each within the limits gets a thread; one over them is
/// refused (see `limits`).
fn accept_loop(listener: OwnedFd, server: Arc<Server>, limits: Limits) {
    loop {
        let sock = match socket::accept(listener.as_fd()) {
            Ok(sock) => sock,
            Err(e) => {
                // EMFILE and the like: let connections end before the next one.
                eprintln!("lttng-privd: accept: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        let uid = match socket::peer_cred(sock.as_fd()) {
            Ok(c) => c.uid,
            Err(e) => {
                eprintln!("lttng-privd: refused a connection: no credentials: {e}");
                continue;
            }
        };
        let Some((admitted, sock)) = limits.admit(uid, sock) else {
            continue;
        };
        if let Err(e) = socket::pass_credentials(sock.as_fd()) {
            eprintln!("lttng-privd: SO_PASSCRED: {e}");
            continue;
        }
        let s = server.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("connection".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                server::serve(s, sock);
                drop(admitted);
            })
        {
            eprintln!("lttng-privd: cannot serve a connection: {e}");
        }
    }
}

/// Removes instances a previous privd left behind (it was killed): ours are named
/// `lttng-rs-u<uid>-<privd pid>-<n>`; those of a privd still running (another tracefs
/// user on this machine, a test) are left alone.
fn remove_leftovers(tracefs: &Path) {
    let Ok(entries) = std::fs::read_dir(tracefs.join("instances")) else {
        return;
    };
    let me = std::process::id();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let owner: Option<u32> = name
            .strip_prefix("lttng-rs-u")
            .and_then(|rest| rest.split('-').nth(1))
            .and_then(|pid| pid.parse().ok());
        // Any live process with that pid may be a privd (installed under another name,
        // or wrapped): leave its instances alone.
        let alive = |pid: u32| pid != me && Path::new(&format!("/proc/{pid}")).exists();
        if owner.is_some_and(|pid| !alive(pid)) {
            let _ = std::fs::write(e.path().join("tracing_on"), "0");
            let _ = std::fs::write(e.path().join("events/enable"), "0");
            match std::fs::remove_dir(e.path()) {
                Ok(()) => eprintln!("lttng-privd: removed a leftover instance {name}"),
                Err(err) => {
                    eprintln!("lttng-privd: cannot remove the leftover instance {name}: {err}")
                }
            }
        }
    }
}
