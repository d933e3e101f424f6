//! `lttng-sessiond`: the per-user session daemon.
//!
//! One per user, unprivileged. It owns the user's tracing sessions, registers the
//! user's instrumented applications, creates the sealed ring buffers and hands them to
//! the applications and to the consumer process it spawns, and writes the trace
//! metadata. Its sockets live in the run directory (see `proto::rundir`): `client.sock`
//! for the `lttng` command, `app.sock` for applications. Every connection is checked
//! with SO_PEERCRED: only the daemon's own uid is served.
//!
//! `lttng` starts it on demand (`lttng-sessiond --daemonize`); it can also run in the
//! foreground for debugging. SIGTERM or SIGINT stop it cleanly: active sessions are
//! stopped (everything recorded is written out) before it exits.
//!
//! Exit codes:
//! - 0: stopped by SIGTERM/SIGINT after a clean shutdown;
//! - 1: runtime error (sockets, consumer, ...);
//! - 2: usage error;
//! - 3: another session daemon already runs for this user;
//! - 4: the run directory is unsafe (not ours, or open to other users);
//! - 5: the sandbox could not be entered.
//!
//! Before it serves anything it enters its sandbox (`policy`, role `sessiond`): no
//! capability (when run as root; an ordinary user has none to drop, and the bounding
//! set stays: the daemon keeps the user's namespace), no_new_privs, and a seccomp
//! allowlist (unix sockets only, no ptrace, ...) that also covers the consumers it
//! spawns. No Landlock: it writes metadata wherever the user puts a session's output.
//! Without seccomp it refuses to run, unless `--allow-unsandboxed` is given.
#![deny(unsafe_code)]

mod apps;
mod client;
mod consumer;
mod daemon;
mod kernel;
mod listeners;
mod privd;
mod session;
mod statedump;
mod watch;

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal};
use proto::rundir;
use proto::wire::control::{Reply, Request};
use proto::wire::{socket, VERSION};

use daemon::{lock, Daemon};

/// The per-user session daemon of the tracer.
#[derive(Parser, Debug)]
#[command(name = "lttng-sessiond", version)]
struct Args {
    /// Detach and run in the background (output goes to sessiond.log in the run
    /// directory); returns once the daemon accepts connections.
    #[arg(short = 'd', long)]
    daemonize: bool,
    /// The consumer program (default: lttng-consumerd-ust next to this program).
    #[arg(long, value_name = "PATH")]
    consumerd_path: Option<PathBuf>,
    /// Let consumers run without their sandbox (Landlock, seccomp) on kernels that
    /// lack it; `lttng status` then says the session is not sandboxed.
    #[arg(long)]
    allow_unsandboxed: bool,
    /// Most `lttng` commands served at once (each is a thread); more are refused with
    /// a message naming this option.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_clients: u32,
    /// Most applications registering at once (each is a thread for at most 2 s); more
    /// are turned away and try again later.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_registrations: u32,
    /// How long a new `lttng` connection has to say hello.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    hello_timeout_ms: u64,
    /// How long a greeted `lttng` connection may stay silent before it is closed
    /// (`lttng` reconnects on its next request).
    #[arg(long, value_name = "MS", default_value_t = 60000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// How long a reply may wait for its client to read it; then the connection ends.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    reply_timeout_ms: u64,
    /// Internal: the detached child of --daemonize.
    #[arg(long, hide = true)]
    detached: bool,
    /// Tests: enter the daemon's sandbox, then try CASE and report on stdout (no run
    /// directory, nothing served). `status`: the sandbox lines of /proc/self/status;
    /// `unix-socket`: a unix socket pair (allowed); `user-names`: user and group names
    /// of a few ids (NSS lookups, allowed); `thread-panic`: a thread that
    /// panics (std prints its message and backtrace; the process goes on);
    /// `inet-socket`: an AF_INET socket (forbidden: the process dies of SIGSYS).
    #[arg(long, hide = true, value_name = "CASE")]
    sandbox_probe: Option<String>,
}

const EXIT_RUNTIME: u8 = 1;
const EXIT_ALREADY_RUNNING: u8 = 3;
const EXIT_UNSAFE_RUNDIR: u8 = 4;
const EXIT_SANDBOX: u8 = 5;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(case) = &args.sandbox_probe {
        return sandbox_probe(case, args.allow_unsandboxed);
    }
    let uid = rundir::current_uid();
    let dir = match rundir::resolve().and_then(|d| rundir::ensure(&d, uid).map(|()| d)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lttng-sessiond: {e}");
            return ExitCode::from(EXIT_UNSAFE_RUNDIR);
        }
    };
    if args.daemonize {
        return daemonize(&dir);
    }
    if args.detached {
        let _ = nix::unistd::setsid();
    }
    match run(&args, &dir, uid) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("lttng-sessiond: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Starts a detached copy of this program and waits until it serves (or fails).
fn daemonize(dir: &Path) -> ExitCode {
    let log_path = dir.join(rundir::LOG_FILE);
    let open_log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
    };
    let (out, err) = match (open_log(), open_log()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("lttng-sessiond: cannot open {}: {e}", log_path.display());
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let log_start = out.metadata().map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lttng-sessiond"));
    let mut cmd = Command::new(exe);
    cmd.arg("--detached");
    for a in std::env::args().skip(1) {
        if a != "-d" && a != "--daemonize" {
            cmd.arg(a);
        }
    }
    let mut child = match cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lttng-sessiond: cannot start the daemon: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let sock_path = dir.join(rundir::CLIENT_SOCKET);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut log = String::new();
            if let Ok(mut f) = File::open(&log_path) {
                use std::io::Seek;
                let _ = f.seek(std::io::SeekFrom::Start(log_start));
                let _ = f.read_to_string(&mut log);
            }
            eprint!("{log}");
            return ExitCode::from(status.code().unwrap_or(1) as u8);
        }
        if let Ok(sock) = socket::connect(&sock_path) {
            let hello = socket::call::<_, Reply>(&sock, &Request::Hello { version: VERSION });
            if matches!(hello, Ok(Reply::Hello { pid, .. }) if pid == child.id()) {
                return ExitCode::SUCCESS;
            }
        }
        if Instant::now() > deadline {
            eprintln!(
                "lttng-sessiond: the daemon did not come up within 10 s (see {})",
                log_path.display()
            );
            return ExitCode::from(EXIT_RUNTIME);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run(args: &Args, dir: &Path, uid: u32) -> Result<(), (u8, String)> {
    let rt = |e: &dyn std::fmt::Display| (EXIT_RUNTIME, e.to_string());
    // The lock says whether a daemon runs; socket files alone may be stale.
    let lock_path = dir.join(rundir::LOCK_FILE);
    let lock_file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| rt(&format!("cannot open {}: {e}", lock_path.display())))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        (
            EXIT_ALREADY_RUNNING,
            format!(
                "a session daemon already runs for this user (run directory {})",
                dir.display()
            ),
        )
    })?;
    // The pid goes into the lock file, for operators and tests that want to signal
    // the daemon (the lock itself is what says whether it runs).
    {
        use std::io::{Seek, Write};
        let mut f: &File = &_lock;
        let _ = f.set_len(0);
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = writeln!(f, "{}", std::process::id());
    }
    let client_path = dir.join(rundir::CLIENT_SOCKET);
    let app_path = dir.join(rundir::APP_SOCKET);
    // Sockets left by a daemon that died: we hold the lock, so nobody serves them.
    let _ = std::fs::remove_file(&client_path);
    let _ = std::fs::remove_file(&app_path);

    // Signals go to the thread that waits for them, not to the workers.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGHUP);
    signals.thread_block().map_err(|e| rt(&e))?;

    let source = proto::clock::init();
    let home = std::env::var_os("LTTNG_HOME")
        .or_else(|| std::env::var_os("HOME"))
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.to_path_buf());
    let consumer_path = args.consumerd_path.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("lttng-consumerd-ust")))
            .unwrap_or_else(|| PathBuf::from("lttng-consumerd-ust"))
    });
    let daemon = Daemon::new(uid, source, home, consumer_path, args.allow_unsandboxed);

    let client_listener = socket::listen(&client_path).map_err(|e| rt(&e))?;
    let app_listener = socket::listen(&app_path).map_err(|e| rt(&e))?;
    // The sandbox, before the first thread starts and the first byte is served.
    let keep = [
        _lock.as_raw_fd(),
        client_listener.as_raw_fd(),
        app_listener.as_raw_fd(),
    ];
    enter_sandbox(&keep, args.allow_unsandboxed)?;
    let bounds = listeners::Bounds {
        max_clients: args.max_clients,
        max_registrations: args.max_registrations,
        hello_timeout: Duration::from_millis(args.hello_timeout_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        reply_timeout: Duration::from_millis(args.reply_timeout_ms),
    };
    let watcher = watch::Watcher::start(daemon.clone()).map_err(|e| rt(&e))?;
    spawn("client-listener", {
        let d = daemon.clone();
        move || listeners::accept_clients(client_listener, d, bounds)
    })?;
    spawn("app-listener", {
        let d = daemon.clone();
        move || listeners::accept_apps(app_listener, d, bounds, watcher)
    })?;
    eprintln!(
        "lttng-sessiond: pid {} serving uid {uid} in {}",
        std::process::id(),
        dir.display()
    );

    let sig = signals.wait().map_err(|e| rt(&e))?;
    eprintln!("lttng-sessiond: {sig:?}: stopping");
    lock(&daemon).shutdown();
    let _ = std::fs::remove_file(&client_path);
    let _ = std::fs::remove_file(&app_path);
    Ok(())
}

/// Enters the daemon's sandbox, keeping the descriptors `keep` open; warns about what
/// is missing in degraded mode.
fn enter_sandbox(keep: &[std::os::fd::RawFd], degraded: bool) -> Result<(), (u8, String)> {
    let sandbox = policy::Sandbox {
        role: policy::Role::Sessiond,
        writable: Vec::new(),
        readable: Vec::new(),
        keep_fds: keep.to_vec(),
        degraded,
    };
    match policy::enter(&sandbox) {
        Ok(e) => {
            for m in &e.missing {
                eprintln!("lttng-sessiond: WARNING: running without {m} (degraded mode)");
            }
            Ok(())
        }
        Err(e) => Err((EXIT_SANDBOX, e.to_string())),
    }
}

/// `--sandbox-probe CASE`: enters the sandbox as the daemon does, then does one thing
/// it must allow or forbid (see [`Args::sandbox_probe`]).
fn sandbox_probe(case: &str, degraded: bool) -> ExitCode {
    if let Err((code, msg)) = enter_sandbox(&[], degraded) {
        eprintln!("lttng-sessiond: {msg}");
        return ExitCode::from(code);
    }
    let out = match case {
        "status" => {
            let mut text = String::new();
            // No Landlock for the daemon: /proc stays readable.
            match File::open("/proc/self/status").and_then(|mut f| f.read_to_string(&mut text)) {
                Ok(_) => text
                    .lines()
                    .filter(|l| {
                        ["NoNewPrivs:", "Seccomp:", "Cap"]
                            .iter()
                            .any(|p| l.starts_with(p))
                    })
                    .map(|l| format!("{l}\n"))
                    .collect(),
                Err(e) => format!("error {e}\n"),
            }
        }
        "unix-socket" => match socket::pair() {
            Ok(_) => "unix socket pair\n".to_string(),
            Err(e) => format!("error {e}\n"),
        },
        // User and group names (NSS: files, nscd's socket, systemd's userdb), as the
        // daemon looks them up for its messages about privd.
        "user-names" => {
            use nix::unistd::{Gid, Group, Uid, User};
            let mut out = String::new();
            for id in [rundir::current_uid(), 0, 4_000_000_000] {
                let user = User::from_uid(Uid::from_raw(id)).map(|u| u.map(|u| u.name));
                let group = Group::from_gid(Gid::from_raw(id)).map(|g| g.map(|g| g.name));
                out.push_str(&format!("{id}: {user:?} {group:?}\n"));
            }
            out
        }
        // A panic ends its thread, not the daemon, even while std prints a backtrace.
        "thread-panic" => match std::thread::spawn(|| panic!("probe")).join() {
            Ok(()) => "no panic\n".to_string(),
            Err(_) => "a thread panicked, the daemon survived\n".to_string(),
        },
        "inet-socket" => match std::net::UdpSocket::bind("127.0.0.1:0") {
            Ok(_) => "opened an inet socket\n".to_string(),
            Err(e) => format!("survived: {e}\n"),
        },
        other => {
            eprintln!("lttng-sessiond: unknown probe case {other}");
            return ExitCode::from(2);
        }
    };
    print!("{out}");
    ExitCode::SUCCESS
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), (u8, String)> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| (EXIT_RUNTIME, format!("cannot start a thread: {e}")))
}
