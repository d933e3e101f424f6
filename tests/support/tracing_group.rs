//! A tracing group for kernel tests: a group with a member and a stranger (real
//! accounts, removed afterwards), a privd serving that group from a private socket
//! directory, and running commands as those users with their groups. Needs root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::user::bin_dir;
use super::TempDir;

pub fn root_or_skip() -> bool {
    let root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root.unwrap_or(false) {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "privd tests need root under CI"
    );
    eprintln!("NOTICE: not root: privd tests skipped");
    false
}

/// `setpriv` arguments that become `user`, with the user's groups.
pub fn become_user(user: &str) -> Vec<String> {
    vec![
        "--reuid".into(),
        id("-u", user).to_string(),
        "--regid".into(),
        id("-g", user).to_string(),
        "--init-groups".into(),
        "--".into(),
    ]
}

/// Runs `cmd` as root, retrying a while (useradd and groupadd fail while another
/// process holds the account databases' locks).
pub fn run(cmd: &str, args: &[&str]) {
    let mut last = String::new();
    for _ in 0..20 {
        let out = Command::new(cmd).args(args).output().expect(cmd);
        if out.status.success() {
            return;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{cmd} {args:?}: {last}");
}

/// `id FLAG USER` as a number (`-u`, `-g`).
pub fn id(flag: &str, user: &str) -> u32 {
    let out = Command::new("id").args([flag, user]).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("id {flag} {user}"))
}

/// A group, a member and a stranger, removed when dropped.
pub struct Accounts {
    pub group: String,
    pub member: String,
    pub stranger: String,
}

impl Accounts {
    pub fn new() -> Accounts {
        static N: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let a = Accounts {
            group: format!("trc{tag}"),
            member: format!("mem{tag}"),
            stranger: format!("str{tag}"),
        };
        run("groupadd", &[&a.group]);
        add_user(&a.member, Some(&a.group));
        add_user(&a.stranger, None);
        a
    }
}

/// Creates the account `name` (no home, no login shell), in `group` besides its own.
pub fn add_user(name: &str, group: Option<&str>) {
    let mut args = vec!["-M", "-N", "-s", "/usr/sbin/nologin"];
    if let Some(g) = group {
        args.extend(["-G", g]);
    }
    args.push(name);
    run("useradd", &args);
}

impl Drop for Accounts {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.member).output();
        let _ = Command::new("userdel").arg(&self.stranger).output();
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}

/// Where tracefs is (privd mounts it if needed).
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// A privd serving `group` from a private socket directory, stopped when dropped
/// (with the instances it could not remove). `pid` is privd's own pid, from
/// `SO_PEERCRED` on its socket (the program started may be a wrapper around it); its
/// log is printed when a test fails.
pub struct Privd {
    pub child: Child,
    pub socket: PathBuf,
    pub pid: i32,
    log: PathBuf,
    _dir: TempDir,
}

impl Privd {
    /// A privd allowing `sched:*` and `raw_syscalls:*`, at most `max_instances` per user,
    /// without path probes (they are global to the machine: only one privd at a time
    /// may define them, see [`Privd::start_with_path_probes`]).
    pub fn start(group: &str, max_instances: u32) -> Privd {
        Privd::start_with(
            group,
            &format!("max_instances_per_user = {max_instances}\n"),
        )
    }

    /// A privd with the path probes on the C library (`openat` entries carry their
    /// file name). Only one test at a time may use it.
    pub fn start_with_path_probes(group: &str, max_instances: u32) -> Privd {
        Privd::start_with(
            group,
            &format!(
                "max_instances_per_user = {max_instances}\npath_probes = /usr/lib/x86_64-linux-gnu/libc.so.6\nevents = sched:*, raw_syscalls:*, task:task_newtask, lttng_rs_user:*\n"
            ),
        )
    }

    /// The same, with configuration lines of the caller's.
    pub fn start_with(group: &str, config: &str) -> Privd {
        let dir = TempDir::new("privd");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let conf = dir.path().join("privd.conf");
        std::fs::write(
            &conf,
            format!(
                "group = {group}\nsocket_dir = {}\nevents = sched:*, raw_syscalls:*, task:task_newtask\npath_probes = off\n{config}",
                dir.path().join("run").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("privd.log");
        let child = Command::new(bin_dir().join("lttng-privd"))
            .arg("--config")
            .arg(&conf)
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start lttng-privd");
        let socket = dir.path().join("run/privd.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Ok(s) = proto::wire::socket::connect(&socket) {
                break proto::wire::socket::peer_cred(std::os::fd::AsFd::as_fd(&s))
                    .unwrap()
                    .pid;
            }
            assert!(
                Instant::now() < deadline,
                "privd did not come up: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Privd {
            child,
            socket,
            pid,
            log,
            _dir: dir,
        }
    }

    /// What privd wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// This privd's tracefs instances (`lttng-rs-u<uid>-<pid>-<n>`).
    pub fn instances(&self) -> Vec<String> {
        let tag = format!("-{}-", self.pid);
        std::fs::read_dir(Path::new(TRACEFS).join("instances"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("lttng-rs-u") && n.contains(&tag))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Privd {
    fn drop(&mut self) {
        for pid in [self.pid, self.child.id() as i32] {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.child.wait();
        // What privd could not remove (a failed test's): not left for the next ones.
        for name in self.instances() {
            let dir = Path::new(TRACEFS).join("instances").join(name);
            let _ = std::fs::write(dir.join("tracing_on"), "0");
            let _ = std::fs::remove_dir(&dir);
        }
        if std::thread::panicking() {
            eprintln!("---- privd's log ----\n{}", self.log());
        }
    }
}

/// `lttng ARGS` as `user` (with the user's groups), through the user's own session
/// daemon in a private home, which asks `privd_socket`.
pub fn lttng_as(user: &str, privd_socket: &Path, args: &[&str]) -> std::process::Output {
    let home = TempDir::new("privd-home");
    let uid = id("-u", user);
    std::os::unix::fs::chown(home.path(), Some(uid), None).unwrap();
    let out = Command::new("setpriv")
        .args(become_user(user))
        .arg("env")
        .arg(format!("HOME={}", home.path().display()))
        .arg(format!("LTTNG_HOME={}", home.path().display()))
        .arg(format!("LTTNG_PRIVD_SOCKET={}", privd_socket.display()))
        .arg(bin_dir().join("lttng"))
        .args(args)
        .output()
        .unwrap();
    if let Ok(pid) = std::fs::read_to_string(home.path().join(".lttng-rs/sessiond.lock")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    out
}
