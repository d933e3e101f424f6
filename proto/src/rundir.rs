//! The run directory of a user's session daemon: where its sockets live.
//!
//! `$LTTNG_HOME/.lttng-rs` if `LTTNG_HOME` is set (as LTTng, for tests and for running
//! several independent setups), else `$XDG_RUNTIME_DIR/lttng-rs`, else
//! `$HOME/.lttng-rs`. The directory must be a real directory (not a symlink) owned by
//! the user, with no group or other permission bits: the daemon refuses to start
//! otherwise, and applications and the `lttng` command refuse to connect.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The control socket (`lttng` command).
pub const CLIENT_SOCKET: &str = "client.sock";
/// The application registration socket.
pub const APP_SOCKET: &str = "app.sock";
/// Held (`flock`) by the running daemon; its presence alone means nothing.
pub const LOCK_FILE: &str = "sessiond.lock";
/// The daemon's log when it runs in the background.
pub const LOG_FILE: &str = "sessiond.log";

/// Why the run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RundirError {
    #[error("cannot tell where the session daemon's sockets live: set XDG_RUNTIME_DIR, HOME or LTTNG_HOME")]
    NoHome,
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot inspect {path}: {source}")]
    Stat {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a directory (a symlink or a file is in the way): remove it")]
    NotDir { path: PathBuf },
    #[error("{path} belongs to uid {owner}, not to you (uid {uid}): remove it or set LTTNG_HOME")]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error("{path} is accessible to other users (mode {mode:o}): run `chmod 700 {path}`")]
    Mode { path: PathBuf, mode: u32 },
}

/// The run directory for the current environment (not checked).
pub fn resolve() -> Result<PathBuf, RundirError> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(h) = var("LTTNG_HOME") {
        return Ok(PathBuf::from(h).join(".lttng-rs"));
    }
    if let Some(x) = var("XDG_RUNTIME_DIR") {
        return Ok(PathBuf::from(x).join("lttng-rs"));
    }
    if let Some(h) = var("HOME") {
        return Ok(PathBuf::from(h).join(".lttng-rs"));
    }
    Err(RundirError::NoHome)
}

/// Creates the directory (mode 0700) if it does not exist, then [`check`]s it.
pub fn ensure(dir: &Path, uid: u32) -> Result<(), RundirError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(RundirError::Create {
                path: dir.to_path_buf(),
                source,
            })
        }
    }
    check(dir, uid)
}

/// Checks that `dir` is a directory owned by `uid` that nobody else may enter.
pub fn check(dir: &Path, uid: u32) -> Result<(), RundirError> {
    let md = std::fs::symlink_metadata(dir).map_err(|source| RundirError::Stat {
        path: dir.to_path_buf(),
        source,
    })?;
    if !md.file_type().is_dir() {
        return Err(RundirError::NotDir {
            path: dir.to_path_buf(),
        });
    }
    if md.uid() != uid {
        return Err(RundirError::Owner {
            path: dir.to_path_buf(),
            owner: md.uid(),
            uid,
        });
    }
    let mode = md.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(RundirError::Mode {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// The real uid of this process.
pub fn current_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_directory_others_can_enter_is_refused() {
        let base = std::env::temp_dir().join(format!("rundir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("run");
        let uid = current_uid();
        ensure(&dir, uid).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(matches!(check(&dir, uid), Err(RundirError::Mode { .. })));
        assert!(matches!(
            check(&dir, uid + 1),
            Err(RundirError::Owner { .. })
        ));
        let link = base.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(matches!(check(&link, uid), Err(RundirError::NotDir { .. })));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
