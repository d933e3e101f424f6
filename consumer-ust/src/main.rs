//! `lttng-consumerd-ust`: drains userspace ring buffers into CTF stream files.
//!
//! The per-user session daemon spawns this process as
//! `lttng-consumerd-ust --control-fd N`, where descriptor `N` is its end of a
//! `SOCK_SEQPACKET` socket pair. Over it the daemon sends
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
//! The process is a single thread (see [`serve`]) so that a seccomp policy for it
//! stays simple.
//!
//! # Exit codes
//!
//! - `0`: the session daemon closed the connection and everything was written out;
//! - `1` ([`EXIT_RUNTIME`]): a runtime error (the control socket failed);
//! - `2` ([`EXIT_USAGE`]): a usage or protocol error (bad arguments, a control
//!   descriptor that is not a seqpacket socket, a protocol version other than ours,
//!   a request before hello).
#![deny(unsafe_code)]

mod inherit;
mod serve;
mod sink;
mod stream;

use std::os::fd::RawFd;
use std::process::ExitCode;

use anyhow::{bail, Context};

/// Exit code of a runtime error.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit code of a usage or protocol error.
pub(crate) const EXIT_USAGE: u8 = 2;

const USAGE: &str = "usage: lttng-consumerd-ust --control-fd N";

/// Parses `--control-fd N` (or `--control-fd=N`).
fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<RawFd> {
    let mut fd = None;
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--control-fd") {
            Some("") => args
                .next()
                .context("--control-fd needs a descriptor number")?,
            Some(v) if v.starts_with('=') => v[1..].to_string(),
            _ => bail!("unknown argument '{arg}'"),
        };
        let n = value
            .parse::<RawFd>()
            .with_context(|| format!("--control-fd must be a descriptor number, not '{value}'"))?;
        fd = Some(n);
    }
    fd.context("--control-fd is required")
}

/// The scheduler time slice the consumer asks for (EEVDF, Linux 6.12+).
const SLICE_NS: u64 = 100_000;

fn main() -> ExitCode {
    let fd = match parse_args(std::env::args().skip(1)) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("lttng-consumerd-ust: {e:#}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // First, before this process opens any descriptor: take over the inherited one.
    let control = match inherit::control_socket(fd) {
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
    match serve::run(control) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lttng-consumerd-ust: {e}");
            ExitCode::from(e.exit_code())
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
    fn the_control_fd_is_the_only_argument() {
        assert_eq!(parse_args(args(&["--control-fd", "7"])).unwrap(), 7);
        assert_eq!(parse_args(args(&["--control-fd=9"])).unwrap(), 9);
        for bad in [
            &[][..],
            &["--control-fd"],
            &["--control-fd", "x"],
            &["--verbose"],
            &["--control-fdx"],
        ] {
            assert!(parse_args(args(bad)).is_err(), "{bad:?}");
        }
    }
}
