//! A C program with 45 providers: 40 ordinary ones, one whose enumeration labels and
//! model URI try to break out of their TSDL strings, and five that break a limit (129
//! fields, a 130-character provider name, a 300-byte label, a label and a URI with a
//! newline). Each bad provider is refused at registration with a message that names
//! it and the limit; the program runs to its end; every event of the others is in the
//! trace, which babeltrace2 reads with no complaint, with the hostile strings shown as
//! the text they are and no event class beyond those declared. In standalone mode
//! and through the session daemon.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::c;
use support::user::User;
use support::TempDir;

const MANY: usize = 40;
const LONG_NAME_LEN: usize = 130;

/// The label and URI that try to close their string and declare an event.
const EVIL_LABEL: &str =
    r#"x" = 1 ; } ; event { name = "evil"; id = 9; fields := struct { } ; } ; enum e { "y"#;
const EVIL_URI: &str = r#"u"; name = "evil"; model.emf.uri = "v\"#;

fn long_name() -> String {
    format!("p{}", "x".repeat(LONG_NAME_LEN - 1))
}

/// A C string literal holding `s`.
fn c_literal(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One provider header, `PROVIDER_tp.h`, declaring `body`.
fn header(dir: &Path, provider: &str, body: &str) {
    let guard = format!("TP_{}_H", provider.to_uppercase());
    let text = format!(
        "#undef LTTNG_UST_TRACEPOINT_PROVIDER\n\
         #define LTTNG_UST_TRACEPOINT_PROVIDER {provider}\n\
         #undef LTTNG_UST_TRACEPOINT_INCLUDE\n\
         #define LTTNG_UST_TRACEPOINT_INCLUDE \"./{provider}_tp.h\"\n\
         #if !defined({guard}) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)\n\
         #define {guard}\n\
         #include <lttng/tracepoint.h>\n\
         {body}\n\
         #endif\n\
         #include <lttng/tracepoint-event.h>\n"
    );
    std::fs::write(dir.join(format!("{provider}_tp.h")), text).expect("write header");
    let probes =
        format!("#define LTTNG_UST_TRACEPOINT_CREATE_PROBES\n#include \"{provider}_tp.h\"\n");
    std::fs::write(dir.join(format!("{provider}_tp.c")), probes).expect("write probes");
}

/// An event `PROVIDER:ev` with one int argument `v` and `fields`.
fn event(provider: &str, fields: &str) -> String {
    format!(
        "LTTNG_UST_TRACEPOINT_EVENT({provider}, ev, LTTNG_UST_TP_ARGS(int, v), \
         LTTNG_UST_TP_FIELDS({fields}))"
    )
}

/// An enumeration `PROVIDER:e` with `label` for 1, and an event recording it.
fn enum_event(provider: &str, label: &str, uri: Option<&str>) -> String {
    let mut s = format!(
        "LTTNG_UST_TRACEPOINT_ENUM({provider}, e, LTTNG_UST_TP_ENUM_VALUES(\
         lttng_ust_field_enum_value(\"zero\", 0) lttng_ust_field_enum_value({}, 1)))\n",
        c_literal(label)
    );
    s += &event(
        provider,
        &format!("lttng_ust_field_enum({provider}, e, int, e, v)"),
    );
    if let Some(uri) = uri {
        write!(
            s,
            "\nLTTNG_UST_TRACEPOINT_MODEL_EMF_URI({provider}, ev, {})",
            c_literal(uri)
        )
        .unwrap();
    }
    s
}

/// The providers: (name, declarations, refused with a message holding this).
fn providers() -> Vec<(String, String, Option<&'static str>)> {
    let mut v = Vec::new();
    for i in 0..MANY {
        let p = format!("many{i}");
        let body = event(&p, "lttng_ust_field_integer(int, v, v)");
        v.push((p, body, None));
    }
    v.push((
        "inject".into(),
        enum_event("inject", EVIL_LABEL, Some(EVIL_URI)),
        None,
    ));
    let fields: String = (0..129)
        .map(|i| format!("lttng_ust_field_integer(int, f{i}, v) "))
        .collect();
    v.push((
        "toomany".into(),
        event("toomany", &fields),
        Some("has too many fields (at most 128)"),
    ));
    let long = long_name();
    let body = event(&long, "lttng_ust_field_integer(int, v, v)");
    v.push((
        long,
        body,
        Some("is not a valid identifier: use 1 to 127 characters"),
    ));
    v.push((
        "biglabel".into(),
        enum_event("biglabel", &"L".repeat(300), None),
        Some("enumeration labels are 1 to 255 bytes of text"),
    ));
    v.push((
        "nllabel".into(),
        enum_event("nllabel", "two\nlines", None),
        Some("enumeration labels are 1 to 255 bytes of text without control characters"),
    ));
    v.push((
        "nluri".into(),
        enum_event("nluri", "one", Some("http://x/\nevent { }")),
        Some("model.emf.uri must be 1 to 1024 bytes of text"),
    ));
    v
}

/// Writes and builds the program; it fires every provider's event once with v = 1.
fn build(dir: &Path) -> PathBuf {
    let providers = providers();
    let mut main = String::from("#define LTTNG_UST_TRACEPOINT_DEFINE\n");
    for (p, body, _) in &providers {
        header(dir, p, body);
        writeln!(main, "#include \"{p}_tp.h\"").unwrap();
    }
    main += "int main(void)\n{\n";
    for (p, _, _) in &providers {
        writeln!(main, "\tlttng_ust_tracepoint({p}, ev, 1);").unwrap();
    }
    main += "\treturn 0;\n}\n";
    std::fs::write(dir.join("main.c"), main).expect("write main.c");

    let inc = format!("-I{}", dir.display());
    let mut objects = Vec::new();
    let sources = providers
        .iter()
        .map(|(p, _, _)| format!("{p}_tp"))
        .chain(std::iter::once("main".to_string()));
    for src in sources {
        let path = dir.join(format!("{src}.c"));
        objects.push(c::compile(
            dir,
            "cc",
            &path.to_string_lossy(),
            &src,
            &[&inc],
        ));
    }
    c::link(dir, "cc", &objects, "providers", &[])
}

/// Checks the program's stderr: one refusal per bad provider, naming it and its limit.
fn check_refusals(stderr: &str) {
    for (p, _, refused) in providers() {
        let named = format!("provider '{p}' refused");
        match refused {
            Some(why) => {
                let line = stderr
                    .lines()
                    .find(|l| l.contains(&named))
                    .unwrap_or_else(|| panic!("no refusal of {p} in:\n{stderr}"));
                assert!(line.contains(why), "{p}: {line}");
                assert!(line.contains("the program goes on"), "{line}");
            }
            None => assert!(!stderr.contains(&named), "{p} refused:\n{stderr}"),
        }
    }
}

/// The trace holds one event of every accepted provider, the hostile label printed as
/// itself, and declares no event class but theirs.
fn check_trace(trace: &Path) {
    let Some(lines) = c::payloads(trace) else {
        return;
    };
    let mut expected: Vec<String> = (0..MANY)
        .map(|i| format!("many{i}:ev: {{ v = 1 }}"))
        .collect();
    let shown = EVIL_LABEL.replace('\\', "\\\\").replace('"', "\\\"");
    expected.push(format!(
        "inject:ev: {{ e = ( \"{shown}\" : container = 1 ) }}"
    ));
    assert_eq!(lines, expected);

    let all = support::babeltrace2(&["--fields=all".as_ref(), trace.as_os_str()]).unwrap();
    let all = String::from_utf8_lossy(&all.stdout);
    let inject = all
        .lines()
        .find(|l| l.contains("inject:ev"))
        .expect("inject line");
    assert!(
        inject.contains(EVIL_URI),
        "the URI is shown as itself: {inject}"
    );

    let details = support::babeltrace2(&[
        trace.as_os_str(),
        "-c".as_ref(),
        "sink.text.details".as_ref(),
    ])
    .unwrap();
    assert!(details.status.success() && details.stderr.is_empty());
    let classes: BTreeSet<String> = String::from_utf8_lossy(&details.stdout)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Event class `"))
        .filter_map(|l| l.split('`').next().map(str::to_string))
        .collect();
    assert!(!classes.iter().any(|c| c.contains("evil")), "{classes:?}");
    for (p, _, refused) in providers() {
        let declared = classes.contains(&format!("{p}:ev"));
        assert_eq!(declared, refused.is_none(), "{p}:ev declared: {declared}");
    }
}

#[test]
fn bad_providers_are_refused_and_the_others_are_traced_in_standalone_mode() {
    let tmp = TempDir::new("c-bad-standalone");
    let exe = build(tmp.path());
    let trace = tmp.path().join("trace");
    let out = Command::new(&exe)
        .env("LIBUST_TRACE_DIR", &trace)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    check_refusals(&stderr);
    check_trace(&trace);
}

#[test]
fn bad_providers_are_refused_and_the_others_are_traced_through_the_session_daemon() {
    let u = User::new("c-bad-daemon");
    let exe = build(u.home());
    u.lttng_ok(&["create", "bad"]);
    u.lttng_ok(&["enable-event", "-u", "-a"]);
    u.lttng_ok(&["start"]);
    let out = u.cmd(&exe).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    check_refusals(&stderr);
    u.lttng_ok(&["stop"]);
    check_trace(&u.session_output("bad"));
    u.lttng_ok(&["destroy"]);
}
