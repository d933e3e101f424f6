//! The policies of consumer-kernel and privd (consumer-ust has its own test through
//! its binary), entered by a probe process (`policy_probe ROLE CASE DIR`, one process
//! per case): a system call outside the allowlist dies of SIGSYS, a file outside the
//! allowed directory is refused with EACCES, files inside work, and `/proc` shows
//! `NoNewPrivs: 1`, `Seccomp: 2` and every capability set zero, on the main thread and
//! on a thread started before the sandbox. consumer-kernel runs as an ordinary user;
//! privd as root (it is the root helper).

mod support;

use std::process::{Command, Output};

use support::user::User;

fn probe(u: Option<&User>, role: &str, case: &str, dir: &std::path::Path) -> Output {
    let bin = env!("CARGO_BIN_EXE_policy_probe");
    let mut c = match u {
        Some(u) => u.cmd(bin),
        None => Command::new(bin),
    };
    c.args([role, case])
        .arg(dir)
        .output()
        .expect("run the probe")
}

fn all_cases(u: Option<&User>, role: &str, dir: &std::path::Path) {
    support::sandbox::assert_every_probe_case(role, |case| probe(u, role, case, dir));
}

#[test]
fn the_consumer_kernel_policy_holds_for_an_ordinary_user() {
    let u = User::new("kpolicy");
    let dir = u.home().join("out");
    assert!(u.cmd("mkdir").arg(&dir).status().unwrap().success());
    all_cases(Some(&u), "consumer-kernel", &dir);
}

#[test]
fn the_privd_policy_holds_for_root() {
    let u = User::new("ppolicy");
    if u.uid.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "this test needs root under CI"
        );
        eprintln!("NOTICE: not root: the privd policy is probed as root only; skipped");
        return;
    }
    let dir = u.home().join("tracefs-standin");
    std::fs::create_dir_all(&dir).unwrap();
    all_cases(None, "privd", &dir);
}
