//! A test program that opens many connections to a daemon and holds them: it prints
//! one answer line per connection, then `held`, and keeps them open until its stdin
//! closes (`privd_probe --hold N`, `wire_probe hold-clients N`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};

/// The running holder and what it was answered.
pub struct Holder {
    child: Child,
    pub answers: Vec<String>,
    /// Kept open: a holder may print more when it ends.
    _out: Lines<BufReader<ChildStdout>>,
}

impl Holder {
    /// Starts `cmd` and waits until it holds its connections.
    pub fn start(mut cmd: Command) -> Holder {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut answers = Vec::new();
        for line in out.by_ref() {
            let line = line.unwrap();
            if line == "held" {
                return Holder {
                    child,
                    answers,
                    _out: out,
                };
            }
            answers.push(line);
        }
        let _ = child.wait();
        panic!("{cmd:?} ended before holding: {answers:?}");
    }

    /// Closes every connection it holds.
    pub fn release(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
