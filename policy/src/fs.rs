//! The Landlock rules of each role: which directories it may write (and read) below;
//! everything else on the file system is out of reach. The ABI is pinned to the
//! highest one tested here ([`ABI`]), never "the newest".

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::Role;

/// The Landlock ABI the rules are written for (Linux 6.12: file system, TCP, and the
/// abstract-socket and signal scopes).
pub const ABI: landlock::ABI = landlock::ABI::V6;

/// Why the Landlock rules could not be enforced.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot open {path} for a Landlock rule: {why} (it must exist before the sandbox)")]
    Path { path: PathBuf, why: String },
    #[error("cannot build the Landlock ruleset: {0}")]
    Build(String),
    #[error("Landlock is only partly enforced on this kernel: refusing to run")]
    Partial,
}

/// A ruleset ready to be enforced on this thread (and, through [`Self::raw_fd`], on
/// the threads that already exist).
pub struct Prepared {
    created: RulesetCreated,
    /// A duplicate of the ruleset's descriptor, for the other threads.
    raw: OwnedFd,
}

impl Prepared {
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.raw.as_raw_fd()
    }

    /// Enforces the ruleset on the calling thread; anything less than full
    /// enforcement is an error.
    pub(crate) fn restrict_self(self) -> Result<(), LandlockError> {
        let status = self
            .created
            .restrict_self()
            .map_err(|e| LandlockError::Build(e.to_string()))?;
        match status.ruleset {
            RulesetStatus::FullyEnforced => Ok(()),
            RulesetStatus::PartiallyEnforced => Err(LandlockError::Partial),
            RulesetStatus::NotEnforced => Err(LandlockError::Unsupported("not enforced".into())),
        }
    }
}

/// The rights a role has below its writable directories.
fn writable_rights() -> landlock::BitFlags<AccessFs> {
    // Everything but executing files.
    AccessFs::from_all(ABI) & !AccessFs::Execute
}

/// Builds the ruleset of `role`: every file-system right, TCP and the ABI 6 scopes
/// handled (so denied), then allowed below `writable` only. `None`: the role has no
/// Landlock ruleset at all.
///
/// The session daemon has none: it writes metadata below whatever output directory
/// the user names (and may later name another), reads `/proc` and `/sys`, and binds
/// its sockets; its confinement is seccomp's allowlist and the user's own rights.
pub fn ruleset(
    role: Role,
    writable: &[PathBuf],
    readable: &[PathBuf],
) -> Result<Option<Prepared>, LandlockError> {
    let build = |e: landlock::RulesetError| LandlockError::Build(e.to_string());
    match role {
        Role::ConsumerUst | Role::ConsumerKernel | Role::Privd => {}
        Role::Sessiond => return Ok(None),
    }
    // The crate's compatibility errors list every access right in a bit-set dump:
    // say what it means instead.
    let unsupported = |e: landlock::RulesetError| {
        let text = e.to_string();
        LandlockError::Unsupported(if text.contains("incompatible") {
            "the kernel enforces none of the rights to restrict: is Landlock built in and enabled (`lsm=` on the kernel command line)?".into()
        } else {
            text
        })
    };
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI))
        .map_err(unsupported)?
        .handle_access(AccessNet::from_all(ABI))
        .map_err(unsupported)?
        .scope(Scope::from_all(ABI))
        .map_err(unsupported)?
        .create()
        .map_err(unsupported)?;
    let rules = writable.iter().map(|d| (d, writable_rights())).chain(
        readable
            .iter()
            .map(|d| (d, AccessFs::from_read(ABI) & !AccessFs::Execute)),
    );
    for (dir, rights) in rules {
        let fd = PathFd::new(dir).map_err(|e| LandlockError::Path {
            path: dir.clone(),
            why: e.to_string(),
        })?;
        created = created
            .add_rule(PathBeneath::new(fd, rights))
            .map_err(build)?;
    }
    let raw: Option<OwnedFd> = created
        .try_clone()
        .map_err(|e| LandlockError::Build(e.to_string()))?
        .into();
    let raw = raw.ok_or_else(|| LandlockError::Unsupported("no ruleset descriptor".into()))?;
    Ok(Some(Prepared { created, raw }))
}
