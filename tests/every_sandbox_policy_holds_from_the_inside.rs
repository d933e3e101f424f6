//! The policies of consumer-kernel and privd (consumer-ust has its own test through
//! its binary), entered by a probe process (`policy_probe ROLE CASE DIR`, one process
//! per case): a system call outside the allowlist dies of SIGSYS, a file outside the
//! allowed directory is refused with EACCES, files inside work, and `/proc` shows
//! `NoNewPrivs: 1`, `Seccomp: 2` and every capability set zero, on the main thread and
//! on a thread started before the sandbox. consumer-kernel runs as an ordinary user;
//! privd as root (it is the root helper).

mod support;

use std::os::unix::process::ExitStatusExt;
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
    let stdout = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    for thread in ["", "thread-"] {
        let who = format!(
            "{role}, {}",
            if thread.is_empty() {
                "main thread"
            } else {
                "earlier thread"
            }
        );
        let o = probe(u, role, &format!("{thread}status"), dir);
        assert!(o.status.success(), "{who}: {o:?}");
        let text = stdout(&o);
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("{who}: no {name} in {text}"))
        };
        assert_eq!(value("NoNewPrivs"), "1", "{who}");
        assert_eq!(value("Seccomp"), "2", "{who}");
        for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(value(cap), "0000000000000000", "{who}: {cap}");
        }
        let o = probe(u, role, &format!("{thread}open-outside"), dir);
        assert_eq!(stdout(&o), "EACCES\n", "{who}: {o:?}");
        for forbidden in ["syscall", "exec"] {
            let o = probe(u, role, &format!("{thread}{forbidden}"), dir);
            assert_eq!(
                o.status.signal(),
                Some(libc::SIGSYS),
                "{who}: {forbidden}: {o:?}"
            );
        }
    }
    let o = probe(u, role, "write-inside", dir);
    assert_eq!(stdout(&o), "wrote inside\n", "{role}: {o:?}");
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
