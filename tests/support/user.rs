//! A user of the tracer for daemon-mode tests: a private `LTTNG_HOME` (so each test has
//! its own session daemon), and, when the tests run as root, a numeric uid of no real
//! account that every command runs as: the tracer is exercised as an ordinary user.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::TempDir;

/// One test user with a private home.
pub struct User {
    pub home: TempDir,
    /// The uid commands run as (`None`: the tests' own, when not root).
    pub uid: Option<u32>,
}

/// The directory holding the workspace's binaries (`lttng`, `lttng-sessiond`, ...).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

impl User {
    pub fn new(tag: &str) -> User {
        static N: AtomicU32 = AtomicU32::new(0);
        let home = TempDir::new(tag);
        // SAFETY-free check: geteuid via the metadata of /proc/self.
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        let uid = root.then(|| {
            41_000 + (std::process::id() % 1000) * 16 + N.fetch_add(1, Ordering::Relaxed) % 16
        });
        if let Some(uid) = uid {
            std::os::unix::fs::chown(home.path(), Some(uid), Some(uid)).expect("chown home");
        }
        User { home, uid }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The daemon's run directory.
    pub fn rundir(&self) -> PathBuf {
        self.home().join(".lttng-rs")
    }

    /// A command run as this user, in this user's environment.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("HOME", self.home())
            .env("LTTNG_HOME", self.home())
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("LIBUST_TRACE_DIR")
            .env_remove("LIBUST_EVENTS")
            // Registration normally gets 200 ms; a loaded CI machine may need more, and
            // the tests count every event from the first one.
            .env("LIBUST_REGISTER_TIMEOUT_MS", "10000")
            .current_dir(self.home());
        if let Some(uid) = self.uid {
            c.uid(uid).gid(uid);
        }
        c
    }

    /// `lttng ARGS` as this user.
    pub fn lttng(&self, args: &[&str]) -> Output {
        self.cmd(bin_dir().join("lttng"))
            .args(args)
            .output()
            .expect("run lttng")
    }

    /// `lttng ARGS`, which must succeed; returns its stdout.
    pub fn lttng_ok(&self, args: &[&str]) -> String {
        let out = self.lttng(args);
        assert!(
            out.status.success(),
            "lttng {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the test application (`ust_app`) as this user; returns once it is ready.
    pub fn app(&self) -> App {
        self.app_with(|_| {})
    }

    pub fn app_with(&self, f: impl FnOnce(&mut Command)) -> App {
        self.app_from(Path::new(env!("CARGO_BIN_EXE_ust_app")), f)
    }

    /// Starts `program` (a copy of `ust_app`) as this user.
    pub fn app_from(&self, program: &Path, f: impl FnOnce(&mut Command)) -> App {
        let mut c = self.cmd(program);
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
        f(&mut c);
        let mut child = c.spawn().expect("start ust_app");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read ready");
        assert_eq!(line.trim(), "ready", "ust_app did not start");
        App {
            child,
            stdin,
            stdout,
        }
    }

    /// Starts this user's session daemon with `args` (through `wrapper`, a program
    /// that runs the command it is given, if any); returns its pid.
    pub fn start_daemon(&self, wrapper: Option<&Path>, args: &[&str]) -> i32 {
        let sessiond = bin_dir().join("lttng-sessiond");
        let mut c = match wrapper {
            Some(w) => {
                let mut c = self.cmd(w);
                c.arg(sessiond);
                c
            }
            None => self.cmd(sessiond),
        };
        let out = c.arg("--daemonize").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "sessiond: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.daemon_pid().expect("daemon pid in the lock file")
    }

    /// The session daemon's pid, from its lock file.
    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.rundir().join("sessiond.lock"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The single trace output directory of the session `name` (under
    /// `~/lttng-traces/`).
    pub fn session_output(&self, name: &str) -> PathBuf {
        let traces = self.home().join("lttng-traces");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&traces)
            .unwrap_or_else(|e| panic!("{}: {e}", traces.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{name}-")))
            })
            .collect();
        assert_eq!(found.len(), 1, "one output directory for {name}: {found:?}");
        found.remove(0)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon_pid() {
            let alive = |pid: i32| Path::new(&format!("/proc/{pid}")).exists();
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if alive(pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// A running `ust_app`.
pub struct App {
    pub child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl App {
    /// Sends one command line.
    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to ust_app");
        self.stdin.flush().expect("flush");
    }

    /// Fires `n` pairs of events; returns the last sequence number.
    pub fn emit(&mut self, n: u64) -> u64 {
        self.send(&format!("emit {n}"));
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read ok");
        line.trim()
            .strip_prefix("ok ")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("ust_app answered {line:?}"))
    }

    /// Asks the app to exit and waits for it.
    pub fn quit(mut self) -> ExitStatus {
        self.send("quit");
        self.child.wait().expect("wait ust_app")
    }

    /// The raw stdout (for `spin`).
    pub fn stdout(&mut self) -> &mut BufReader<ChildStdout> {
        &mut self.stdout
    }
}
