//! A signal handler that fires tracepoints while the interrupted thread is itself in
//! the middle of recording an event: every event of both is recorded intact.

mod support;

use ctf::reader::Value;
use support::*;

#[test]
fn a_signal_handler_can_trace_in_the_middle_of_an_event() {
    let dir = TempDir::new("signal");
    let n = 2_000_000u64;
    let out = run_ok(
        traced(env!("CARGO_BIN_EXE_sighandler"), dir.path())
            .env("LIBUST_SUBBUF_SIZE", "1M")
            .env("LIBUST_NUM_SUBBUF", "64")
            .arg(n.to_string()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let handler: u64 = stdout
        .trim()
        .rsplit("handler=")
        .next()
        .and_then(|v| v.parse().ok())
        .expect("handler count");
    assert!(handler > 10, "the timer fired only {handler} times");

    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let (mut main_next, mut handler_seen) = (0u64, Vec::new());
    for e in &read.events {
        let seq = field(&e.fields, "seq").and_then(Value::as_u64).unwrap();
        match &*e.name {
            "sig:main" => {
                assert_eq!(seq, main_next);
                assert_eq!(
                    field(&e.fields, "text").and_then(Value::as_str),
                    Some("main-thread-text")
                );
                main_next += 1;
            }
            "sig:handler" => handler_seen.push(seq),
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(main_next, n, "every main-thread event");
    handler_seen.sort_unstable();
    // The handler may fire between the program's last line and exit: at least the
    // count it printed, all distinct.
    assert!(handler_seen.len() as u64 >= handler);
    assert!(handler_seen.windows(2).all(|w| w[0] < w[1]));
}
