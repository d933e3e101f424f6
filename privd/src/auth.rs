//! Who may trace the kernel: root, and members of the configured group. Checked on
//! every request, from the credentials the kernel attached to that message (so a
//! socket handed to someone else is judged by its new holder) and from the group
//! database as it is now (so a membership revoked while connected stops the next
//! request). The connecting process must also have been a member when it connected
//! (`SO_PEERGROUPS`, or its primary group), like the socket's permissions demand.

use nix::unistd::{Group, Uid, User};
use proto::wire::privd::not_a_member;
use proto::wire::socket::PeerCred;

/// The caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub pid: i32,
    pub name: String,
}

/// What the connecting process was when it connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The process that connected.
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Decides one request; `Err` is the text of the refusal.
pub fn authorize(sender: PeerCred, conn: &Connection, group: &str) -> Result<Caller, String> {
    let user = User::from_uid(Uid::from_raw(sender.uid)).ok().flatten();
    let name = user
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(|| sender.uid.to_string());
    let caller = Caller {
        uid: sender.uid,
        pid: sender.pid,
        name: name.clone(),
    };
    if sender.uid == 0 {
        return Ok(caller);
    }
    let Some(user) = user else {
        return Err(format!(
            "uid {} has no account, so its group membership cannot be checked",
            sender.uid
        ));
    };
    let Some(g) = Group::from_name(group).ok().flatten() else {
        return Err(format!(
            "the group '{group}' does not exist: ask an administrator to create it (groupadd {group}) and add you to it"
        ));
    };
    let gid = g.gid.as_raw();
    let member_now = user.gid.as_raw() == gid || g.mem.contains(&user.name);
    let member_at_connect = conn.uid == 0 || conn.gid == gid || conn.groups.contains(&gid);
    if member_now && member_at_connect {
        Ok(caller)
    } else {
        Err(not_a_member(group, &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(uid: u32, groups: Vec<u32>) -> Connection {
        Connection {
            pid: 1,
            uid,
            gid: uid,
            groups,
        }
    }

    #[test]
    fn root_is_always_allowed_and_strangers_get_the_group_named() {
        let root = PeerCred {
            pid: 1,
            uid: 0,
            gid: 0,
        };
        assert!(authorize(root, &conn(0, vec![]), "tracing").is_ok());
        // "nobody" exists everywhere and is in no tracing group.
        let nobody = User::from_name("nobody").unwrap().unwrap();
        let cred = PeerCred {
            pid: 2,
            uid: nobody.uid.as_raw(),
            gid: nobody.gid.as_raw(),
        };
        let denied = authorize(cred, &conn(nobody.uid.as_raw(), vec![]), "root").unwrap_err();
        assert!(
            denied.contains("group 'root'") && denied.contains("usermod -aG root nobody"),
            "{denied}"
        );
        let missing = authorize(cred, &conn(0, vec![]), "no-such-group-xyz").unwrap_err();
        assert!(missing.contains("does not exist"), "{missing}");
        let unknown = PeerCred {
            pid: 3,
            uid: 3_999_999,
            gid: 3_999_999,
        };
        assert!(authorize(unknown, &conn(0, vec![]), "root").is_err());
    }
}
