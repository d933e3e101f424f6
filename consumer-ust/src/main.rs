//! `lttng-consumerd-ust`: drains userspace ring buffers into CTF stream files.
//!
//! The per-user session daemon spawns one per session as
//! `lttng-consumerd-ust --control-fd N --output DIR`, where descriptor `N` is its end
//! of a `SOCK_SEQPACKET` socket pair and `DIR` the session's output directory. Before
//! it reads anything, the consumer enters its sandbox (`policy`, role
//! `consumer-ust`): its own user namespace, no capability at all, no_new_privs,
//! Landlock (read and write below `DIR` only), and a seccomp allowlist. Without
//! Landlock or seccomp it refuses to run, unless `--allow-unsandboxed` (the
//! operator's explicit choice) is given; its hello then says it is not sandboxed. Over it the daemon sends
//! [`proto::wire::consumer::ConsumerRequest`]s and the consumer answers each with one
//! `ConsumerReply`:
//!
//! - `Hello` first (the protocol version must match; the clock source is adopted, so
//!   packets the consumer closes carry the writers' timestamps);
//! - `AddStream` with the buffer's sealed memfd and its wakeup eventfd: the stream's
//!   complete packets are appended to `<output>/<trace_dir>/<file>` from then on,
//!   starting where a previous consumer of the buffer stopped (streams of snapshot
//!   sessions are only read by `Snapshot`);
//! - `Flush`, `RemoveTrace`, `RemoveSession`: close the open packets and write out
//!   everything recorded (waiting up to 200 ms for writers still committing), and
//!   for the removals forget the streams; `Done` means every byte reached the files;
//! - `Snapshot`: write what the buffers hold under another directory, without
//!   consuming it;
//! - `Stats`: per-stream counters.
//!
//! Nothing in a buffer is trusted: a packet that fails its check is skipped and
//! counted (`lost_packets`), and the other streams go on. A full disk loses the
//! packets that could not be written (also counted) and nothing else. When the daemon
//! closes the socket or dies, every stream is flushed and written out, then the
//! process exits.
//!
//! Two threads: the loop ([`serve`]) and the writer thread ([`writer`]), which
//! writes the packets the loop takes out of the rings by exchange; the writer is
//! started before the sandbox, which confines both, so the seccomp policy creates no
//! thread.
//!
//! # Exit codes
//!
//! - `0`: the session daemon closed the connection and everything was written out;
//! - `1` ([`EXIT_RUNTIME`]): a runtime error (the control socket failed);
//! - `2` ([`EXIT_USAGE`]): a usage or protocol error (bad arguments, a control
//!   descriptor that is not a seqpacket socket, a protocol version other than ours,
//!   a request before hello);
//! - `3` ([`EXIT_SANDBOX`]): the sandbox could not be entered.
#![deny(unsafe_code)]

mod serve;
mod sink;
mod stream;
mod writer;

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

/// Exit code of a runtime error.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit code of a usage or protocol error.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when the sandbox cannot be entered (and degraded mode was not allowed).
pub(crate) const EXIT_SANDBOX: u8 = 3;

const USAGE: &str = "usage: lttng-consumerd-ust --control-fd N --output DIR [--allow-unsandboxed]";

/// The command line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    control_fd: Option<RawFd>,
    /// The session output: the only directory the consumer may touch.
    output: Option<PathBuf>,
    /// The operator's explicit choice to run without Landlock or seccomp.
    allow_unsandboxed: bool,
    /// Tests: enter the sandbox, then try `CASE` and report (no control socket).
    probe: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut a = Args::default();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |what: &str| -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().with_context(|| format!("{name} needs {what}")),
            }
        };
        match name.as_str() {
            "--control-fd" => {
                let v = value("a descriptor number")?;
                a.control_fd = Some(v.parse().with_context(|| {
                    format!("--control-fd must be a descriptor number, not '{v}'")
                })?);
            }
            "--output" => a.output = Some(PathBuf::from(value("a directory")?)),
            "--allow-unsandboxed" => a.allow_unsandboxed = true,
            "--sandbox-probe" => a.probe = Some(value("a case")?),
            _ => bail!("unknown argument '{arg}'"),
        }
    }
    if a.probe.is_none() && a.control_fd.is_none() {
        bail!("--control-fd is required");
    }
    if a.output.is_none() {
        bail!("--output is required (the only directory the sandbox lets the consumer write)");
    }
    Ok(a)
}

/// The scheduler time slice the consumer asks for (EEVDF, Linux 6.12+).
const SLICE_NS: u64 = 100_000;

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lttng-consumerd-ust: {e:#}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // First, while the process has one thread: a user namespace of its own, where it
    // can drop even its capability bounding set.
    if let Err(e) = policy::own_user_namespace() {
        if !args.allow_unsandboxed {
            eprintln!(
                "lttng-consumerd-ust: cannot create a user namespace to drop every capability: {e} \
                 (refusing to run unsandboxed)"
            );
            return ExitCode::from(EXIT_SANDBOX);
        }
    }
    if let Some(case) = &args.probe {
        return match policy::probe::run(case, sandbox_of(&args, &[])) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lttng-consumerd-ust: {e}");
                ExitCode::from(EXIT_SANDBOX)
            }
        };
    }
    // Take over the inherited control socket before anything else opens a descriptor.
    let Some(fd) = args.control_fd else {
        return ExitCode::from(EXIT_USAGE);
    };
    let control = match proto::wire::inherit::control_socket(fd) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lttng-consumerd-ust: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Wake up soon after a writer signals a full sub-buffer, even when the traced
    // threads keep every CPU busy (measured in libust's standalone mode: without it,
    // two busy writers starve the consumer and fill their rings).
    proto::sched::request_short_slice(SLICE_NS);
    if let Err(e) = serve::prepare(&control) {
        eprintln!("lttng-consumerd-ust: {e}");
        return ExitCode::from(e.exit_code());
    }
    // The writer thread, started now so that the sandbox confines it with us (the
    // seccomp policy has no thread creation); it waits for work until then.
    let writer = match writer::Writer::start() {
        Ok(w) => Some(w),
        Err(e) => {
            eprintln!(
                "lttng-consumerd-ust: cannot start the writer thread: {e}; streams are written by the main loop"
            );
            None
        }
    };
    let mut keep = vec![control.as_raw_fd()];
    keep.extend(writer.iter().flat_map(writer::Writer::raw_fds));
    // The sandbox, before the first byte of buffer data is touched.
    let sandboxed = match enter_sandbox(&args, &keep) {
        Ok(complete) => complete,
        Err(why) => {
            proto::wire::consumer::refuse_hello(control.as_fd(), &why);
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    match serve::run(control, sandboxed, writer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lttng-consumerd-ust: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The consumer's sandbox: read and write below the session output, nothing else.
fn sandbox_of(args: &Args, keep: &[RawFd]) -> policy::Sandbox {
    policy::Sandbox {
        role: policy::Role::ConsumerUst,
        writable: args.output.iter().cloned().collect(),
        readable: Vec::new(),
        keep_fds: keep.to_vec(),
        degraded: args.allow_unsandboxed,
    }
}

/// Enters the consumer's sandbox; returns whether all of it is in force, or why it
/// cannot be entered.
fn enter_sandbox(args: &Args, keep: &[RawFd]) -> Result<bool, String> {
    match policy::enter(&sandbox_of(args, keep)) {
        Ok(e) => {
            for m in &e.missing {
                eprintln!("lttng-consumerd-ust: WARNING: running without {m} (degraded mode)");
            }
            Ok(e.complete)
        }
        Err(e) => {
            eprintln!("lttng-consumerd-ust: {e}");
            Err(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn args(a: &[&str]) -> impl Iterator<Item = String> {
        a.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_control_fd_and_the_output_are_required() {
        let a = parse_args(args(&["--control-fd", "7", "--output", "/t"])).unwrap();
        assert_eq!(a.control_fd, Some(7));
        assert_eq!(a.output.as_deref(), Some(std::path::Path::new("/t")));
        assert!(!a.allow_unsandboxed);
        let a = parse_args(args(&[
            "--control-fd=9",
            "--output=/t",
            "--allow-unsandboxed",
        ]))
        .unwrap();
        assert_eq!(a.control_fd, Some(9));
        assert!(a.allow_unsandboxed);
        for bad in [
            &[][..],
            &["--control-fd", "7"],
            &["--control-fd"],
            &["--control-fd", "x", "--output", "/t"],
            &["--verbose"],
            &["--control-fdx", "--output", "/t"],
        ] {
            assert!(parse_args(args(bad)).is_err(), "{bad:?}");
        }
    }
}
