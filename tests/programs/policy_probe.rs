//! Test program: `policy_probe ROLE CASE DIR` enters the sandbox of ROLE
//! (`consumer-kernel`, `consumer-ust` or `privd`) with DIR as its writable directory,
//! then runs the probe CASE of `policy::probe` and prints what it saw. Lets the tests
//! probe a policy from the inside before (or besides) the program that uses it.

use std::path::PathBuf;
use std::process::ExitCode;

use policy::{Role, Sandbox};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [role, case, dir] = args.as_slice() else {
        eprintln!("usage: policy_probe ROLE CASE DIR");
        return ExitCode::from(2);
    };
    let role = match role.as_str() {
        "consumer-ust" => Role::ConsumerUst,
        "consumer-kernel" => Role::ConsumerKernel,
        "privd" => Role::Privd,
        other => {
            eprintln!("policy_probe: unknown role {other}");
            return ExitCode::from(2);
        }
    };
    // As the consumers do first thing (root skips it).
    if let Err(e) = policy::own_user_namespace() {
        eprintln!("policy_probe: user namespace: {e}");
        return ExitCode::from(3);
    }
    let sandbox = Sandbox {
        role,
        writable: vec![PathBuf::from(dir)],
        // privd also reads /etc in service; the probe leaves it out so that opening
        // /etc/passwd shows Landlock at work.
        readable: Vec::new(),
        keep_fds: Vec::new(),
        degraded: false,
    };
    match policy::probe::run(case, sandbox) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("policy_probe: {e}");
            ExitCode::from(3)
        }
    }
}
