//! A program instrumented with `tracing` and `log`, traced by adding one line to its
//! start-up (the `registry().with(tracing_lttng::layer()).init()` below).
//!
//!     LIBUST_TRACE_DIR=/tmp/t cargo run -p tracing-lttng --example tracing_demo
//!     lttng view /tmp/t
//!
//! `tracing_demo serve` prints `ready`, then answers `emit N` by firing N events
//! `tick { seq }` (seq counting from 0 over the whole run) and printing `ok LAST`, and
//! leaves at `quit`.
//!
//! `tracing_demo [ROUNDS]` fires, ROUNDS times (default 3): an `info!` with typed
//! fields, a `warn!` under the target `tracing_demo::net` with a `Display` and a
//! `Debug` value, a `debug!`, a `trace!`, a `log::info!`, and one callsite whose field
//! `v` is an integer in even rounds and a string in odd ones; then the spans of
//! [`spans`].

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Peer {
    addr: &'static str,
    port: u16,
}

fn main() {
    tracing_subscriber::registry()
        .with(tracing_lttng::layer())
        .init();
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("serve") {
        return serve();
    }
    let rounds: u64 = arg.and_then(|a| a.parse().ok()).unwrap_or(3);
    for round in 0..rounds {
        tracing::info!(
            a = round,
            b = 2u32,
            s = "sixteen chars..",
            neg = -7i64,
            ratio = 0.5,
            ok = true,
            "round {round}"
        );
        let peer = Peer {
            addr: "10.0.0.7",
            port: 8080,
        };
        tracing::warn!(
            target: "tracing_demo::net",
            shown = %round,
            peer = ?peer,
            "slow peer"
        );
        tracing::debug!(n = round * 10, "debug");
        tracing::trace!(n = round * 100, "trace");
        log::info!("from log, round {round}");
        let v: &dyn tracing::Value = if round % 2 == 0 { &round } else { &"odd" };
        tracing::info!(name: "mixed", v, "mixed");
        spans(round);
    }
}

/// A `request` span holding a `db` span with an event inside, a field recorded
/// later, a `retry` span that follows from it, and a `handoff` span entered here and
/// closed by another thread.
fn spans(round: u64) {
    let request = tracing::info_span!("request", id = round, user = tracing::field::Empty);
    {
        let _in = request.enter();
        let db = tracing::info_span!("db", table = "users");
        db.in_scope(|| tracing::info!(rows = 3u64, "queried"));
        request.record("user", "alice");
    }
    let retry = tracing::info_span!(parent: None, "retry");
    retry.follows_from(&request);
    drop(request);
    drop(retry);
    let handoff = tracing::info_span!("handoff");
    handoff.in_scope(|| {});
    std::thread::spawn(move || drop(handoff))
        .join()
        .expect("the handoff thread");
}

fn serve() {
    use std::io::{BufRead, Write};
    let mut seq = 0u64;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.split_once(' ') {
            Some(("emit", n)) => {
                let n: u64 = n.trim().parse().unwrap_or(0);
                for _ in 0..n {
                    tracing::info!(name: "tick", seq);
                    seq += 1;
                }
                let _ = writeln!(out, "ok {}", seq.wrapping_sub(1));
                let _ = out.flush();
            }
            _ if line == "quit" => break,
            _ => {
                let _ = writeln!(out, "unknown command {line:?}");
                let _ = out.flush();
            }
        }
    }
}
