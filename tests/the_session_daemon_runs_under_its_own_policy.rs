//! The session daemon enters its own sandbox (`policy`, role `sessiond`) before it
//! serves anything: the daemon that `lttng create` starts shows `Seccomp: 2` and
//! `NoNewPrivs: 1` on every thread; a whole session still works under it, the consumer
//! included (it inherits the daemon's filter across `execve` and stacks its own on
//! top); a thread that panics (backtrace printed) ends alone; and a system call
//! outside the daemon's allowlist (an AF_INET socket) kills it with SIGSYS
//! (`lttng-sessiond --sandbox-probe CASE`, one process per case).

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use ctf::reader::Value;
use support::user::{bin_dir, User};
use support::*;

/// `Name: value` lines of a status file.
fn status_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn read_status(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every thread of `pid` is under seccomp with no_new_privs and no effective,
/// permitted, inheritable or ambient capability.
fn assert_sandboxed(pid: i32) {
    let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the daemon's threads")
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
        .collect();
    assert!(
        tasks.len() >= 3,
        "the daemon serves with listener threads: {tasks:?}"
    );
    for tid in tasks {
        // A connection's thread may end meanwhile.
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) else {
            continue;
        };
        let who = format!("daemon {pid} thread {tid}");
        assert_eq!(
            status_field(&text, "Seccomp").as_deref(),
            Some("2"),
            "{who}"
        );
        assert_eq!(
            status_field(&text, "NoNewPrivs").as_deref(),
            Some("1"),
            "{who}"
        );
        for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert_eq!(
                status_field(&text, cap).as_deref(),
                Some("0000000000000000"),
                "{who}: {cap}"
            );
        }
    }
}

/// The children of `pid` (its consumers), when the kernel lists them.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let p = t.path().join("children");
            if let Ok(s) = std::fs::read_to_string(p) {
                out.extend(s.split_whitespace().filter_map(|c| c.parse::<i32>().ok()));
            }
        }
    }
    out
}

#[test]
fn the_daemon_started_by_lttng_is_sandboxed_and_a_session_still_works() {
    let u = User::new("sessiond-policy");
    let created = u.lttng_ok(&["create", "demo"]);
    assert!(created.contains("Session demo created."), "{created}");
    let pid = u.daemon_pid().expect("the daemon's pid in its lock file");
    assert_sandboxed(pid);

    u.lttng_ok(&["enable-event", "-u", "myapp:*"]);
    u.lttng_ok(&["add-context", "-u", "-t", "vpid", "-t", "procname"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    let app_pid = app.child.id() as i64;
    assert_eq!(app.emit(1000), 999);

    // The consumer runs under the daemon's filter and its own: two stacked filters.
    let consumers: Vec<i32> = children(pid)
        .into_iter()
        .filter(|c| {
            std::fs::read_to_string(format!("/proc/{c}/comm"))
                .is_ok_and(|n| n.starts_with("lttng-consumerd"))
        })
        .collect();
    for c in &consumers {
        let text = read_status(&format!("/proc/{c}/status"));
        assert_eq!(
            status_field(&text, "Seccomp").as_deref(),
            Some("2"),
            "consumer {c}"
        );
        if let Some(n) = status_field(&text, "Seccomp_filters") {
            assert_eq!(n, "2", "consumer {c}: the daemon's filter and its own");
        }
    }
    if consumers.is_empty() {
        eprintln!("NOTICE: /proc/PID/task/TID/children unavailable; consumer not inspected");
    }

    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);
    // Still the same daemon, still sandboxed, after a whole session.
    assert_eq!(u.daemon_pid(), Some(pid));
    assert_sandboxed(pid);

    let out = u.session_output("demo");
    let read = read_trace(&out);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let mut by_name: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &read.events {
        let seq = field(&e.fields, "seq")
            .and_then(Value::as_u64)
            .expect("seq");
        by_name.entry(e.name.to_string()).or_default().push(seq);
        assert_eq!(
            field(&e.stream_context, "vpid").and_then(Value::as_i64),
            Some(app_pid)
        );
    }
    let expected: Vec<u64> = (0..1000).collect();
    assert_eq!(by_name.len(), 2, "{:?}", by_name.keys());
    assert_eq!(by_name["myapp:request"], expected);
    assert_eq!(by_name["myapp:noisy"], expected);

    let view = u
        .cmd(bin_dir().join("lttng"))
        .arg("view")
        .output()
        .expect("lttng view");
    assert!(
        view.status.success(),
        "{}",
        String::from_utf8_lossy(&view.stderr)
    );
    assert_eq!(view.stdout.iter().filter(|&&b| b == b'\n').count(), 2000);

    let destroyed = u.lttng_ok(&["destroy"]);
    assert!(destroyed.contains("Session demo destroyed"), "{destroyed}");
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon survived the session"
    );
}

fn probe(u: Option<&User>, case: &str) -> Output {
    probe_with(u, case, &[])
}

fn probe_with(u: Option<&User>, case: &str, env: &[(&str, &str)]) -> Output {
    let bin = bin_dir().join("lttng-sessiond");
    let mut c = match u {
        Some(u) => u.cmd(&bin),
        None => Command::new(&bin),
    };
    c.args(["--sandbox-probe", case])
        .envs(env.iter().copied())
        .output()
        .expect("run the probe")
}

/// The probe cases for one identity (`None`: the tests' own, root under CI).
fn all_cases(u: Option<&User>) {
    let o = probe(u, "status");
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        status_field(&text, "Seccomp").as_deref(),
        Some("2"),
        "{text}"
    );
    assert_eq!(
        status_field(&text, "NoNewPrivs").as_deref(),
        Some("1"),
        "{text}"
    );
    for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(
            status_field(&text, cap).as_deref(),
            Some("0000000000000000"),
            "{cap}: {text}"
        );
    }
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if u.is_none() && root {
        // Root can and does empty its bounding set too.
        assert_eq!(
            status_field(&text, "CapBnd").as_deref(),
            Some("0000000000000000"),
            "{text}"
        );
    }

    // Unix sockets are what the daemon is made of: allowed.
    let o = probe(u, "unix-socket");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "unix socket pair\n");

    // User and group names (NSS), which the daemon looks up for its messages.
    let o = probe(u, "user-names");
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0: Ok(Some(\"root\"))"),
        "{o:?}"
    );

    // A panicking thread (a connection's, say) ends that thread only, even when std
    // prints a symbolized backtrace (getcwd, the executable's debug info).
    for bt in ["0", "full"] {
        let o = probe_with(u, "thread-panic", &[("RUST_BACKTRACE", bt)]);
        assert!(o.status.success(), "RUST_BACKTRACE={bt}: {o:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "a thread panicked, the daemon survived\n"
        );
    }

    // Any other socket family is not.
    let o = probe(u, "inet-socket");
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGSYS),
        "an AF_INET socket must kill the daemon with SIGSYS: {o:?}"
    );
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn a_forbidden_system_call_kills_the_daemon_of_an_ordinary_user() {
    let u = User::new("sessiond-probe");
    all_cases(Some(&u));
}

#[test]
fn a_forbidden_system_call_kills_the_daemon_run_by_the_tests_own_user() {
    all_cases(None);
}
