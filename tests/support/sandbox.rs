//! The cases of `policy::probe`, asserted: run one probe process per case (a
//! forbidden system call kills it) through `probe(case)`, on the main thread and on a
//! thread started before the sandbox.
#![allow(dead_code)]

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every case: `/proc` shows `NoNewPrivs: 1`, `Seccomp: 2` and every capability set
/// zero; `/etc/passwd` is refused with EACCES; a TCP socket and `execve` die of
/// SIGSYS; a file below the allowed directory can be written and read back.
pub fn assert_every_probe_case(what: &str, probe: impl Fn(&str) -> Output) {
    for thread in ["", "thread-"] {
        let who = format!(
            "{what}, {}",
            if thread.is_empty() {
                "main thread"
            } else {
                "earlier thread"
            }
        );
        let o = probe(&format!("{thread}status"));
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

        let o = probe(&format!("{thread}open-outside"));
        assert!(o.status.success(), "{who}: {o:?}");
        assert_eq!(stdout(&o), "EACCES\n", "{who}: /etc/passwd");

        for forbidden in ["syscall", "exec"] {
            let o = probe(&format!("{thread}{forbidden}"));
            assert_eq!(
                o.status.signal(),
                Some(libc::SIGSYS),
                "{who}: {forbidden} must die of SIGSYS: {o:?}"
            );
            assert!(stdout(&o).is_empty(), "{who}: {}", stdout(&o));
        }
    }
    let o = probe("write-inside");
    assert!(o.status.success(), "{what}: {o:?}");
    assert_eq!(stdout(&o), "wrote inside\n", "{what}");
}
