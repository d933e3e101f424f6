//! The one socket option nix does not offer: `SO_PEERGROUPS`.
//!
//! # Safety
//!
//! The `unsafe` block calls `getsockopt` with a buffer and a length that describe it.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

/// The supplementary groups the peer had when it connected (`SO_PEERGROUPS`).
pub fn peer_groups(sock: BorrowedFd<'_>) -> std::io::Result<Vec<u32>> {
    let mut groups = vec![0u32; 256];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<u32>()) as libc::socklen_t;
        // SAFETY: `groups` is a writable buffer of `len` bytes, which getsockopt may
        // fill; it updates `len` to what it wrote (or what it needs, with ERANGE).
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<u32>();
        if r == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n < 1 << 16 {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}
