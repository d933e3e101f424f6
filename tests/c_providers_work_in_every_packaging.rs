//! A C provider is traced however it is packaged, as lttng-ust(3) describes the
//! cases: compiled into the program, in a static library, in a shared library the
//! program links, and in a shared library loaded with `dlopen` or `LD_PRELOAD` by a
//! program that does not link the tracer at all. Also: a program that loads its
//! provider after `lttng start` is traced from then on, through the session daemon.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::c;
use support::user::User;
use support::TempDir;

fn hits(where_: &str) -> Vec<String> {
    (0..3)
        .map(|n| format!("pkg:hit: {{ n = {n}, where = \"{where_}\" }}"))
        .collect()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Links `objects` (and `extra` flags) into `dir/name`.
fn link(dir: &Path, name: &str, objects: &[PathBuf], extra: &[String]) -> PathBuf {
    let exe = dir.join(name);
    let mut args: Vec<String> = objects.iter().map(|o| s(o)).collect();
    args.extend(["-o".into(), s(&exe)]);
    args.extend_from_slice(extra);
    c::run(
        dir,
        "cc",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    exe
}

/// The provider as a shared library linked with liblttng_ust_rs.
fn provider_so(dir: &Path) -> PathBuf {
    let probes = c::compile(dir, "cc", "pkg_probes", "pkg_probes", &[]);
    let mut flags = vec!["-shared".to_string(), "-Wl,--no-as-needed".to_string()];
    flags.extend(c::lib_flags());
    link(dir, "libpkg.so", &[probes], &flags)
}

fn run(exe: &Path, args: &[&str], trace: &Path, env: &[(&str, String)]) -> Output {
    let out = Command::new(exe)
        .args(args)
        .env("LIBUST_TRACE_DIR", trace)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run pkg_app");
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_provider_in_the_program_or_a_static_library_is_traced() {
    let tmp = TempDir::new("c-pkg-static");
    let d = tmp.path();
    let app = c::compile(d, "cc", "pkg_app", "pkg_app", &[]);
    let define = c::compile(d, "cc", "pkg_define", "pkg_define", &[]);
    let probes = c::compile(d, "cc", "pkg_probes", "pkg_probes", &[]);

    let exe = link(
        d,
        "in_exe",
        &[app.clone(), define.clone(), probes.clone()],
        &c::lib_flags(),
    );
    run(&exe, &["exe"], &d.join("t-exe"), &[]);

    // The archive holds both halves; the program's call sites pull them in.
    c::run(d, "ar", &["rcs", "libpkg.a", &s(&probes), &s(&define)]);
    let mut flags = vec![format!("-L{}", d.display()), "-lpkg".into()];
    flags.extend(c::lib_flags());
    let exe = link(d, "in_archive", &[app], &flags);
    run(&exe, &["archive"], &d.join("t-archive"), &[]);

    if let Some(lines) = c::payloads(&d.join("t-exe")) {
        assert_eq!(lines, hits("exe"));
        assert_eq!(c::payloads(&d.join("t-archive")).unwrap(), hits("archive"));
    }
}

#[test]
fn a_provider_in_a_linked_shared_library_is_traced() {
    let tmp = TempDir::new("c-pkg-shared");
    let d = tmp.path();
    let so = provider_so(d);
    let app = c::compile(d, "cc", "pkg_app", "pkg_app", &[]);
    let define = c::compile(d, "cc", "pkg_define", "pkg_define", &[]);
    // The program links the provider only, not the tracer.
    let flags = vec![
        format!("-L{}", d.display()),
        format!("-Wl,-rpath,{}", d.display()),
        "-lpkg".into(),
    ];
    let exe = link(d, "linked", &[app, define], &flags);
    assert!(so.exists());
    run(&exe, &["linked"], &d.join("t"), &[]);
    if let Some(lines) = c::payloads(&d.join("t")) {
        assert_eq!(lines, hits("linked"));
    }
}

#[test]
fn a_provider_loaded_with_dlopen_or_ld_preload_is_traced() {
    let tmp = TempDir::new("c-pkg-dlopen");
    let d = tmp.path();
    let so = provider_so(d);
    let app = c::compile(d, "cc", "pkg_app", "pkg_app", &[]);
    let define = c::compile(
        d,
        "cc",
        "pkg_define",
        "pkg_define_dyn",
        &["-DLTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE"],
    );
    // Linked with neither the provider nor the tracer; the call sites' module finds
    // the tracer at run time (the system's library path, here LD_LIBRARY_PATH).
    let exe = link(d, "dyn", &[app, define], &["-ldl".into()]);
    let ldd = Command::new("readelf")
        .args(["-d", &s(&exe)])
        .output()
        .expect("readelf");
    let needed = String::from_utf8_lossy(&ldd.stdout);
    assert!(
        !needed.contains("lttng"),
        "the program needs no tracer library:\n{needed}"
    );
    let libpath = [("LD_LIBRARY_PATH", s(&c::lib_dir()))];

    let out = run(&exe, &["dlopen", &s(&so)], &d.join("t-dlopen"), &libpath);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "enabled after dlopen: 1\n"
    );
    let mut preload = libpath.to_vec();
    preload.push(("LD_PRELOAD", s(&so)));
    run(&exe, &["preload"], &d.join("t-preload"), &preload);
    // Without the provider the program runs, and records nothing.
    run(&exe, &["none"], &d.join("t-none"), &libpath);

    if let Some(lines) = c::payloads(&d.join("t-dlopen")) {
        assert_eq!(lines, hits("dlopen"));
        assert_eq!(c::payloads(&d.join("t-preload")).unwrap(), hits("preload"));
        let none = d.join("t-none");
        assert!(
            !none.exists() || c::payloads(&none).unwrap_or_default().is_empty(),
            "events without a provider"
        );
    }
}

#[test]
fn a_provider_loaded_after_lttng_start_is_traced_from_then_on() {
    let u = User::new("c-pkg-late");
    let d = u.home();
    let so = provider_so(d);
    let app = c::compile(d, "cc", "pkg_app", "pkg_app", &[]);
    let define = c::compile(
        d,
        "cc",
        "pkg_define",
        "pkg_define_dyn",
        &["-DLTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE"],
    );
    let mut flags = vec!["-ldl".to_string()];
    flags.push(format!("-Wl,-rpath,{}", c::lib_dir().display()));
    let exe = link(d, "late", &[app, define], &flags);
    for p in [&exe, &so] {
        std::os::unix::fs::chown(p, u.uid, u.uid).expect("chown");
    }
    u.lttng_ok(&["create", "late"]);
    u.lttng_ok(&["enable-event", "-u", "pkg:*"]);
    u.lttng_ok(&["start"]);
    // The program registers with the daemon at start, then loads its provider 300 ms
    // later: its tracepoints reach the daemon as a late registration.
    let out = u
        .cmd(&exe)
        .args(["late", &s(&so), "300"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "enabled after dlopen: 1\n"
    );
    u.lttng_ok(&["stop"]);
    if let Some(lines) = c::payloads(&u.session_output("late")) {
        assert_eq!(lines, hits("late"));
    }
    u.lttng_ok(&["destroy"]);
}
