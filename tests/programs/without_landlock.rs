//! Test program: `without_landlock CMD [ARG...]` runs CMD as on a kernel built without
//! Landlock: the three Landlock system calls fail with ENOSYS for CMD and everything
//! it starts (a seccomp filter, kept across fork and exec), everything else works.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("usage: without_landlock CMD [ARG...]");
        std::process::exit(2);
    };
    let rules = [
        libc::SYS_landlock_create_ruleset,
        libc::SYS_landlock_add_rule,
        libc::SYS_landlock_restrict_self,
    ]
    .into_iter()
    .map(|n| (n, Vec::new()))
    .collect::<BTreeMap<_, _>>();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        std::env::consts::ARCH
            .try_into()
            .expect("a supported architecture"),
    )
    .expect("the filter");
    let program: BpfProgram = filter.try_into().expect("the filter compiles");
    seccompiler::apply_filter(&program).expect("the filter applies");
    let e = std::process::Command::new(cmd).args(rest).exec();
    eprintln!("without_landlock: cannot run {cmd}: {e}");
    std::process::exit(127);
}
