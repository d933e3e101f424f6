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
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, user]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    vec![
        "--reuid".into(),
        id("-u"),
        "--regid".into(),
        id("-g"),
        "--init-groups".into(),
        "--".into(),
    ]
}

pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        run(
            "useradd",
            &[
                "-M",
                "-N",
                "-s",
                "/usr/sbin/nologin",
                "-G",
                &a.group,
                &a.member,
            ],
        );
        run(
            "useradd",
            &["-M", "-N", "-s", "/usr/sbin/nologin", &a.stranger],
        );
        a
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.member).output();
        let _ = Command::new("userdel").arg(&self.stranger).output();
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}

/// A privd serving `group`, stopped when dropped.
pub struct Privd {
    pub child: Child,
    pub socket: PathBuf,
    _dir: TempDir,
}

impl Privd {
    pub fn start(group: &str, max_instances: u32) -> Privd {
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
                "group = {group}\nsocket_dir = {}\nmax_instances_per_user = {max_instances}\nevents = sched:*, raw_syscalls:*\n",
                dir.path().join("run").display()
            ),
        )
        .unwrap();
        let child = Command::new(bin_dir().join("lttng-privd"))
            .arg("--config")
            .arg(&conf)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lttng-privd");
        let socket = dir.path().join("run/privd.sock");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "privd did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
        Privd {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for Privd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// `lttng ARGS` as `user` (with the user's groups), through the user's own session
/// daemon in a private home, which asks `privd_socket`.
pub fn lttng_as(user: &str, privd_socket: &Path, args: &[&str]) -> std::process::Output {
    let home = TempDir::new("privd-home");
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    let uid: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
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
