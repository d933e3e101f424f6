//! A member's kernel session: a tracing group with its privd, the member's home, and
//! `lttng` run as the member.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tracing_group::*;
use super::user::bin_dir;
use super::TempDir;

/// A command run as `user` with the user's groups, in `home`, asking `privd`.
pub fn as_member(user: &str, home: &Path, privd: &Path, program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args(become_user(user))
        .arg("env")
        .arg(format!("HOME={}", home.display()))
        .arg(format!("LTTNG_HOME={}", home.display()))
        .arg(format!("LTTNG_PRIVD_SOCKET={}", privd.display()))
        .arg("LIBUST_REGISTER_TIMEOUT_MS=10000")
        .arg(program);
    c
}

pub fn lttng(user: &str, home: &Path, privd: &Path, args: &[&str]) -> String {
    let out = as_member(user, home, privd, &bin_dir().join("lttng"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lttng {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tracing group with a privd, and a private home owned by `who` (its member, or
/// the stranger).
pub struct Setup {
    pub acc: Accounts,
    pub privd: Privd,
    pub home: TempDir,
    /// The uid owning the home.
    pub uid: u32,
}

impl Setup {
    pub fn new(tag: &str, stranger: bool) -> Setup {
        let acc = Accounts::new();
        // Only the timeline test defines the path probes (global to the machine).
        let privd = match tag {
            "ktrace" => Privd::start_with_path_probes(&acc.group, 4),
            // Every family of events LTTng-modules' analyses read.
            "kcount" => Privd::start_with(
                &acc.group,
                "max_instances_per_user = 4\nevents = sched:*, raw_syscalls:*, task:task_newtask, irq:*, timer:*, block:*, net:*, kmem:mm_page_alloc, kmem:mm_page_free\n",
            ),
            _ => Privd::start(&acc.group, 4),
        };
        let home = TempDir::new(tag);
        let who = if stranger { &acc.stranger } else { &acc.member };
        let uid = id("-u", who);
        std::os::unix::fs::chown(home.path(), Some(uid), None).unwrap();
        Setup {
            acc,
            privd,
            home,
            uid,
        }
    }

    /// (user, home, privd socket) of the member.
    pub fn member(&self) -> (&str, &Path, &Path) {
        (
            self.acc.member.as_str(),
            self.home.path(),
            self.privd.socket.as_path(),
        )
    }

    /// The session output under the home.
    pub fn output(&self) -> PathBuf {
        std::fs::read_dir(self.home.path().join("lttng-traces"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Ok(p) = std::fs::read_to_string(self.home.path().join(".lttng-rs/sessiond.lock")) {
            let _ = Command::new("kill").arg(p.trim()).status();
        }
    }
}
