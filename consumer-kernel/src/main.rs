//! `lttng-consumerd-kernel`: turns the ftrace pages of a kernel session into CTF.
//!
//! The session daemon spawns one per session that records kernel events, as
//! `lttng-consumerd-kernel --control-fd N --output DIR`, and hands it, over the socket
//! pair `N` (`proto::wire::consumer`): the session's `header_page` and the `format`
//! texts of its enabled events (as privd returned them), then one `trace_pipe_raw`
//! descriptor per CPU (privd opened them; this process can open nothing under tracefs
//! itself). It decodes the pages (`proto::ftrace_page`, every byte distrusted), names
//! events as LTTng-modules does (`ctf::kernel`) and appends one CTF stream per CPU to
//! `DIR/kernel/channel0_<cpu>`; the session daemon writes the metadata beside them
//! from the same formats. Lost events become `events_discarded`.
//!
//! Before it reads anything it enters its sandbox (`policy`, role `consumer-kernel`):
//! its own user namespace, no capability, no_new_privs, Landlock (read and write below
//! `DIR` only), seccomp. `--allow-unsandboxed` lets it run where the kernel lacks them.
//!
//! Exit codes: 0 the daemon closed the connection and everything was written; 1 a
//! runtime error; 2 a usage error; 3 the sandbox could not be entered.
#![deny(unsafe_code)]

mod packet;
mod serve;
mod stream;

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str =
    "usage: lttng-consumerd-kernel --control-fd N --output DIR [--allow-unsandboxed]";

fn main() -> ExitCode {
    let mut fd: Option<RawFd> = None;
    let mut output: Option<PathBuf> = None;
    let mut degraded = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--control-fd" => fd = args.next().and_then(|v| v.parse().ok()),
            "--output" => output = args.next().map(PathBuf::from),
            "--allow-unsandboxed" => degraded = true,
            _ => {
                eprintln!("lttng-consumerd-kernel: unknown argument '{a}'\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(fd), Some(output)) = (fd, output) else {
        eprintln!("lttng-consumerd-kernel: --control-fd and --output are required\n{USAGE}");
        return ExitCode::from(2);
    };
    if let Err(e) = policy::own_user_namespace() {
        if !degraded {
            eprintln!("lttng-consumerd-kernel: cannot create a user namespace: {e} (refusing to run unsandboxed)");
            return ExitCode::from(3);
        }
    }
    let control = match proto::wire::inherit::control_socket(fd) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lttng-consumerd-kernel: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) =
        proto::wire::socket::set_timeout(control.as_fd(), Some(std::time::Duration::from_secs(10)))
    {
        eprintln!("lttng-consumerd-kernel: {e}");
        return ExitCode::from(1);
    }
    let sandbox = policy::Sandbox {
        role: policy::Role::ConsumerKernel,
        writable: vec![output],
        readable: Vec::new(),
        keep_fds: vec![control.as_raw_fd()],
        degraded,
    };
    let sandboxed = match policy::enter(&sandbox) {
        Ok(e) => {
            for m in &e.missing {
                eprintln!("lttng-consumerd-kernel: WARNING: running without {m} (degraded mode)");
            }
            e.complete
        }
        Err(e) => {
            eprintln!("lttng-consumerd-kernel: {e}");
            proto::wire::consumer::refuse_hello(control.as_fd(), &e.to_string());
            return ExitCode::from(3);
        }
    };
    match serve::run(control, sandboxed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lttng-consumerd-kernel: {e}");
            ExitCode::from(1)
        }
    }
}
