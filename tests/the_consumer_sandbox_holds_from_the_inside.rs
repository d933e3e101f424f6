//! consumer-ust's sandbox, observed from inside a sandboxed consumer (one probe
//! process per case, `lttng-consumerd-ust --sandbox-probe CASE`): a system call outside
//! the allowlist kills it with SIGSYS, a file outside the session output cannot be
//! opened (EACCES), files below it can, and `/proc` shows `NoNewPrivs: 1`,
//! `Seccomp: 2` and every capability set zero. Each case runs on the main thread and
//! on a thread started before the sandbox, as an ordinary user and as root. A session's
//! running consumer shows the same in `/proc` for each of its two threads (the loop
//! and the writer thread).

mod support;

use std::process::{Command, Output};

use support::user::{bin_dir, User};

fn probe(u: Option<&User>, case: &str, output: &std::path::Path) -> Output {
    let bin = bin_dir().join("lttng-consumerd-ust");
    let mut c = match u {
        Some(u) => u.cmd(&bin),
        None => Command::new(&bin),
    };
    c.args(["--sandbox-probe", case, "--output"])
        .arg(output)
        .output()
        .expect("run the probe")
}

/// Every case for one identity (`None`: the tests' own, root under CI).
fn all_cases(u: Option<&User>, output: &std::path::Path) {
    support::sandbox::assert_every_probe_case("consumer-ust", |case| probe(u, case, output));
}

#[test]
fn the_consumer_of_an_ordinary_user_is_sandboxed() {
    let u = User::new("sandbox");
    let out = u.home().join("out");
    let ok = u.cmd("mkdir").arg(&out).status().unwrap().success();
    assert!(ok);
    all_cases(Some(&u), &out);
}

#[test]
fn a_consumer_started_by_root_is_sandboxed_too() {
    let u = User::new("sandbox-root");
    if u.uid.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "this test needs root under CI"
        );
        eprintln!("NOTICE: not root; the root case is skipped");
        return;
    }
    let out = u.home().join("out");
    std::fs::create_dir_all(&out).unwrap();
    all_cases(None, &out);
}

#[test]
fn a_session_reports_its_consumer_sandboxed() {
    let u = User::new("sandbox-status");
    u.lttng_ok(&["create", "s"]);
    u.lttng_ok(&["enable-event", "-u", "-a"]);
    u.lttng_ok(&["start"]);
    let status = u.lttng_ok(&["status"]);
    assert!(!status.contains("NOT sandboxed"), "{status}");
    let daemon = u.daemon_pid().expect("daemon pid");
    let consumers = support::children_named(daemon, "lttng-consumerd");
    assert_eq!(consumers.len(), 1, "one consumer: {consumers:?}");
    let tasks: Vec<std::path::PathBuf> = std::fs::read_dir(format!("/proc/{}/task", consumers[0]))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let names: Vec<String> = tasks
        .iter()
        .map(|t| {
            std::fs::read_to_string(t.join("comm"))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    assert_eq!(tasks.len(), 2, "the loop and the writer thread: {names:?}");
    assert!(names.iter().any(|n| n == "writer"), "{names:?}");
    for t in &tasks {
        let st = std::fs::read_to_string(t.join("status")).unwrap();
        let line = |key: &str| {
            st.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{key} in {}", t.display()))
                .to_string()
        };
        assert_eq!(line("Seccomp:"), "2", "{}", t.display());
        assert_eq!(line("NoNewPrivs:"), "1", "{}", t.display());
        for caps in ["CapEff:", "CapPrm:", "CapBnd:"] {
            assert_eq!(line(caps), "0000000000000000", "{caps} of {}", t.display());
        }
    }
    u.lttng_ok(&["destroy"]);
}
