//! The group gate of `lttng-privd`, the root helper: a user outside the tracing group
//! is refused (by the socket's permissions, and by privd itself when handed an
//! already open socket), a member gets read-only `trace_pipe_raw` descriptors whose
//! ftrace pages hold the event it enabled, a member removed from the group is refused
//! at the next request on the same connection, the per-user instance limit holds, and
//! a connection's instances disappear with it. Needs root (users, groups, tracefs):
//! under CI=true it fails rather than skips without them.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use support::tracing_group::*;

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
    assert_eq!(
        p.ask("hello"),
        format!("ok Hello {{ version: {} }}", proto::wire::VERSION)
    );
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
    let prefix = format!("lttng-rs-u{}-", id("-u", &acc.member));
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
