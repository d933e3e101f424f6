//! Test program for daemon mode: prints `ready`, then obeys commands read from stdin,
//! one per line:
//!
//! - `emit N`: fires `myapp:request` and `myapp:noisy` N times each (their `seq`
//!   continues from the previous `emit`), then prints `ok LAST_SEQ`;
//! - `spin`: fires `myapp:request` forever, and after each event writes its `seq` as
//!   8 little-endian bytes to stdout (unbuffered): the last value written is the last
//!   event committed before a SIGKILL;
//! - `open PATH`: opens PATH for reading (through the C library's `open64`, as Rust's
//!   standard library does), then prints `ok` or `err`;
//! - `quit`: exits 0.
//!
//! With arguments (`ust_app emit 3`), runs that one command without printing `ready`
//! and exits.

use std::io::{BufRead, Write};

libust::tracepoint! {
    /// A request was served.
    pub request = myapp:request [Info] {
        seq: u64,
        path: &str,
    }
}

libust::tracepoint! {
    /// Chatter.
    pub noisy = myapp:noisy [Debug] {
        seq: u64,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let ["emit", n] = args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        let n: u64 = n.parse().expect("emit N");
        for seq in 0..n {
            libust::trace!(request, seq, "/index.html");
            libust::trace!(noisy, seq);
        }
        return;
    }
    let stdout = std::io::stdout();
    println!("ready");
    let _ = stdout.lock().flush();
    let mut seq = 0u64;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["emit", n] => {
                let n: u64 = n.parse().expect("emit N");
                for _ in 0..n {
                    libust::trace!(request, seq, "/index.html");
                    libust::trace!(noisy, seq);
                    seq += 1;
                }
                println!("ok {}", seq.wrapping_sub(1));
                let _ = stdout.lock().flush();
            }
            ["spin"] => {
                let mut out = std::fs::File::from(
                    std::os::fd::AsFd::as_fd(&stdout)
                        .try_clone_to_owned()
                        .expect("dup stdout"),
                );
                loop {
                    libust::trace!(request, seq, "/spin");
                    if out.write_all(&seq.to_le_bytes()).is_err() {
                        return;
                    }
                    seq += 1;
                }
            }
            ["open", path] => {
                let r = std::fs::File::open(path);
                println!("{}", if r.is_ok() { "ok" } else { "err" });
                let _ = stdout.lock().flush();
            }
            ["quit"] => return,
            _ => eprintln!("ust_app: unknown command {line:?}"),
        }
    }
}
