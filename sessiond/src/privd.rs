//! The session daemon's side of `lttng-privd`: the root helper it asks for kernel
//! tracing. Its socket is `$LTTNG_PRIVD_SOCKET`, else `/run/lttng-rs/privd.sock`.
//! Refusals come back as texts that say what to do: privd not running, or the user
//! not in the tracing group (named from the socket directory's group).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use proto::wire::privd::{not_a_member, PrivReply, PrivRequest};
use proto::wire::{socket, WireError, VERSION};

/// Where privd listens.
pub fn socket_path() -> PathBuf {
    std::env::var_os("LTTNG_PRIVD_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/lttng-rs/privd.sock"))
}

/// Why privd could not be used; the text is for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PrivdError(pub String);

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// Connects to privd and says hello.
pub fn connect(uid: u32) -> Result<OwnedFd, PrivdError> {
    let path = socket_path();
    let sock = socket::connect(&path).map_err(|e| {
        let io = match &e {
            proto::wire::WireError::Io(io) => io.raw_os_error(),
            _ => None,
        };
        match io {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                // The socket's directory belongs to the tracing group.
                let group = path
                    .parent()
                    .and_then(|d| std::fs::metadata(d).ok())
                    .and_then(|m| {
                        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(m.gid()))
                            .ok()
                            .flatten()
                    })
                    .map(|g| g.name)
                    .unwrap_or_else(|| "tracing".into());
                PrivdError(not_a_member(&group, &user_name(uid)))
            }
            Some(libc::ENOENT) | Some(libc::ECONNREFUSED) => PrivdError(format!(
                "kernel tracing is not available: lttng-privd is not running (no socket at {}; an administrator starts it)",
                path.display()
            )),
            _ => PrivdError(format!("cannot reach lttng-privd at {}: {e}", path.display())),
        }
    })?;
    match socket::call_hello::<_, PrivReply>(&sock, &PrivRequest::Hello { version: VERSION }) {
        Ok(PrivReply::Hello { .. }) => Ok(sock),
        // An older privd refuses our version in words; a newer one answers with its own.
        Ok(PrivReply::Error(t)) if t.contains("protocol version") => {
            Err(privd_of_another_release(&sock, None))
        }
        Ok(other) => Err(refusal(other)),
        Err(WireError::Version { peer }) => Err(privd_of_another_release(&sock, Some(peer))),
        Err(e) => Err(PrivdError(format!("lttng-privd did not answer: {e}"))),
    }
}

/// The refusal of a privd of another release (its version, when it said).
fn privd_of_another_release(sock: &OwnedFd, peer: Option<u32>) -> PrivdError {
    let pid = socket::peer_cred(sock.as_fd()).map_or(0, |c| c.pid);
    let speaks = peer.map_or_else(String::new, |p| format!("it speaks protocol {p}, "));
    PrivdError(format!(
        "lttng-privd (pid {pid}) is from another release of the tracer ({speaks}this \
         session daemon speaks {VERSION}): the package was upgraded and privd kept running \
         so that recording kernel sessions lose nothing; an administrator restarts it \
         (`systemctl restart lttng-privd`) once no kernel session records"
    ))
}

/// One request, one reply (no descriptor).
pub fn call(sock: &OwnedFd, req: &PrivRequest) -> Result<PrivReply, PrivdError> {
    socket::call::<_, PrivReply>(sock, req)
        .map_err(|e| PrivdError(format!("lttng-privd did not answer: {e}")))
}

/// The user's text for a reply that is not what was asked.
pub fn refusal(r: PrivReply) -> PrivdError {
    match r {
        PrivReply::Denied(t) | PrivReply::Error(t) => PrivdError(t),
        other => PrivdError(format!(
            "lttng-privd answered something unexpected: {other:?}"
        )),
    }
}

/// `lttng list -k`.
pub fn list_events(uid: u32) -> Result<Vec<String>, PrivdError> {
    let sock = connect(uid)?;
    match call(&sock, &PrivRequest::ListEvents)? {
        PrivReply::Events(v) => Ok(v),
        other => Err(refusal(other)),
    }
}
