//! A setuid program runs with privileges its user does not have: libust must neither
//! follow that user's environment (LIBUST_TRACE_DIR) nor register with that user's
//! session daemon, which could then feed it shared memory and commands (threat T10).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::user::User;
use support::*;

#[test]
fn a_setuid_program_neither_registers_nor_traces_standalone() {
    let u = User::new("setuid");
    let Some(uid) = u.uid else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "this test needs root under CI"
        );
        eprintln!("NOTICE: not root: cannot make a setuid program; skipped");
        return;
    };
    // A root-owned setuid copy of the test app, in a directory the user can reach.
    let dir = TempDir::new("setuid-bin");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("ust_app_setuid");
    std::fs::copy(env!("CARGO_BIN_EXE_ust_app"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).unwrap();

    u.lttng_ok(&["create", "priv"]);
    u.lttng_ok(&["enable-event", "-u", "-a"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app_from(&bin, |_| {});
    // Really privileged: its effective uid is root's.
    let status = std::fs::read_to_string(format!("/proc/{}/status", app.child.id())).unwrap();
    let uids = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    assert!(uids.split_whitespace().nth(2) == Some("0"), "{uids}");
    assert!(uids.contains(&uid.to_string()), "{uids}");
    app.emit(100);
    // Registration would have happened before `ready`; give a retry time to show.
    std::thread::sleep(Duration::from_millis(700));
    let listed = u.lttng_ok(&["list", "-u"]);
    assert!(
        !listed.contains("myapp:request"),
        "the setuid app registered:\n{listed}"
    );
    assert!(app.quit().success());

    let standalone = u.home().join("standalone");
    let mut app = u.app_from(&bin, |c| {
        c.env("LIBUST_TRACE_DIR", &standalone);
    });
    app.emit(100);
    assert!(app.quit().success());
    assert!(
        !standalone.exists(),
        "the setuid app followed LIBUST_TRACE_DIR"
    );

    // The same program without the setuid bit is traced (the test can fail).
    let mut app = u.app();
    app.emit(10);
    let listed = u.lttng_ok(&["list", "-u"]);
    assert!(listed.contains("myapp:request"), "{listed}");
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);
}
