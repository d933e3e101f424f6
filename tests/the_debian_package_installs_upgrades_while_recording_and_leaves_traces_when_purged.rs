//! The Debian package (`scripts/build-deb.sh`), built from what the workspace
//! compiled and installed with `dpkg -i` on this machine: the binaries, headers,
//! library, configuration and units land where they belong; LTTng's own files, where
//! its packages are installed, move aside by diversion; the tracing group is a system
//! group. A member of it records a kernel and userspace session with the installed
//! binaries only (privd started from /usr/bin with /etc/lttng-rs/privd.conf, as its
//! unit starts it), and `systemd-analyze verify` accepts the units. While that session
//! records, the package is upgraded (`dpkg -i` again, which dpkg runs as an upgrade):
//! the maintainer scripts leave privd running (a `systemctl` of the test's records
//! what they ask), the session daemon and privd go on, and the trace holds every event
//! of before and after. Then `dpkg --purge` stops privd, takes everything away, gives
//! LTTng's files their names back, and leaves the member's trace as it was. Needs root: under
//! CI=true it fails rather than skips without it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use support::tracing_group::{add_user, become_user, root_or_skip};
use support::user::bin_dir;
use support::{read_trace, TempDir};

const PACKAGE: &str = "lttng-rs";

/// What the maintainer scripts ask of systemd, recorded by a `systemctl` of ours
/// first in their `PATH`; `/run/systemd/system` (how they tell systemd runs) made for
/// the time of the fake when the machine has no systemd.
struct FakeSystemd {
    bin: PathBuf,
    log: PathBuf,
    made_run_dir: bool,
}

impl FakeSystemd {
    fn new(dir: &Path) -> FakeSystemd {
        let bin = dir.join("fakebin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.join("systemctl.log");
        let script = bin.join("systemctl");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let run_dir = Path::new("/run/systemd/system");
        let made_run_dir = !run_dir.exists();
        std::fs::create_dir_all(run_dir).unwrap();
        FakeSystemd {
            bin,
            log,
            made_run_dir,
        }
    }

    /// `dpkg ARGS` with the fake first in `PATH`; returns what it asked since the last call.
    fn dpkg(&self, args: &[&str]) -> Vec<String> {
        let _ = std::fs::remove_file(&self.log);
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        ok(
            Command::new("dpkg")
                .args(args)
                .env("PATH", path)
                .output()
                .unwrap(),
            "dpkg",
        );
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for FakeSystemd {
    fn drop(&mut self) {
        if self.made_run_dir {
            let _ = std::fs::remove_dir("/run/systemd/system");
            let _ = std::fs::remove_dir("/run/systemd");
        }
    }
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The owner of `path` in dpkg's database, if any (`dpkg -S`).
fn owner(path: &str) -> Option<String> {
    let out = Command::new("dpkg").args(["-S", path]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Purges the package when dropped, whatever happened: the machine gets LTTng's
/// files back before the next test runs.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    }
}

/// A member of the `tracing` group, removed when dropped.
struct Member(String);

impl Drop for Member {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).output();
    }
}

/// A process stopped (SIGTERM, then SIGKILL) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `program args` as `user`, with the user's groups, `HOME` and `LTTNG_HOME` in `home`.
fn as_user(user: &str, home: &Path, program: &str, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(become_user(user))
        .arg("env")
        .arg(format!("HOME={}", home.display()))
        .arg(format!("LTTNG_HOME={}", home.display()))
        .arg("LIBUST_REGISTER_TIMEOUT_MS=10000")
        .arg(program)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_package_installs_traces_upgrades_while_recording_and_leaves_the_traces_when_purged() {
    if !root_or_skip() {
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let profile = bin_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let work = TempDir::new("deb");
    let built = Command::new(repo.join("scripts/build-deb.sh"))
        .args(["--profile", &profile, "--no-build", "--out"])
        .arg(work.path())
        .current_dir(&repo)
        .output()
        .unwrap();
    let deb = ok(built, "build-deb.sh").trim().to_string();
    assert!(deb.ends_with("_amd64.deb"), "{deb}");

    // LTTng's own command, if its package is here: it must come back as it was.
    let lttng_tools = owner("/usr/bin/lttng").filter(|o| o.starts_with("lttng-tools"));
    let theirs = lttng_tools
        .as_ref()
        .map(|_| std::fs::read("/usr/bin/lttng").unwrap());

    let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    ok(
        Command::new("dpkg").args(["-i", &deb]).output().unwrap(),
        "dpkg -i",
    );
    let _installed = Installed;
    let files = ok(
        Command::new("dpkg").args(["-L", PACKAGE]).output().unwrap(),
        "dpkg -L",
    );
    for f in [
        "/usr/bin/lttng",
        "/usr/bin/lttng-sessiond",
        "/usr/bin/lttng-consumerd-ust",
        "/usr/bin/lttng-consumerd-kernel",
        "/usr/bin/lttng-privd",
        "/usr/include/lttng/tracepoint.h",
        "/usr/lib/x86_64-linux-gnu/liblttng_ust_rs.so",
        "/usr/lib/x86_64-linux-gnu/pkgconfig/lttng-ust.pc",
        "/etc/lttng-rs/privd.conf",
        "/lib/systemd/system/lttng-privd.service",
        "/usr/lib/systemd/user/lttng-sessiond.service",
    ] {
        assert!(files.lines().any(|l| l == f), "{f} not in the package");
        assert!(Path::new(f).exists(), "{f} not installed");
    }
    let conffiles = ok(
        Command::new("dpkg-query")
            .args(["-W", "-f=${Conffiles}", PACKAGE])
            .output()
            .unwrap(),
        "dpkg-query",
    );
    assert!(
        conffiles.contains("/etc/lttng-rs/privd.conf"),
        "{conffiles}"
    );
    if lttng_tools.is_some() {
        assert_eq!(
            std::fs::read("/usr/bin/lttng.lttng-distrib").ok(),
            theirs,
            "LTTng's lttng diverted aside"
        );
    }
    // The units as systemd reads them (the binaries they name are in place now).
    ok(
        Command::new("systemd-analyze")
            .args([
                "verify",
                "/lib/systemd/system/lttng-privd.service",
                "/usr/lib/systemd/user/lttng-sessiond.service",
            ])
            .output()
            .expect("systemd-analyze (Debian's systemd package)"),
        "systemd-analyze verify",
    );
    // The tracing group, a system group.
    let group = ok(
        Command::new("getent")
            .args(["group", "tracing"])
            .output()
            .unwrap(),
        "getent group tracing",
    );
    let gid: u32 = group.split(':').nth(2).unwrap().parse().unwrap();
    assert!(gid < 1000, "tracing is a system group: {group}");

    // privd from the installed path and configuration, as its unit starts it.
    let privd = Running(
        Command::new("/usr/bin/lttng-privd")
            .args(["--config", "/etc/lttng-rs/privd.conf"])
            .spawn()
            .unwrap(),
    );
    let socket = Path::new("/run/lttng-rs/privd.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "privd made no socket");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A member's session, kernel and userspace, with the installed lttng.
    let name = format!("debm{}", std::process::id() % 100_000);
    add_user(&name, Some("tracing"));
    let member = Member(name);
    let home = TempDir::new("deb-home");
    let uid = support::tracing_group::id("-u", &member.0);
    std::os::unix::fs::chown(home.path(), Some(uid), None).unwrap();
    let trace = home.path().join("trace");
    let trace_arg = trace.to_string_lossy().into_owned();
    let lttng = |args: &[&str]| {
        ok(
            as_user(&member.0, home.path(), "/usr/bin/lttng", args),
            "lttng",
        )
    };
    lttng(&["create", "pkg", "-o", &trace_arg]);
    lttng(&["enable-event", "-k", "sched_switch"]);
    lttng(&["enable-event", "-u", "myapp:*"]);
    lttng(&["start"]);
    let daemon: i32 = std::fs::read_to_string(home.path().join(".lttng-rs/sessiond.lock"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{daemon}/exe")).unwrap(),
        Path::new("/usr/bin/lttng-sessiond"),
        "the installed session daemon serves the member"
    );
    let emit = || {
        ok(
            as_user(
                &member.0,
                home.path(),
                env!("CARGO_BIN_EXE_ust_app"),
                &["emit", "3"],
            ),
            "ust_app",
        )
    };
    emit();

    // The upgrade, while the session records: nothing is stopped nor restarted.
    let systemd = FakeSystemd::new(work.path());
    let asked = systemd.dpkg(&["-i", &deb]);
    assert!(
        !asked
            .iter()
            .any(|a| a.contains("stop") || a.contains("restart")),
        "the upgrade stopped privd: {asked:?}"
    );
    assert!(
        asked.iter().any(|a| a == "start lttng-privd.service"),
        "privd is started if it was not running: {asked:?}"
    );
    let mut privd = privd;
    assert!(privd.0.try_wait().unwrap().is_none(), "privd ended");
    assert!(
        Path::new(&format!("/proc/{daemon}")).exists(),
        "sessiond ended"
    );
    emit();
    lttng(&["stop"]);
    lttng(&["destroy"]);
    let _ = Command::new("kill").arg(daemon.to_string()).status();
    drop(privd);
    let before = read_trace(&trace);
    assert!(before.errors.is_empty(), "{:?}", before.errors);
    let count = |r: &support::Read, prefix: &str| {
        r.events
            .iter()
            .filter(|e| e.name.starts_with(prefix))
            .count()
    };
    assert_eq!(
        count(&before, "myapp:"),
        12,
        "the app's events, before and after the upgrade"
    );
    assert!(count(&before, "sched_switch") > 0, "kernel events");

    // Purged: nothing of ours left, LTTng's files back, the trace untouched.
    let asked = systemd.dpkg(&["--purge", PACKAGE]);
    assert!(
        asked.iter().any(|a| a == "stop lttng-privd.service"),
        "removal stops privd: {asked:?}"
    );
    drop(systemd);
    for f in ["/usr/bin/lttng-privd", "/etc/lttng-rs/privd.conf"] {
        assert!(!Path::new(f).exists(), "{f} left after purge");
    }
    let diversions = ok(
        Command::new("dpkg-divert")
            .args(["--list", PACKAGE])
            .output()
            .unwrap(),
        "dpkg-divert --list",
    );
    assert!(diversions.trim().is_empty(), "{diversions}");
    if lttng_tools.is_some() {
        assert_eq!(
            std::fs::read("/usr/bin/lttng").ok(),
            theirs,
            "LTTng's lttng is back"
        );
    }
    let after = read_trace(&trace);
    assert!(after.errors.is_empty(), "{:?}", after.errors);
    assert_eq!(count(&after, "myapp:"), 12);
    assert_eq!(
        count(&after, "sched_switch"),
        count(&before, "sched_switch")
    );
}
