//! A program instrumented with `tracing` and `log` (`tracing-lttng/examples/
//! tracing_demo.rs`), traced through `tracing_lttng::layer()`: standalone and through
//! the session daemon, read back with babeltrace2 and compared value by value with
//! what the program did, span nesting, `record`, `follows_from` and a span closed by
//! another thread included; `--loglevel` selects by tracing's levels; a callsite
//! whose field changes type gets a second class.

mod support;

use std::collections::HashMap;
use std::path::Path;

use support::c::payloads;
use support::user::User;
use support::{run_ok, traced, TempDir};

const SOURCE: &str = include_str!("../tracing-lttng/examples/tracing_demo.rs");

/// The line of the example that holds `needle` (a callsite's first line).
fn line_of(needle: &str) -> usize {
    SOURCE
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the example"))
        + 1
}

/// What babeltrace2 must print for `rounds` rounds of the example (payloads only),
/// keeping the events `keep` accepts by name.
fn expected(rounds: u64, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let info = line_of("tracing::info!(");
    let warn = line_of("tracing::warn!(");
    let debug = line_of("tracing::debug!(");
    let trace = line_of("tracing::trace!(");
    let log = line_of("log::info!(");
    let mut out = Vec::new();
    for r in 0..rounds {
        let mixed = if r % 2 == 0 {
            format!("tracing_demo:mixed: {{ message = \"mixed\", v = {r} }}")
        } else {
            "tracing_demo:mixed_2: { message = \"mixed\", v = \"odd\" }".to_string()
        };
        out.extend([
            format!(
                "tracing_demo:line_{info}: {{ message = \"round {r}\", a = {r}, b = 2, \
                 s = \"sixteen chars..\", neg = -7, ratio = 0.5, ok = ( \"true\" : container = 1 ) }}"
            ),
            format!(
                "tracing_demo:net_line_{warn}: {{ message = \"slow peer\", shown = \"{r}\", \
                 peer = \"Peer {{ addr: \\\"10.0.0.7\\\", port: 8080 }}\" }}"
            ),
            format!("tracing_demo:line_{debug}: {{ message = \"debug\", n = {} }}", r * 10),
            format!("tracing_demo:line_{trace}: {{ message = \"trace\", n = {} }}", r * 100),
            format!("tracing_demo:line_{log}: {{ message = \"from log, round {r}\" }}"),
            mixed,
        ]);
        // The spans, their ids as `symbolic` names them: four new spans per round.
        let [req, db, retry, handoff] = [1, 2, 3, 4].map(|i| format!("S{}", 4 * r + i));
        let q = line_of("tracing::info!(rows");
        let d = "tracing_demo:";
        out.extend([
            format!("{d}request_new: {{ span_id = {req}, parent_id = 0, id = {r} }}"),
            format!("{d}request_enter: {{ span_id = {req} }}"),
            format!("{d}db_new: {{ span_id = {db}, parent_id = {req}, table = \"users\" }}"),
            format!("{d}db_enter: {{ span_id = {db} }}"),
            format!("{d}line_{q}: {{ message = \"queried\", rows = 3 }}"),
            format!("{d}db_exit: {{ span_id = {db} }}"),
            format!("{d}request_record: {{ span_id = {req}, user = \"alice\" }}"),
            format!("{d}db_close: {{ span_id = {db} }}"),
            format!("{d}request_exit: {{ span_id = {req} }}"),
            format!("{d}retry_new: {{ span_id = {retry}, parent_id = 0 }}"),
            format!("{d}retry_follows_from: {{ span_id = {retry}, follows_id = {req} }}"),
            format!("{d}request_close: {{ span_id = {req} }}"),
            format!("{d}retry_close: {{ span_id = {retry} }}"),
            format!("{d}handoff_new: {{ span_id = {handoff}, parent_id = 0 }}"),
            format!("{d}handoff_enter: {{ span_id = {handoff} }}"),
            format!("{d}handoff_exit: {{ span_id = {handoff} }}"),
            // Closed by the thread the span was moved to.
            format!("{d}handoff_close: {{ span_id = {handoff} }}"),
        ]);
    }
    out.retain(|l| keep(l.split(':').nth(1).unwrap_or("")));
    out
}

fn demo() -> &'static str {
    env!("CARGO_BIN_EXE_tracing_demo")
}

fn assert_payloads(trace: &Path, want: &[String]) {
    let Some(got) = payloads(trace) else { return };
    assert_eq!(symbolic(&got), want, "babeltrace2 {}", trace.display());
}

/// `lines` with each span id (the registry's, reused once a span closes) replaced by
/// `S1`, `S2`, ... in the order spans appear; 0 (no parent) stays.
fn symbolic(lines: &[String]) -> Vec<String> {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut next = 0;
    lines
        .iter()
        .map(|l| {
            let mut out = String::new();
            let mut rest = l.as_str();
            while let Some(at) = ["span_id = ", "parent_id = ", "follows_id = "]
                .iter()
                .filter_map(|k| rest.find(k).map(|i| i + k.len()))
                .min()
            {
                out.push_str(&rest[..at]);
                rest = &rest[at..];
                let end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let id = &rest[..end];
                if id == "0" {
                    out.push('0');
                } else {
                    let name = names.entry(id.to_string()).or_insert_with(|| {
                        next += 1;
                        format!("S{next}")
                    });
                    out.push_str(name);
                }
                rest = &rest[end..];
            }
            out.push_str(rest);
            if l.contains("_close: { span_id = ") {
                let id: String = l
                    .split("span_id = ")
                    .nth(1)
                    .unwrap_or("")
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                names.remove(&id);
            }
            out
        })
        .collect()
}

#[test]
fn a_tracing_program_is_traced_standalone_with_typed_fields() {
    let tmp = TempDir::new("tracing-standalone");
    let trace = tmp.path().join("trace");
    let out = run_ok(traced(demo(), &trace).arg("5"));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_payloads(&trace, &expected(5, |_| true));

    // Our own reader agrees on the types: integers, a double, a bool, strings.
    let read = support::read_trace(&trace);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let first = &read.events[0];
    assert_eq!(
        &*first.name,
        format!("tracing_demo:line_{}", line_of("tracing::info!(")).as_str()
    );
    let f = |n: &str| support::field(&first.fields, n).unwrap_or_else(|| panic!("no {n}"));
    assert_eq!(f("a").as_u64(), Some(0));
    assert_eq!(f("neg").as_i64(), Some(-7));
}

#[test]
fn a_tracing_program_is_traced_through_the_session_daemon() {
    let u = User::new("tracing-daemon");
    u.lttng_ok(&["create", "tr"]);
    u.lttng_ok(&["enable-event", "-u", "tracing_demo*"]);
    u.lttng_ok(&["start"]);
    run_ok(u.cmd(demo()).arg("4"));
    u.lttng_ok(&["stop"]);
    assert_payloads(&u.session_output("tr"), &expected(4, |_| true));
    u.lttng_ok(&["destroy"]);
}

#[test]
fn loglevel_selects_by_tracings_levels() {
    let u = User::new("tracing-level");
    u.lttng_ok(&["create", "lv"]);
    u.lttng_ok(&["enable-event", "-u", "-a", "--loglevel", "INFO"]);
    u.lttng_ok(&["start"]);
    run_ok(u.cmd(demo()).arg("3"));
    u.lttng_ok(&["stop"]);
    // ERROR, WARN and INFO only: the debug! and trace! callsites are left out.
    let (debug, trace) = (line_of("tracing::debug!("), line_of("tracing::trace!("));
    let want = expected(3, |name| {
        name != format!("line_{debug}") && name != format!("line_{trace}")
    });
    assert_eq!(want.len(), 3 * (4 + 17));
    assert_payloads(&u.session_output("lv"), &want);
    u.lttng_ok(&["destroy"]);
}
