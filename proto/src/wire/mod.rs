//! The wire protocol between the tracer's processes: serde + postcard messages over
//! Unix `SOCK_SEQPACKET` sockets, one message per packet, file descriptors attached
//! with `SCM_RIGHTS` only to the messages that expect them.
//!
//! - [`control`]: the `lttng` command (control library) and its user's session daemon;
//! - [`app`]: an instrumented application and its user's session daemon;
//! - [`consumer`]: the session daemon and the consumer process it spawns;
//! - [`privd`]: a session daemon (of a `tracing` group member) and the root helper
//!   `lttng-privd`, which owns kernel-tracer access.
//!
//! Each conversation starts with a hello carrying [`VERSION`]; a peer speaking another
//! version is refused with a message saying so ([`hello`]: the hello reads alike in
//! every release). Every message is at most
//! [`socket::MAX_MESSAGE`] bytes and every decoder refuses trailing bytes, a wrong
//! descriptor count and truncated control data ([`socket`]). Names a peer sends are
//! checked with [`check_name`] before they reach a path or the metadata.

pub mod admission;
pub mod app;
pub mod consumer;
pub mod control;
pub mod hello;
pub mod inherit;
pub mod privd;
pub mod socket;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Protocol version, checked in every hello.
pub const VERSION: u32 = 5;

/// A message of one of the protocols.
pub trait Message: Serialize + DeserializeOwned {
    /// How many descriptors travel with this message.
    fn fd_count(&self) -> usize {
        0
    }
}

/// What went wrong on a socket.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the peer closed the connection")]
    Closed,
    #[error("the peer did not answer in time")]
    Timeout,
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("socket path {0} is too long for a unix socket (at most 107 bytes): use a shorter directory")]
    PathTooLong(std::path::PathBuf),
    #[error("message larger than {} bytes", socket::MAX_MESSAGE)]
    TooLarge,
    #[error("the message's file descriptors were cut short")]
    FdsTruncated,
    #[error("malformed message: {0}")]
    Decode(postcard::Error),
    #[error("cannot encode message: {0}")]
    Encode(postcard::Error),
    #[error("malformed message: {0} bytes after its end")]
    TrailingBytes(usize),
    #[error("message expects {expected} file descriptors, {got} came with it")]
    FdCount { expected: usize, got: usize },
    #[error("the message came without its sender's credentials")]
    NoCredentials,
    #[error("protocol version {peer} is not ours ({VERSION}): use programs of the same release")]
    Version { peer: u32 },
}

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{what} name must not be empty")]
    Empty { what: &'static str },
    #[error("{what} name '{name}' is too long (at most {max} bytes)")]
    TooLong {
        what: &'static str,
        name: String,
        max: usize,
    },
    #[error("{what} name '{name}' may only use letters, digits, '_', '-' and '.' and must not start with '.' or '-'")]
    BadChars { what: &'static str, name: String },
}

/// Checks a session or channel name: it becomes a directory or file name, so it may
/// not contain `/`, NUL or anything outside a conservative set, nor start with `.`.
pub fn check_name(what: &'static str, name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    let shown = || name.chars().take(80).collect::<String>();
    if name.len() > max {
        return Err(NameError::TooLong {
            what,
            name: shown(),
            max,
        });
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.starts_with('-');
    if !ok {
        return Err(NameError::BadChars {
            what,
            name: shown(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_that_could_escape_a_directory_are_refused() {
        for bad in [
            "", "../x", "a/b", ".", "..", ".hidden", "a\0b", "-rf", "a b", "é",
        ] {
            assert!(check_name("session", bad, 64).is_err(), "{bad:?}");
        }
        for good in ["demo", "my-session_2", "a.b", "auto-20261126-120000"] {
            assert!(check_name("session", good, 64).is_ok(), "{good:?}");
        }
        assert!(check_name("session", &"x".repeat(65), 64).is_err());
    }
}
