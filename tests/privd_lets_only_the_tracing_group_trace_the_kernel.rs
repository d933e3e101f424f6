//! The group gate of `lttng-privd`, the root helper: a user outside the tracing group
//! is refused (by the socket's permissions, and by privd itself when handed an
//! already open socket), a member gets read-only `trace_pipe_raw` descriptors whose
//! ftrace pages hold the event it enabled, a member removed from the group is refused
//! at the next request on the same connection, the per-user instance limit holds, and
//! a connection's instances disappear with it. Needs root (users, groups, tracefs):
//! under CI=true it fails rather than skips without them.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use support::user::bin_dir;
use support::TempDir;

fn root_or_skip() -> bool {
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
fn become_user(user: &str) -> Vec<String> {
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

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A group, a member and a stranger, removed when dropped.
struct Accounts {
    group: String,
    member: String,
    stranger: String,
}

impl Accounts {
    fn new() -> Accounts {
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
struct Privd {
    child: Child,
    socket: PathBuf,
    _dir: TempDir,
}

impl Privd {
    fn start(group: &str, max_instances: u32) -> Privd {
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

/// An interactive probe running as `user` (with the user's groups).
struct Probe {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Probe {
    fn as_user(user: &str, socket: &Path) -> Probe {
        let mut child = Command::new("setpriv")
            .args(become_user(user))
            .arg(env!("CARGO_BIN_EXE_privd_probe"))
            .arg(socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the probe");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Probe {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the probe died on {cmd:?}");
        line.trim_end().to_string()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn instances(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/sys/kernel/tracing/instances")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_member_traces_the_kernel_and_loses_access_when_removed_from_the_group() {
    if !root_or_skip() {
        return;
    }
    let acc = Accounts::new();
    let privd = Privd::start(&acc.group, 2);
    let mut p = Probe::as_user(&acc.member, &privd.socket);
    assert_eq!(p.ask("hello"), "ok Hello { version: 1 }");
    // The root helper itself runs sandboxed, with no capability, on every thread.
    for task in std::fs::read_dir(format!("/proc/{}/task", privd.child.id())).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        for (key, want) in [
            ("NoNewPrivs:", "1"),
            ("Seccomp:", "2"),
            ("CapEff:", "0000000000000000"),
            ("CapBnd:", "0000000000000000"),
            ("CapPrm:", "0000000000000000"),
        ] {
            let got = status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim);
            assert_eq!(got, Some(want), "privd {key}");
        }
    }
    let list = p.ask("list");
    assert!(
        list.contains("sched:sched_switch") && !list.contains("irq:"),
        "{list}"
    );
    assert!(p.ask("create").starts_with("ok Session"), "create");
    assert_eq!(p.ask("enable sched:sched_switch"), "ok Done");
    assert!(
        p.ask("enable irq:irq_handler_entry")
            .starts_with("denied: event"),
        "not allowlisted"
    );
    assert_eq!(p.ask("start"), "ok Done");
    // Context switches happen on their own; make sure of some.
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(p.ask("stop"), "ok Done");
    // The format texts come with the streams: header_page (4 fields) and header_event.
    assert_eq!(p.ask("header-page"), "ok 4");
    assert_eq!(p.ask("header-event"), "ok # compressed entry header");
    let counted = p.ask("count sched:sched_switch");
    let found: usize = counted
        .strip_prefix("ok found ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{counted}"));
    assert!(found > 0 && found != usize::MAX, "{counted}");

    // The per-user limit (2): one more is fine, a third is refused.
    assert!(p.ask("create").starts_with("ok Session"));
    let third = p.ask("create");
    assert!(
        third.starts_with("denied: you have 2 kernel sessions"),
        "{third}"
    );

    // Revoked while connected: the very next request is refused.
    run("gpasswd", &["-d", &acc.member, &acc.group]);
    let after = p.ask("list");
    assert_eq!(
        after,
        format!(
            "denied: kernel tracing needs membership in group '{0}' (ask an administrator: usermod -aG {0} {1})",
            acc.group, acc.member
        )
    );
    // Its instances go when its connection goes.
    let uid = String::from_utf8(
        Command::new("id")
            .args(["-u", &acc.member])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let prefix = format!("lttng-rs-u{}-", uid.trim());
    assert_eq!(instances(&prefix).len(), 2, "two live instances");
    drop(p);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !instances(&prefix).is_empty() {
        assert!(
            Instant::now() < deadline,
            "instances left behind: {:?}",
            instances(&prefix)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stranger_is_refused_even_with_an_open_socket_in_hand() {
    if !root_or_skip() {
        return;
    }
    let acc = Accounts::new();
    let privd = Privd::start(&acc.group, 2);
    // The socket's directory is root:<group> 0750: a stranger cannot even connect.
    let mut p = Command::new("setpriv")
        .args(become_user(&acc.stranger))
        .arg(env!("CARGO_BIN_EXE_privd_probe"))
        .arg(&privd.socket)
        .arg("hello")
        .output()
        .unwrap();
    assert!(!p.status.success());
    assert!(
        String::from_utf8_lossy(&p.stderr).contains("Permission denied"),
        "{p:?}"
    );
    // Handed a socket root connected: privd judges each message by its sender.
    let sock = proto::wire::socket::connect(&privd.socket).unwrap();
    p = Command::new("setpriv")
        .args(become_user(&acc.stranger))
        .arg(env!("CARGO_BIN_EXE_privd_probe"))
        .args(["--fd", "0", "hello", "create"])
        .stdin(Stdio::from(sock))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&p.stdout);
    let expected = format!(
        "denied: kernel tracing needs membership in group '{0}' (ask an administrator: usermod -aG {0} {1})",
        acc.group, acc.stranger
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [expected.as_str(), expected.as_str()],
        "{p:?}"
    );
}

/// `lttng ARGS` as `user` (with the user's groups), through the user's own session
/// daemon in a private home, which asks `privd_socket`.
fn lttng_as(user: &str, privd_socket: &Path, args: &[&str]) -> std::process::Output {
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

#[test]
fn lttng_list_k_shows_members_what_privd_allows_and_tells_others_how_to_join() {
    if !root_or_skip() {
        return;
    }
    let acc = Accounts::new();
    let privd = Privd::start(&acc.group, 2);
    let member = lttng_as(&acc.member, &privd.socket, &["list", "-k"]);
    let text = String::from_utf8_lossy(&member.stdout);
    assert!(member.status.success(), "{member:?}");
    assert!(
        text.contains("sched_switch") && text.contains("[sched]"),
        "{text}"
    );
    assert!(
        !text.contains("[irq]"),
        "irq is not on this privd's allowlist: {text}"
    );
    let stranger = lttng_as(&acc.stranger, &privd.socket, &["list", "-k"]);
    assert_eq!(stranger.status.code(), Some(1), "{stranger:?}");
    let err = String::from_utf8_lossy(&stranger.stderr);
    assert!(
        err.contains(&format!(
            "kernel tracing needs membership in group '{0}' (ask an administrator: usermod -aG {0} {1})",
            acc.group, acc.stranger
        )),
        "{err}"
    );
}
