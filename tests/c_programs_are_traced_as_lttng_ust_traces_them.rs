//! A C program instrumented for LTTng-UST 2.13 (`tests/c/refdoc_*`: every field kind,
//! classes and instances, log levels, a model URI, tracef and tracelog), built with
//! `cc` against our headers and liblttng_ust_rs, is traced in standalone mode and
//! through the session daemon; babeltrace2 prints the payloads LTTng-UST's trace of
//! the same program holds (`reference/lttng-ust-c-api.md` §11.2), line for line. The
//! same sources build with gcc and clang, as C99/C11 and as C++11/C++17, with
//! `-Wall -Wextra -Werror` (clang is required under `CI=true`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::c;
use support::user::User;
use support::TempDir;

/// What babeltrace2 prints for one round of `refdoc_app` (timestamps, host and
/// `cpu_id` cut), as LTTng-UST 2.13 records it.
const EXPECTED: &[&str] = &[
    r#"refdoc:ints: { i8 = -1, u8 = 255, i16 = -1, u16 = 65535, i32 = -1, u32 = 4294967295, i64 = -1, u64 = 18446744073709551615, c = -1, b = 1, i32hex = 0xFFFFFFFF, u64hex = 0xFFFFFFFFFFFFFFFF, vptr = 0x1234, n16 = -1, n32hex = 0xFFFFFFFF }"#,
    r#"refdoc:ints: { i8 = 44, u8 = 44, i16 = 300, u16 = 300, i32 = 300, u32 = 300, i64 = 300, u64 = 300, c = 44, b = 1, i32hex = 0x12C, u64hex = 0x12C, vptr = 0x0, n16 = 11265, n32hex = 0x2C010000 }"#,
    r#"refdoc:arrays: { a_u8 = [ [0] = 65, [1] = 0, [2] = 66, [3] = 255 ], a_u8hex = [ [0] = 0x41, [1] = 0x0, [2] = 0x42, [3] = 0xFF ], a_i16 = [ [0] = 258, [1] = -2 ], a_net16 = [ [0] = 513, [1] = 65279 ], a_text = "abc" }"#,
    r#"refdoc:seqs: { _s_u8_length = 0, s_u8 = [ ], _s_u8hex_length = 0, s_u8hex = [ ], _s_i16_length = 0, s_i16 = [ ], _s_net16_length = 0, s_net16 = [ ], _s_text_length = 0, s_text = "" }"#,
    r#"refdoc:seqs: { _s_u8_length = 2, s_u8 = [ [0] = 65, [1] = 0 ], _s_u8hex_length = 2, s_u8hex = [ [0] = 0x41, [1] = 0x0 ], _s_i16_length = 2, s_i16 = [ [0] = 258, [1] = -2 ], _s_net16_length = 2, s_net16 = [ [0] = 513, [1] = 65279 ], _s_text_length = 2, s_text = "ab" }"#,
    r#"refdoc:strings: { s1 = "hello", s2 = "(null)", _st_length = 4, st = "hell", f = 1.5, d = -2.5e-10 }"#,
    r#"refdoc:strings: { s1 = "tab\there \"q\" back\\slash", s2 = "nl\nx", _st_length = 4, st = "tab\t", f = 1.5, d = -2.5e-10 }"#,
    r#"refdoc:enums: { color = ( "WARM", "OVERLAP" : container = 3 ), color8 = ( "WARM", "OVERLAP" : container = 3 ) }"#,
    r#"refdoc:enums: { color = ( "NEG" : container = -3 ), color8 = ( <unknown> : container = 253 ) }"#,
    r#"refdoc:enums: { color = ( "q\"uote" : container = 100 ), color8 = ( "q\"uote" : container = 100 ) }"#,
    r#"refdoc:empty: { }"#,
    r#"refdoc:voidargs: { k = 7 }"#,
    r#"refdoc:ten: { sum = 55 }"#,
    r#"refdoc:inst_a: { x = 42, who = "a" }"#,
    r#"refdoc:inst_b: { x = 9, who = "via do_tracepoint" }"#,
    r#"lttng_ust_tracef:event: { _msg_length = 13, msg = "tracef 42 str" }"#,
    r#"lttng_ust_tracelog:LTTNG_UST_TRACEPOINT_LOGLEVEL_WARNING: { line = 41, file = "FILE", func = "main", _msg_length = 10, msg = "tracelog 7" }"#,
];

/// Compiles the provider and the program with `compiler` in `lang` (`c` or `c++`)
/// with every warning an error, and links them against liblttng_ust_rs.
fn build(dir: &Path, compiler: &str, lang: &str, std: &str) -> PathBuf {
    let objects: Vec<PathBuf> = ["refdoc_tp", "refdoc_app"]
        .iter()
        .map(|name| {
            c::compile(
                dir,
                compiler,
                name,
                &format!("{name}-{compiler}"),
                &["-x", lang, std],
            )
        })
        .collect();
    c::link(
        dir,
        compiler,
        &objects,
        &format!("refdoc_app-{compiler}"),
        &[],
    )
}

/// The payloads of `trace`, the source file's path replaced by `FILE`.
fn payloads(trace: &Path) -> Option<Vec<String>> {
    let file = c::sources().join("refdoc_app.c");
    Some(
        c::payloads(trace)?
            .into_iter()
            .map(|l| l.replace(&*file.to_string_lossy(), "FILE"))
            .collect(),
    )
}

fn expected(rounds: usize) -> Vec<String> {
    (0..rounds)
        .flat_map(|_| EXPECTED.iter().map(|s| s.to_string()))
        .collect()
}

#[test]
fn a_c_program_records_what_lttng_ust_records_in_standalone_mode() {
    let tmp = TempDir::new("c-standalone");
    let builds = [
        ("cc", "c", "-std=c99"),
        ("c++", "c++", "-std=c++11"),
        ("clang", "c", "-std=c11"),
        ("clang++", "c++", "-std=c++17"),
    ];
    for (compiler, lang, std) in builds {
        if !c::have_compiler(compiler) {
            continue;
        }
        let exe = build(tmp.path(), compiler, lang, std);
        let trace = tmp.path().join(format!("trace-{compiler}"));
        let status = Command::new(&exe)
            // One round: babeltrace2 2.0 prints an empty text sequence that follows a
            // non-empty one of the same field as the previous text (the recorded
            // length is 0, as in LTTng-UST's trace of the same calls).
            .arg("1")
            .env("LIBUST_TRACE_DIR", &trace)
            .status()
            .expect("run refdoc_app");
        // The exit status counts evaluations of an argument of an enabled event.
        assert_eq!(status.code(), Some(1), "{compiler}: refdoc_app");
        let Some(lines) = payloads(&trace) else {
            return;
        };
        assert_eq!(lines, expected(1), "{compiler}");
    }
}

#[test]
fn a_disabled_c_tracepoint_does_not_evaluate_its_arguments() {
    let tmp = TempDir::new("c-disabled");
    let exe = build(tmp.path(), "cc", "c", "-std=c99");
    let status = Command::new(&exe)
        .arg("3")
        .env("LIBUST_DAEMON", "0")
        .status()
        .expect("run refdoc_app");
    assert_eq!(status.code(), Some(0), "arguments evaluated while disabled");
}

#[test]
fn a_c_program_records_what_lttng_ust_records_through_the_session_daemon() {
    let u = User::new("c-daemon");
    let exe = build(u.home(), "cc", "c", "-std=c99");
    // Two sessions select the same events: each event is recorded in both channels.
    for s in ["c2", "c"] {
        u.lttng_ok(&["create", s]);
        u.lttng_ok(&[
            "enable-event",
            "-u",
            "-s",
            s,
            "refdoc:*,lttng_ust_tracef:*,lttng_ust_tracelog:*",
        ]);
        u.lttng_ok(&["start", s]);
    }
    let out = u.cmd(&exe).arg("1").output().expect("run refdoc_app");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in ["c", "c2"] {
        u.lttng_ok(&["stop", s]);
        let Some(lines) = payloads(&u.session_output(s)) else {
            return;
        };
        assert_eq!(lines, expected(1), "session {s}");
        u.lttng_ok(&["destroy", s]);
    }
}

#[test]
fn the_probes_copy_a_string_that_shrank_as_lttng_ust_does() {
    let tmp = TempDir::new("c-put-string");
    for compiler in ["cc", "clang"] {
        if !c::have_compiler(compiler) {
            continue;
        }
        let obj = c::compile(tmp.path(), compiler, "put_string_check", compiler, &[]);
        let exe = c::link(
            tmp.path(),
            compiler,
            &[obj],
            &format!("put_string_check-{compiler}"),
            &[],
        );
        let out = Command::new(&exe).output().expect("run put_string_check");
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
            ),
            (Some(0), "ok\n".to_string()),
            "{compiler}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
