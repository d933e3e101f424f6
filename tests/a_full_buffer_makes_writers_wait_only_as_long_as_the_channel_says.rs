//! `enable-channel --blocking-timeout`: how long a thread whose buffer is full waits
//! for the consumer before it drops an event. With 0 (LTTng's default) a tiny channel
//! drops at once, and every dropped event is counted three times over: by `lttng list`,
//! by our viewer's discard reports, and by babeltrace2's warnings; the counts agree,
//! and together with the events read back they give exactly what the app emitted.

mod support;

use support::user::User;
use support::*;

/// The sum of the "Discarded events" lines of `lttng list SESSION` for channel `name`.
fn listed(out: &str, name: &str) -> (u64, String) {
    let block = out
        .split("\n- ")
        .find(|b| b.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("channel {name} not listed in:\n{out}"));
    let number = |key: &str| {
        block
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no '{key}' for {name} in:\n{block}"))
    };
    (
        number("Discarded events:").parse().unwrap(),
        number("Blocking timeout:"),
    )
}

#[test]
fn a_channel_that_never_waits_drops_and_counts_every_drop() {
    let u = User::new("noblock");
    u.lttng_ok(&["create", "tiny"]);
    u.lttng_ok(&[
        "enable-channel",
        "-u",
        "--subbuf-size",
        "4k",
        "--num-subbuf",
        "2",
        "--blocking-timeout",
        "0",
        "c",
    ]);
    u.lttng_ok(&["enable-event", "-u", "-c", "c", "myapp:request"]);
    u.lttng_ok(&["enable-event", "-u", "myapp:noisy"]);
    u.lttng_ok(&["start"]);
    let mut app = u.app();
    const N: u64 = 200_000;
    assert_eq!(app.emit(N), N - 1);
    assert!(app.quit().success());
    u.lttng_ok(&["stop"]);

    let list = u.lttng_ok(&["list", "tiny"]);
    let (discarded, timeout) = listed(&list, "c");
    assert_eq!(timeout, "0 µs");
    let (discarded0, timeout0) = listed(&list, "channel0");
    assert_eq!(timeout0, "100000 µs", "the default");
    assert!(
        discarded > 0,
        "{N} events into 8 KiB that never waits must drop some"
    );

    let out = u.session_output("tiny");
    let read = read_trace(&out);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let seqs = read.seqs_of("myapp:request");
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate"
    );
    assert_eq!(
        seqs.len() as u64 + discarded,
        N,
        "read back + dropped = emitted"
    );
    let reported = read.discarded_events();
    assert_eq!(
        reported,
        discarded + discarded0,
        "the trace reports every drop"
    );
    let noisy = read
        .events
        .iter()
        .filter(|e| &*e.name == "myapp:noisy")
        .count();
    assert_eq!(
        noisy as u64 + discarded0,
        N,
        "the default channel counts exactly too"
    );

    if let Some(bt) = babeltrace2(&[out.as_os_str()]) {
        assert!(bt.status.success());
        let warned: u64 = String::from_utf8_lossy(&bt.stderr)
            .lines()
            .filter_map(|l| {
                let rest = l.split("Tracer discarded ").nth(1)?;
                rest.split(' ').next()?.parse::<u64>().ok()
            })
            .sum();
        assert_eq!(
            warned,
            discarded + discarded0,
            "babeltrace2 warns about every drop"
        );
    }
    u.lttng_ok(&["destroy"]);
}

#[test]
fn blocking_timeouts_are_checked() {
    let u = User::new("blockarg");
    u.lttng_ok(&["create", "b"]);
    let refused = |args: &[&str], says: &str| {
        let out = u.lttng(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &["enable-channel", "-u", "--blocking-timeout", "100001", "c1"],
        "above the 100000 µs",
    );
    refused(
        &[
            "enable-channel",
            "-u",
            "--overwrite",
            "--blocking-timeout",
            "5",
            "c2",
        ],
        "discard-mode channels only",
    );
    refused(
        &["enable-channel", "-u", "--blocking-timeout", "soon", "c3"],
        "'soon' is not a number of microseconds",
    );
    u.lttng_ok(&["enable-channel", "-u", "--blocking-timeout", "inf", "c4"]);
    u.lttng_ok(&["enable-channel", "-u", "--overwrite", "c5"]);
    let list = u.lttng_ok(&["list", "b"]);
    assert_eq!(listed(&list, "c4").1, "100000 µs");
    assert!(
        !list
            .split("\n- ")
            .find(|b| b.starts_with("c5:"))
            .unwrap()
            .contains("Blocking timeout"),
        "overwrite channels never wait:\n{list}"
    );
    u.lttng_ok(&["destroy"]);
}
