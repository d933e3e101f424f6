//! The session daemon against hostile clients of its two sockets (DESIGN §2 and §5,
//! security research T6, T7, T8, T11, T12): a peer of another uid, malformed and
//! oversized messages, unexpected descriptors, names that would escape a directory or
//! inject TSDL, a stale socket, a second daemon, an unsafe run directory, and
//! applications that lie about their tracepoints or never finish registering.
//!
//! Each case asserts what the hostile peer saw (`wire_probe` prints it), that the
//! daemon still serves an ordinary `lttng list` afterwards, and, for the message
//! cases, that the daemon's open descriptors return to their count before the attack.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::user::{bin_dir, User};
use support::{fd_count, run_bounded, stable_fd_count};

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn sessiond() -> PathBuf {
    bin_dir().join("lttng-sessiond")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Starts the user's daemon; returns its pid.
fn start_daemon(u: &User) -> i32 {
    let out = run_bounded(
        u.cmd(sessiond()).arg("--daemonize"),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "sessiond: {}", text(&out.stderr));
    u.daemon_pid().expect("daemon pid in the lock file")
}

/// Runs `wire_probe SCENARIO` as the user; returns its output lines (it must succeed).
fn probe(u: &User, scenario: &str) -> Vec<String> {
    probe_with(u.cmd(env!("CARGO_BIN_EXE_wire_probe")), scenario)
}

fn probe_with(mut c: Command, scenario: &str) -> Vec<String> {
    let out = run_bounded(c.arg(scenario), Duration::from_secs(30));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert!(
        out.status.success(),
        "wire_probe {scenario} failed ({}):\n{}\nstderr: {}",
        out.status,
        lines.join("\n"),
        text(&out.stderr)
    );
    lines
}

/// The lines after `sent: ...` lines, that is what the daemon did.
fn observed(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("sent: "))
        .collect()
}

/// Waits (briefly) for the daemon's descriptors to come back to `baseline`.
fn assert_fds_back(pid: i32, baseline: usize, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = fd_count(pid);
        if n == baseline {
            return;
        }
        if Instant::now() > deadline {
            let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| {
                            format!(
                                "{} -> {}",
                                e.file_name().to_string_lossy(),
                                std::fs::read_link(e.path())
                                    .map(|p| p.display().to_string())
                                    .unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            panic!("after {after}: the daemon holds {n} descriptors, {baseline} before:\n{fds:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The daemon still serves an ordinary client, and is the same process.
fn assert_serves(u: &User, pid: i32, after: &str) {
    let out = u.lttng(&["list"]);
    assert!(
        out.status.success(),
        "after {after}, lttng list failed: {}",
        text(&out.stderr)
    );
    assert_eq!(
        u.daemon_pid(),
        Some(pid),
        "after {after}: the daemon changed"
    );
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "after {after}: the daemon died"
    );
}

/// Asserts that the probe saw its greeting answered, then exactly `expect` (an error
/// reply containing each fragment), then the connection closed.
fn assert_error_then_closed(lines: &[String], scenario: &str, fragments: &[&str]) {
    let seen = observed(lines);
    assert!(
        seen.first().is_some_and(|l| l.starts_with("reply: Hello")),
        "{scenario}: {seen:#?}"
    );
    let err = seen.get(1).copied().unwrap_or_default();
    assert!(
        err.starts_with("reply: Error(\"bad request: "),
        "{scenario}: error reply expected: {seen:#?}"
    );
    for f in fragments {
        assert!(err.contains(f), "{scenario}: {err:?} lacks {f:?}");
    }
    // DESIGN §5: a peer that sends garbage gets an error reply and is disconnected.
    assert_eq!(
        &seen[2..],
        ["closed", "ok"],
        "{scenario}: disconnected after the error"
    );
}

// ---- (a) another uid ----------------------------------------------------------------

#[test]
fn a_peer_of_another_uid_is_refused_on_both_sockets() {
    if !is_root() {
        assert!(
            !under_ci(),
            "this test needs root (to be a peer of another uid than the daemon's) under CI=true"
        );
        eprintln!("NOTICE: not root: skipping the other-uid test");
        return;
    }
    let u = User::new("hostile-uid");
    let uid = u.uid.expect("a test uid when root");
    let pid = start_daemon(&u);
    let baseline = stable_fd_count(pid);
    // The test process itself (uid 0) is the other user; root passes the 0700 run
    // directory, so only SO_PEERCRED stands in the way.
    let as_root = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wire_probe"));
        c.env("LTTNG_HOME", u.home()).env_remove("XDG_RUNTIME_DIR");
        c
    };
    let lines = probe_with(as_root(), "other-uid-client");
    let seen = observed(&lines);
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert!(
        seen[0].starts_with("reply: Error(")
            && seen[0].contains(&format!("belongs to uid {uid}"))
            && seen[0].contains("(uid 0)"),
        "{seen:#?}"
    );
    assert_eq!(&seen[1..], ["closed", "ok"]);

    let lines = probe_with(as_root(), "other-uid-app");
    let seen = observed(&lines);
    assert_eq!(
        seen,
        [
            &*format!(
                "daemon: Refused(\"application of uid 0 refused: this daemon serves uid {uid} only\")"
            ),
            "closed",
            "ok"
        ]
    );
    assert_serves(&u, pid, "peers of another uid");
    assert_fds_back(pid, baseline, "peers of another uid");
    // The app was never registered.
    let listed = u.lttng_ok(&["list", "-u"]);
    assert!(!listed.contains("wire_probe"), "{listed}");
}

// ---- (b) malformed messages -----------------------------------------------------------

#[test]
fn malformed_control_messages_get_an_error_reply_and_a_hang_up() {
    let u = User::new("hostile-bytes");
    let pid = start_daemon(&u);
    u.lttng_ok(&["list"]);
    let baseline = stable_fd_count(pid);
    let cases: [(&str, &[&str]); 7] = [
        ("random-bytes", &["malformed message"]),
        ("oversized", &["larger than 65536 bytes"]),
        ("huge-string-length", &["malformed message"]),
        ("huge-vec-length", &["malformed message"]),
        ("varint-overflow", &["malformed message"]),
        ("unknown-variant", &["malformed message"]),
        ("trailing-bytes", &["1 bytes after its end"]),
    ];
    for (scenario, fragments) in cases {
        let lines = probe(&u, scenario);
        if scenario == "trailing-bytes" {
            // No hello came first: the malformed hello is the first reply.
            let seen = observed(&lines);
            assert!(
                seen[0].starts_with("reply: Error(\"bad request: ")
                    && seen[0].contains(fragments[0]),
                "{seen:#?}"
            );
            assert_eq!(&seen[1..], ["closed", "ok"], "{scenario}");
        } else {
            assert_error_then_closed(&lines, scenario, fragments);
        }
        assert_serves(&u, pid, scenario);
        assert_fds_back(pid, baseline, scenario);
    }

    // A request before the hello is well-formed: refused, and the connection goes on.
    let lines = probe(&u, "before-hello");
    let seen = observed(&lines);
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert_eq!(
        seen[0],
        "reply: Error(\"say hello first (protocol error)\")"
    );
    assert!(seen[1].starts_with("reply: Hello"), "{seen:#?}");
    assert_eq!(&seen[2..], ["reply: Sessions([])", "ok"]);
    assert_serves(&u, pid, "before-hello");
    assert_fds_back(pid, baseline, "before-hello");
}

#[test]
fn descriptors_nobody_asked_for_are_refused_and_closed() {
    let u = User::new("hostile-fds");
    let pid = start_daemon(&u);
    u.lttng_ok(&["list"]);
    let baseline = stable_fd_count(pid);

    let lines = probe(&u, "three-fds");
    assert_error_then_closed(
        &lines,
        "three-fds",
        &["expects 0 file descriptors, 3 came with it"],
    );
    assert_serves(&u, pid, "three-fds");
    assert_fds_back(pid, baseline, "three-fds");

    // 253 (SCM_MAX_FD, the most the kernel passes with one message) descriptors: all
    // arrive, all are closed. (With a control buffer for fewer, the kernel would
    // install those that fit and report MSG_CTRUNC, and nix would not hand them over:
    // they stayed open in the daemon until the buffer was sized for 253.)
    let lines = probe(&u, "many-fds");
    assert_error_then_closed(
        &lines,
        "many-fds",
        &["expects 0 file descriptors, 253 came with it"],
    );
    assert_serves(&u, pid, "many-fds");
    assert_fds_back(pid, baseline, "many-fds");

    // One descriptor of each kind on a message that carries none.
    let lines = probe(&u, "wrong-fd-types");
    let kinds = [
        "socket",
        "pipe",
        "directory",
        "memfd",
        "eventfd",
        "listening-socket",
    ];
    let mut seen = observed(&lines).into_iter();
    for kind in kinds {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("sent: Hello with a {kind} descriptor"))),
            "{lines:#?}"
        );
        assert!(
            seen.next().is_some_and(|l| l.starts_with("reply: Hello")),
            "{kind}: {lines:#?}"
        );
        let err = seen.next().unwrap_or_default();
        assert!(
            err.starts_with("reply: Error(\"bad request: ")
                && err.contains("expects 0 file descriptors, 1 came with it"),
            "{kind}: {lines:#?}"
        );
        assert_eq!(seen.next(), Some("closed"), "{kind}: {lines:#?}");
    }
    assert_eq!(seen.next(), Some("ok"));
    assert_serves(&u, pid, "wrong-fd-types");
    assert_fds_back(pid, baseline, "wrong-fd-types");
}

// ---- (c) names ----------------------------------------------------------------------

#[test]
fn names_that_escape_a_directory_or_inject_tsdl_are_refused() {
    let u = User::new("hostile-names");
    for name in ["../x", "a/b", "x\"; }", ".."] {
        let out = u.lttng(&["create", name]);
        let err = text(&out.stderr);
        assert!(
            !out.status.success(),
            "lttng create {name:?} succeeded: {}",
            text(&out.stdout)
        );
        assert!(
            err.contains("may only use letters, digits, '_', '-' and '.'"),
            "lttng create {name:?}: unclear message: {err}"
        );
    }
    let pid = u.daemon_pid().expect("lttng create started the daemon");
    let list = u.lttng_ok(&["list"]);
    assert!(
        list.contains("Currently no available tracing session"),
        "{list}"
    );

    u.lttng_ok(&["create", "good"]);
    // (The command trims blanks around patterns: "\t*" is "*" there.)
    for pattern in ["a\nb", "x\u{1b}[31m", "a\u{7}b"] {
        let out = u.lttng(&["enable-event", "-u", pattern]);
        assert!(!out.status.success(), "enable-event {pattern:?} succeeded");
        assert!(
            text(&out.stderr).contains("printable characters"),
            "enable-event {pattern:?}: {}",
            text(&out.stderr)
        );
    }

    // The same through the protocol, with NUL and newlines the command line cannot
    // carry: every request is refused, and the connection goes on.
    u.lttng_ok(&["destroy", "good"]);
    let lines = probe(&u, "bad-names");
    let seen = observed(&lines);
    assert!(seen[0].starts_with("reply: Hello"), "{seen:#?}");
    for (i, name) in ["../x", "a/b", "a\\0b", "x\\\"; }", "..", "x\\ny"]
        .iter()
        .enumerate()
    {
        let r = seen[1 + i];
        assert!(
            r.starts_with("reply: Error(\"session name")
                && r.contains(name)
                && r.contains("may only use letters"),
            "{name}: {r}"
        );
    }
    assert!(seen[7].starts_with("reply: Created"), "{seen:#?}");
    for r in &seen[8..14] {
        assert_eq!(
            *r,
            "reply: Error(\"event name pattern must be 1 to 256 printable characters\")"
        );
    }
    assert!(seen[14].starts_with("reply: Sessions(["), "{seen:#?}");
    assert_eq!(seen[15], "ok");
    let list = u.lttng_ok(&["list"]);
    assert!(list.contains("good"), "{list}");
    let detail = u.lttng_ok(&["list", "good"]);
    assert!(
        !detail.contains("a\nb") && !detail.contains('\u{1b}'),
        "{detail}"
    );

    // Nothing was created outside the user's trace directory.
    let home: Vec<String> = std::fs::read_dir(u.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        home.iter()
            .all(|n| [".lttng-rs", ".lttngrc", "lttng-traces"].contains(&n.as_str())),
        "{home:?}"
    );
    assert_serves(&u, pid, "bad names");
}

// ---- (d) a stale socket ---------------------------------------------------------------

fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        // A zombie (nobody reaps a detached daemon in some containers).
        Ok(s) => s
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
    }
}

#[test]
fn a_killed_daemon_leaves_stale_sockets_that_the_next_one_replaces() {
    let u = User::new("hostile-stale");
    u.lttng_ok(&["create", "before"]);
    let old = u.daemon_pid().expect("daemon pid");
    let status = Command::new("kill")
        .args(["-KILL", &old.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dead(old) {
        assert!(Instant::now() < deadline, "the daemon survived SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    }
    for s in ["client.sock", "app.sock"] {
        assert!(
            u.rundir().join(s).exists(),
            "{s} should stay behind a killed daemon"
        );
    }
    // Nobody answers the stale socket.
    let out = u.lttng(&["list"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no session daemon is running"),
        "{}",
        text(&out.stderr)
    );

    let created = u.lttng_ok(&["create", "after"]);
    assert!(created.contains("Session after created."), "{created}");
    let new = u.daemon_pid().expect("new daemon pid");
    assert_ne!(new, old);
    assert!(!dead(new));
    let list = u.lttng_ok(&["list"]);
    assert!(list.contains("after") && !list.contains("before"), "{list}");
    let lines = probe(&u, "hello");
    let seen = observed(&lines);
    assert!(
        seen[1].starts_with("reply: Sessions([SessionSummary { name: \"after\""),
        "{seen:#?}"
    );
}

// ---- (e) a second daemon, an unsafe run directory -------------------------------------

#[test]
fn a_second_daemon_for_the_same_user_exits_with_code_3() {
    let u = User::new("hostile-second");
    let pid = start_daemon(&u);
    for args in [&[][..], &["--daemonize"][..]] {
        let out = run_bounded(u.cmd(sessiond()).args(args), Duration::from_secs(20));
        assert_eq!(
            out.status.code(),
            Some(3),
            "lttng-sessiond {args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("a session daemon already runs for this user"),
            "{}",
            text(&out.stderr)
        );
        assert_serves(&u, pid, "a second daemon");
    }
}

#[test]
fn a_run_directory_open_to_others_makes_the_daemon_exit_with_code_4() {
    use std::os::unix::fs::PermissionsExt;
    let u = User::new("hostile-rundir");
    let dir = u.rundir();
    std::fs::create_dir(&dir).unwrap();
    if let Some(uid) = u.uid {
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for args in [&[][..], &["--daemonize"][..]] {
        let out = run_bounded(u.cmd(sessiond()).args(args), Duration::from_secs(20));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "lttng-sessiond {args:?}: {err}");
        assert!(
            err.contains("is accessible to other users (mode 777)") && err.contains("chmod 700"),
            "{err}"
        );
    }
    let out = u.lttng(&["create", "x"]);
    assert!(
        !out.status.success(),
        "lttng create in an open run directory"
    );
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing may be created in the refused run directory"
    );

    // A symlink in its place is refused too.
    std::fs::remove_dir(&dir).unwrap();
    let elsewhere = u.home().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    let out = run_bounded(&mut u.cmd(sessiond()), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is not a directory"));
}

// ---- (f) hostile applications ----------------------------------------------------------

#[test]
fn an_app_announcing_a_billion_tracepoints_is_refused() {
    let u = User::new("hostile-count");
    let pid = start_daemon(&u);
    u.lttng_ok(&["list"]);
    let baseline = stable_fd_count(pid);
    let lines = probe(&u, "app-huge-count");
    assert_eq!(
        observed(&lines),
        [
            "daemon: Refused(\"application announces 1000000000 tracepoints (at most 65536)\")",
            "closed",
            "ok"
        ]
    );
    assert_serves(&u, pid, "a billion tracepoints");
    assert_fds_back(pid, baseline, "a billion tracepoints");
    let listed = u.lttng_ok(&["list", "-u"]);
    assert!(!listed.contains("wire_probe"), "{listed}");
}

#[test]
fn an_app_that_never_finishes_registering_is_timed_out_without_blocking_others() {
    let u = User::new("hostile-stall");
    let pid = start_daemon(&u);
    u.lttng_ok(&["list"]);
    let baseline = stable_fd_count(pid);
    let spawn = |scenario: &str| {
        u.cmd(env!("CARGO_BIN_EXE_wire_probe"))
            .arg(scenario)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn wire_probe")
    };
    let stalled = [spawn("app-stall"), spawn("app-silent")];
    // While both hang in their registration, the daemon answers at once.
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    u.lttng_ok(&["list"]);
    u.lttng_ok(&["create", "meanwhile"]);
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "the daemon waited for a stalled registration ({:?})",
        t0.elapsed()
    );
    for child in stalled {
        let out = child.wait_with_output().unwrap();
        let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        assert!(out.status.success(), "{lines:#?}");
        let seen = observed(&lines);
        assert_eq!(
            seen[..2],
            [
                "daemon: Refused(\"the peer did not answer in time\")",
                "closed"
            ],
            "{lines:#?}"
        );
        let ms: u64 = seen[2]
            .strip_prefix("after_ms: ")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{lines:#?}"));
        assert!((1500..8000).contains(&ms), "timed out after {ms} ms");
    }
    assert_serves(&u, pid, "stalled registrations");
    assert_fds_back(pid, baseline, "stalled registrations");
}

fn files_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_named(&p, name, out);
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
}

#[test]
fn tracepoint_names_that_inject_tsdl_never_reach_the_metadata() {
    let u = User::new("hostile-tsdl");
    u.lttng_ok(&["create", "inject"]);
    u.lttng_ok(&["enable-event", "-u", "*"]);
    u.lttng_ok(&["start"]);
    let pid = u.daemon_pid().expect("daemon pid");

    let (probe, lines) = hostile_app(&u, "app-inject", |lines| {
        lines.last().is_some_and(|l| l == "daemon: Ready")
    });
    assert!(
        lines.contains(&"daemon: Accepted".to_string()),
        "{lines:#?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("daemon: Ready"));
    // Only the valid tracepoint (index 0) is ever bound.
    let sets: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("daemon: SetEvents"))
        .collect();
    assert!(
        sets.iter()
            .any(|l| l.starts_with("daemon: SetEvents tracepoints [0]")),
        "{lines:#?}"
    );
    assert!(
        sets.iter()
            .all(|l| l.starts_with("daemon: SetEvents tracepoints [0]")
                || l.starts_with("daemon: SetEvents tracepoints []")),
        "{lines:#?}"
    );
    stop_and_check(
        &u,
        probe,
        "probe:ok",
        &["event {", "name = ", "probe:field", "\"; }"],
        &[
            "x; } event {",
            "} event { name",
            "name = \"y\"",
            "probe:field",
        ],
    );
    assert_serves(&u, pid, "TSDL injection");
}

#[test]
fn late_tracepoints_with_bad_indexes_or_injecting_names_are_never_bound() {
    let u = User::new("hostile-more");
    u.lttng_ok(&["create", "more"]);
    u.lttng_ok(&["enable-event", "-u", "*"]);
    u.lttng_ok(&["start"]);
    let pid = u.daemon_pid().expect("daemon pid");
    let baseline = stable_fd_count(pid);

    let lines = probe(&u, "more-unregistered");
    assert!(
        lines[0].starts_with("more: unregistered: Refused(")
            && lines[0].contains("no registered application has pid"),
        "{lines:#?}"
    );
    assert_fds_back(pid, baseline, "late tracepoints of no application");

    // Up to the last batch's answer and until probe:late (index 3) is bound.
    let bound = |l: &String| bound_tracepoints(l).is_some_and(|t| t.contains(&3));
    let (probe, lines) = hostile_app(&u, "app-more", |lines| {
        lines.iter().any(|l| l == "more: done") && lines.iter().any(bound)
    });
    let answer = |batch: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("more: {batch}: ")))
            .unwrap_or_else(|| panic!("no answer to {batch}: {lines:#?}"))
            .to_string()
    };
    let wrong = answer("wrong-index");
    assert!(
        wrong.contains("they start at index 7, the application has 1 tracepoints"),
        "{lines:#?}"
    );
    assert_eq!(answer("injecting"), "Ready", "{lines:#?}");
    let order = answer("out-of-order");
    assert!(
        order.contains("a message starts at index 9, 5 expected"),
        "{lines:#?}"
    );
    // Only probe:ok and probe:late are ever bound: never the refused indexes 1 and 2,
    // nor anything of the batches refused whole.
    assert!(lines.iter().any(bound), "{lines:#?}");
    for tps in lines.iter().filter_map(|l| bound_tracepoints(l)) {
        assert!(tps.iter().all(|&t| t == 0 || t == 3), "{lines:#?}");
    }
    stop_and_check(
        &u,
        probe,
        "probe:late",
        &["event {", "name = ", "probe:field", "seven", "four", "nine"],
        &[
            "} event { name",
            "name = \"y\"",
            "probe:field",
            "seven",
            "nine",
        ],
    );
    assert_serves(&u, pid, "hostile late tracepoints");
}

/// Starts `wire_probe SCENARIO` as a hostile application and reads its lines until
/// `enough` says so (or it says `unexpected`, or ends); it goes on running until its
/// stdin (returned) is dropped.
fn hostile_app(
    u: &User,
    scenario: &str,
    enough: impl Fn(&[String]) -> bool,
) -> (Probe, Vec<String>) {
    let mut child = u
        .cmd(env!("CARGO_BIN_EXE_wire_probe"))
        .arg(scenario)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wire_probe");
    let stdin = child.stdin.take();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines: Vec<String> = Vec::new();
    loop {
        let mut l = String::new();
        if stdout.read_line(&mut l).unwrap() == 0 {
            break;
        }
        lines.push(l.trim_end().to_string());
        if l.starts_with("unexpected") || enough(&lines) {
            break;
        }
    }
    (
        Probe {
            child,
            stdin,
            stdout,
        },
        lines,
    )
}

/// A running hostile application: it leaves when `stdin` closes.
struct Probe {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

/// While the hostile app still runs, `lttng list -u` shows `good` and none of
/// `bad_listed`; then stops the session and the app, and checks that the metadata
/// declares `good` and holds none of `bad_tsdl`.
fn stop_and_check(u: &User, mut probe: Probe, good: &str, bad_listed: &[&str], bad_tsdl: &[&str]) {
    let listed = u.lttng_ok(&["list", "-u"]);
    assert!(listed.contains(good), "{listed}");
    for bad in bad_listed {
        assert!(!listed.contains(bad), "{listed}");
    }
    u.lttng_ok(&["stop"]);
    drop(probe.stdin.take());
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut probe.stdout, &mut rest);
    let status = probe.child.wait().unwrap();
    assert!(status.success(), "{rest}");

    let mut metadata = Vec::new();
    files_named(&u.home().join("lttng-traces"), "metadata", &mut metadata);
    assert!(!metadata.is_empty(), "no metadata written");
    let mut declared = false;
    for m in &metadata {
        let tsdl = std::fs::read_to_string(m).unwrap();
        declared |= tsdl.contains(&format!("name = \"{good}\";"));
        for bad in bad_tsdl {
            assert!(
                !tsdl.contains(bad),
                "{} holds {bad:?}:\n{tsdl}",
                m.display()
            );
        }
    }
    assert!(declared, "{good} is declared in {metadata:?}");
}

/// The tracepoint indexes of a `daemon: SetEvents tracepoints [..] ...` line.
fn bound_tracepoints(line: &str) -> Option<Vec<u32>> {
    let list = line.strip_prefix("daemon: SetEvents tracepoints [")?;
    let list = list.split(']').next()?;
    Some(list.split(", ").filter_map(|t| t.parse().ok()).collect())
}
