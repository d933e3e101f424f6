//! The same C program (`tests/c/refdoc_*`), built once against LTTng-UST 2.13
//! (Debian's liblttng-ust-dev) and traced by a stock `lttng-sessiond`, and once
//! against our headers and liblttng_ust_rs and traced by our session daemon, gives
//! two traces that babeltrace2 prints alike: the same event lines (timestamps and
//! contexts aside), and the same event classes in `sink.text.details` (field types,
//! log levels, model URIs), class for class. Under `CI=true` the LTTng side must be
//! installed; elsewhere the test says so and stops.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::c;
use support::user::User;

const EVENTS: &str = "refdoc:*,lttng_ust_tracef:*,lttng_ust_tracelog:*";

/// LTTng's own tools, or `None` (outside CI) when they are not installed.
fn lttng_tools() -> Option<(PathBuf, PathBuf)> {
    let (lttng, sessiond) = (
        PathBuf::from("/usr/bin/lttng"),
        PathBuf::from("/usr/bin/lttng-sessiond"),
    );
    let ust = Command::new("pkg-config")
        .args(["--exists", "lttng-ust"])
        .status()
        .is_ok_and(|s| s.success());
    if lttng.exists() && sessiond.exists() && ust {
        return Some((lttng, sessiond));
    }
    let missing = "lttng-tools and liblttng-ust-dev (apt-get install lttng-tools liblttng-ust-dev)";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{missing} are required under CI=true");
    }
    eprintln!("NOTICE: {missing} are not installed; skipping the comparison with LTTng-UST");
    None
}

/// Builds `refdoc_app` in `dir/NAME`: against LTTng-UST's installed headers and
/// library when `ours` is false, against ours when it is true.
fn build(dir: &Path, name: &str, ours: bool) -> PathBuf {
    let sources = c::sources();
    let mut objects = Vec::new();
    for src in ["refdoc_tp", "refdoc_app"] {
        let obj = dir.join(format!("{src}-{name}.o"));
        let mut args = vec![
            "-Wall".to_string(),
            "-Wextra".into(),
            "-Werror".into(),
            "-O2".into(),
        ];
        if ours {
            args.push(format!("-I{}", c::include_dir().display()));
        }
        args.push(format!("-I{}", sources.display()));
        args.extend([
            "-c".into(),
            sources.join(format!("{src}.c")).display().to_string(),
        ]);
        args.extend(["-o".into(), obj.display().to_string()]);
        c::run(
            dir,
            "cc",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        objects.push(obj.display().to_string());
    }
    let exe = dir.join(name);
    let mut args = objects;
    args.extend(["-o".into(), exe.display().to_string()]);
    if ours {
        args.extend(c::lib_flags());
    } else {
        args.extend(["-llttng-ust".into(), "-ldl".into()]);
    }
    c::run(
        dir,
        "cc",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    exe
}

/// The stock LTTng session daemon of one user, killed when dropped.
struct StockSessiond<'a> {
    user: &'a User,
    lttng: PathBuf,
}

impl<'a> StockSessiond<'a> {
    fn start(user: &'a User, lttng: PathBuf, sessiond: &Path) -> Self {
        let out = user
            .cmd(sessiond)
            .args(["--daemonize", "--no-kernel"])
            .output()
            .expect("run lttng-sessiond");
        assert!(
            out.status.success(),
            "lttng-sessiond: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        StockSessiond { user, lttng }
    }

    fn run(&self, args: &[&str]) {
        let out = self
            .user
            .cmd(&self.lttng)
            .args(args)
            .output()
            .expect("run lttng");
        assert!(
            out.status.success(),
            "stock lttng {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for StockSessiond<'_> {
    fn drop(&mut self) {
        let pidfile = self.user.home().join(".lttng/lttng-sessiond.pid");
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

/// The event classes `sink.text.details` prints for `trace`, by name, each as its
/// lines without the class's numeric id (which each tracer assigns its own way).
fn event_classes(trace: &Path) -> BTreeMap<String, Vec<String>> {
    let out = support::babeltrace2(&[
        trace.as_os_str(),
        "-c".as_ref(),
        "sink.text.details".as_ref(),
        "--params".as_ref(),
        "with-time=false,with-trace-name=false,with-stream-name=false,with-uuid=false".as_ref(),
    ])
    .expect("babeltrace2 was checked before");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "babeltrace2 details {}: {}",
        trace.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut classes = BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(rest) = line.strip_prefix("    Event class `") {
            if let Some((name, body)) = current.take() {
                classes.insert(name, body);
            }
            let name = rest.split('`').next().unwrap_or_default().to_string();
            current = Some((name, Vec::new()));
        } else if indent > 4 && !line.trim().is_empty() {
            if let Some((_, body)) = current.as_mut() {
                body.push(line.to_string());
            }
        } else if let Some((name, body)) = current.take() {
            classes.insert(name, body);
        }
    }
    if let Some((name, body)) = current {
        classes.insert(name, body);
    }
    classes.retain(|name, _| name.starts_with("refdoc:") || name.starts_with("lttng_ust_trace"));
    classes
}

#[test]
fn a_c_program_prints_the_same_under_lttng_ust_2_13_and_under_ours() {
    let Some((lttng, sessiond)) = lttng_tools() else {
        return;
    };
    if support::babeltrace2(&["--version".as_ref()]).is_none() {
        return;
    }
    let u = User::new("c-vs-lttng");
    let d = u.home();
    let theirs = build(d, "refdoc_lttng_ust", false);
    let ours = build(d, "refdoc_ours", true);

    // LTTng-UST 2.13 and its own session daemon.
    let their_trace = d.join("their-trace");
    {
        let stock = StockSessiond::start(&u, lttng, &sessiond);
        let output = format!("--output={}", their_trace.display());
        stock.run(&["create", "cmp", &output]);
        stock.run(&["enable-event", "-u", EVENTS]);
        stock.run(&["start"]);
        let out = u
            .cmd(&theirs)
            .arg("1")
            .output()
            .expect("run refdoc with LTTng-UST");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stock.run(&["stop"]);
        stock.run(&["destroy"]);
    }

    // Ours, through our session daemon.
    u.lttng_ok(&["create", "cmp"]);
    u.lttng_ok(&["enable-event", "-u", EVENTS]);
    u.lttng_ok(&["start"]);
    let out = u
        .cmd(&ours)
        .arg("1")
        .output()
        .expect("run refdoc with ours");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    u.lttng_ok(&["stop"]);
    let our_trace = u.session_output("cmp");

    let theirs = c::payloads(&their_trace).expect("babeltrace2");
    assert_eq!(theirs.len(), 17, "LTTng-UST's trace: {theirs:#?}");
    assert_eq!(c::payloads(&our_trace).expect("babeltrace2"), theirs);

    let (their_classes, our_classes) = (event_classes(&their_trace), event_classes(&our_trace));
    assert!(their_classes.len() >= 17, "{their_classes:#?}");
    for (name, body) in &their_classes {
        assert_eq!(our_classes.get(name), Some(body), "event class `{name}`");
    }
    u.lttng_ok(&["destroy"]);
}
