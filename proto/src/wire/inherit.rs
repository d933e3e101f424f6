//! Taking over the control socket a session daemon left open for the consumer it
//! spawned (`--control-fd N`).
//!
//! # Safety
//!
//! One block takes ownership of the descriptor number given on the command line. It runs once, at start-up, before the
//! process opens any descriptor of its own, so no other owner of that number can exist;
//! `fcntl(F_GETFD)` has just shown that the number is open. Nothing else in the process
//! refers to it afterwards.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{getsockopt, sockopt, SockType};

/// Why the inherited control socket cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InheritError {
    #[error("--control-fd {0} is a standard stream; pass the socket on another descriptor")]
    Stdio(RawFd),
    #[error("--control-fd {fd} is not an open descriptor ({source}): leave it open across exec")]
    NotOpen { fd: RawFd, source: nix::Error },
    #[error("--control-fd {fd} is not a socket ({source}): pass one end of a socket pair")]
    NotSocket { fd: RawFd, source: nix::Error },
    #[error(
        "--control-fd {0} is not a SOCK_SEQPACKET socket: pass one end of a seqpacket socket pair"
    )]
    WrongType(RawFd),
}

/// Takes ownership of the control socket `fd` after checking it is an open
/// `SOCK_SEQPACKET` socket, and marks it close-on-exec.
pub fn control_socket(fd: RawFd) -> Result<OwnedFd, InheritError> {
    if (0..=2).contains(&fd) {
        return Err(InheritError::Stdio(fd));
    }
    fcntl(fd, FcntlArg::F_GETFD).map_err(|source| InheritError::NotOpen { fd, source })?;
    // SAFETY: see the module documentation: `fd` is open and owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let ty = getsockopt(&owned, sockopt::SockType)
        .map_err(|source| InheritError::NotSocket { fd, source })?;
    if ty != SockType::SeqPacket {
        return Err(InheritError::WrongType(fd));
    }
    fcntl(owned.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|source| InheritError::NotOpen { fd, source })?;
    Ok(owned)
}
