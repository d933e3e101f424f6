//! Unix `SOCK_SEQPACKET` sockets that carry one postcard message per packet, with file
//! descriptors attached through `SCM_RIGHTS`.
//!
//! Every receive is checked: a packet longer than [`MAX_MESSAGE`] (`MSG_TRUNC`), a
//! control message cut short (`MSG_CTRUNC`), bytes left after the message, or a number
//! of descriptors other than the message expects are errors. Descriptors that arrive
//! with a refused message are closed (they are owned from the moment they arrive).
//!
//! # Safety
//!
//! This is the fd-passing module: its `unsafe` blocks take ownership of descriptors
//! the kernel has just installed in this process (from `accept4` and `SCM_RIGHTS`),
//! which nothing else refers to yet.
#![allow(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    self, sockopt, AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use nix::sys::time::TimeVal;

use super::{Message, WireError};

/// Largest message, in bytes, on every socket of the tracer.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most descriptors one message may carry.
pub const MAX_FDS: usize = 4;
/// Most descriptors the kernel delivers with one message (`SCM_MAX_FD`). The receive
/// buffer holds that many, so that every descriptor a peer attaches arrives as an
/// [`OwnedFd`] and is closed when refused: with a smaller buffer the kernel still
/// installs the descriptors that fit, but reports `MSG_CTRUNC`, and nix then refuses
/// to walk the control data, which would leave them open in this process.
const SCM_MAX_FD: usize = 253;

/// A message received, with the descriptors that came with it.
#[derive(Debug)]
pub struct Received<M> {
    pub msg: M,
    pub fds: Vec<OwnedFd>,
}

/// The credentials of the process at the other end, as the kernel saw them when it
/// connected (`SO_PEERCRED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

fn path_addr(path: &Path) -> Result<UnixAddr, WireError> {
    // sun_path holds 107 bytes and a NUL.
    if path.as_os_str().as_bytes().len() > 107 {
        return Err(WireError::PathTooLong(path.to_path_buf()));
    }
    UnixAddr::new(path).map_err(|e| WireError::Io(e.into()))
}

fn seqpacket() -> Result<OwnedFd, WireError> {
    socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| WireError::Io(e.into()))
}

/// Binds and listens on `path` (which must not exist).
pub fn listen(path: &Path) -> Result<OwnedFd, WireError> {
    let addr = path_addr(path)?;
    let fd = seqpacket()?;
    socket::bind(fd.as_raw_fd(), &addr).map_err(|e| WireError::Io(e.into()))?;
    socket::listen(&fd, Backlog::new(64).unwrap_or(Backlog::MAXCONN))
        .map_err(|e| WireError::Io(e.into()))?;
    Ok(fd)
}

/// Connects to the listening socket at `path`.
pub fn connect(path: &Path) -> Result<OwnedFd, WireError> {
    let addr = path_addr(path)?;
    let fd = seqpacket()?;
    socket::connect(fd.as_raw_fd(), &addr).map_err(|e| WireError::Io(e.into()))?;
    Ok(fd)
}

/// A connected pair (for a parent and the child it spawns).
pub fn pair() -> Result<(OwnedFd, OwnedFd), WireError> {
    socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| WireError::Io(e.into()))
}

/// Accepts one connection (blocking).
pub fn accept(listener: BorrowedFd<'_>) -> Result<OwnedFd, WireError> {
    loop {
        match socket::accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(Errno::EINTR) | Err(Errno::ECONNABORTED) => continue,
            Err(e) => return Err(WireError::Io(e.into())),
        }
    }
}

/// The peer's credentials.
pub fn peer_cred(sock: BorrowedFd<'_>) -> Result<PeerCred, WireError> {
    let c =
        socket::getsockopt(&sock, sockopt::PeerCredentials).map_err(|e| WireError::Io(e.into()))?;
    Ok(PeerCred {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// Bounds how long a receive (and a send) may block; `None` blocks forever.
pub fn set_timeout(sock: BorrowedFd<'_>, t: Option<Duration>) -> Result<(), WireError> {
    set_recv_timeout(sock, t)?;
    set_send_timeout(sock, t)
}

/// Bounds how long a receive may block; `None` blocks forever.
pub fn set_recv_timeout(sock: BorrowedFd<'_>, t: Option<Duration>) -> Result<(), WireError> {
    socket::setsockopt(&sock, sockopt::ReceiveTimeout, &timeval(t))
        .map_err(|e| WireError::Io(e.into()))
}

/// Bounds how long a send may block (on a peer that does not read); `None` blocks
/// forever.
pub fn set_send_timeout(sock: BorrowedFd<'_>, t: Option<Duration>) -> Result<(), WireError> {
    socket::setsockopt(&sock, sockopt::SendTimeout, &timeval(t))
        .map_err(|e| WireError::Io(e.into()))
}

fn timeval(t: Option<Duration>) -> TimeVal {
    match t {
        Some(d) => TimeVal::new(
            d.as_secs() as i64,
            // Never 0 µs with 0 s: that would mean "no timeout".
            (d.subsec_micros().max(u32::from(d.as_secs() == 0))) as i64,
        ),
        None => TimeVal::new(0, 0),
    }
}

/// Sends `msg` with `fds` attached. The number of descriptors must be what the message
/// announces ([`Message::fd_count`]).
pub fn send<M: Message>(
    sock: BorrowedFd<'_>,
    msg: &M,
    fds: &[BorrowedFd<'_>],
) -> Result<(), WireError> {
    if fds.len() != msg.fd_count() {
        return Err(WireError::FdCount {
            expected: msg.fd_count(),
            got: fds.len(),
        });
    }
    let bytes = postcard::to_allocvec(msg).map_err(WireError::Encode)?;
    send_bytes(sock, &bytes, fds)
}

/// Sends raw bytes as one packet (tests use it to send malformed messages).
pub fn send_bytes(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<(), WireError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(WireError::TooLarge);
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &cmsg };
    let iov = [IoSlice::new(bytes)];
    loop {
        match socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Err(WireError::Timeout),
            Err(Errno::EPIPE) | Err(Errno::ECONNRESET) => return Err(WireError::Closed),
            Err(e) => return Err(WireError::Io(e.into())),
        }
    }
}

/// Receives one packet: its bytes and descriptors, unchecked.
pub fn recv_bytes(sock: BorrowedFd<'_>) -> Result<(Vec<u8>, Vec<OwnedFd>), WireError> {
    recv_packet(sock).map(|(b, f, _)| (b, f))
}

/// Makes the kernel attach the sender's credentials to every message received on
/// `sock` (`SO_PASSCRED`): the credentials of the process that sent *this* message,
/// whoever connected the socket.
pub fn pass_credentials(sock: BorrowedFd<'_>) -> Result<(), WireError> {
    socket::setsockopt(&sock, sockopt::PassCred, &true).map_err(|e| WireError::Io(e.into()))
}

/// Receives one message with the credentials of the process that sent it (the
/// socket must have [`pass_credentials`] on; without them the message is refused).
pub fn recv_with_sender<M: Message>(
    sock: BorrowedFd<'_>,
) -> Result<(Received<M>, PeerCred), WireError> {
    let (bytes, fds, cred) = recv_packet(sock)?;
    let cred = cred.ok_or(WireError::NoCredentials)?;
    let msg: M = decode(&bytes)?;
    if fds.len() != msg.fd_count() {
        return Err(WireError::FdCount {
            expected: msg.fd_count(),
            got: fds.len(),
        });
    }
    Ok((Received { msg, fds }, cred))
}

/// One packet as received: bytes, descriptors and, if attached, the sender's
/// credentials.
type Packet = (Vec<u8>, Vec<OwnedFd>, Option<PeerCred>);

/// Receives one packet.
fn recv_packet(sock: BorrowedFd<'_>) -> Result<Packet, WireError> {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let mut cmsg_buf = nix::cmsg_space!([RawFd; SCM_MAX_FD], libc::ucred);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let r = socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_buf),
            MsgFlags::MSG_CMSG_CLOEXEC,
        );
        let msg = match r {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Err(WireError::Timeout),
            Err(Errno::ECONNRESET) => return Err(WireError::Closed),
            Err(e) => return Err(WireError::Io(e.into())),
        };
        let mut fds = Vec::new();
        let mut cred = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                match c {
                    ControlMessageOwned::ScmRights(raw) => {
                        for fd in raw {
                            // SAFETY: the kernel installed this descriptor in our table
                            // for this message; nothing else refers to it.
                            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                        }
                    }
                    ControlMessageOwned::ScmCredentials(c) => {
                        cred = Some(PeerCred {
                            pid: c.pid(),
                            uid: c.uid(),
                            gid: c.gid(),
                        });
                    }
                    _ => {}
                }
            }
        }
        if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
            return Err(WireError::FdsTruncated);
        }
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(WireError::TooLarge);
        }
        let n = msg.bytes;
        if n > MAX_MESSAGE {
            return Err(WireError::TooLarge);
        }
        if n == 0 && fds.is_empty() {
            return Err(WireError::Closed);
        }
        buf.truncate(n);
        return Ok((buf, fds, cred));
    }
}

/// Decodes one message from `bytes`, refusing trailing bytes.
pub fn decode<M: Message>(bytes: &[u8]) -> Result<M, WireError> {
    let (msg, rest) = postcard::take_from_bytes::<M>(bytes).map_err(WireError::Decode)?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

/// Receives and checks one message. Descriptors are accepted only when the message
/// expects exactly that many; otherwise they are closed and an error returned.
pub fn recv<M: Message>(sock: BorrowedFd<'_>) -> Result<Received<M>, WireError> {
    let (bytes, fds) = recv_bytes(sock)?;
    checked(&bytes, fds)
}

fn checked<M: Message>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<Received<M>, WireError> {
    let msg: M = decode(bytes)?;
    if fds.len() != msg.fd_count() {
        return Err(WireError::FdCount {
            expected: msg.fd_count(),
            got: fds.len(),
        });
    }
    Ok(Received { msg, fds })
}

/// Receives the first message of a conversation, a hello: one of another release is
/// [`WireError::Version`], told apart by the two numbers every release's hello starts
/// with ([`super::hello`]) before the rest is decoded.
pub fn recv_hello<M: Message>(sock: BorrowedFd<'_>) -> Result<Received<M>, WireError> {
    let (bytes, fds) = recv_bytes(sock)?;
    match super::hello::version_of(&bytes) {
        Some(peer) if peer != super::VERSION => Err(WireError::Version { peer }),
        _ => checked(&bytes, fds),
    }
}

/// Sends a hello and waits for the answer, read as [`recv_hello`] reads it.
pub fn call_hello<Q: Message, R: Message>(sock: &impl AsFd, req: &Q) -> Result<R, WireError> {
    send(sock.as_fd(), req, &[])?;
    Ok(recv_hello::<R>(sock.as_fd())?.msg)
}

/// Sends `req` and waits for one reply without descriptors.
pub fn call<Q: Message, R: Message>(sock: &impl AsFd, req: &Q) -> Result<R, WireError> {
    send(sock.as_fd(), req, &[])?;
    Ok(recv::<R>(sock.as_fd())?.msg)
}
