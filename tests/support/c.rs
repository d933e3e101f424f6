//! Building the C programs of `tests/c/` against our headers and liblttng_ust_rs, and
//! reading their traces back as babeltrace2 prints their payloads.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::user::bin_dir;

/// `tests/c/`.
pub fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// Our headers, `libust-c/include/`.
pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../libust-c/include")
}

/// The directory of liblttng_ust_rs.so (the workspace's target directory).
pub fn lib_dir() -> PathBuf {
    let lib = bin_dir();
    assert!(
        lib.join("liblttng_ust_rs.so").exists(),
        "liblttng_ust_rs.so is not built in {}: cargo build -p libust-c",
        lib.display()
    );
    lib
}

/// Runs a compiler or linker command in `dir`; panics with its output on failure.
pub fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `tests/c/NAME.c` (or an absolute path) to `dir/OUT.o` with every warning
/// an error, with `extra` flags.
pub fn compile(dir: &Path, compiler: &str, src: &str, out: &str, extra: &[&str]) -> PathBuf {
    let src = if Path::new(src).is_absolute() {
        PathBuf::from(src)
    } else {
        sources().join(format!("{src}.c"))
    };
    let obj = dir.join(format!("{out}.o"));
    let (inc, srcs) = (
        format!("-I{}", include_dir().display()),
        format!("-I{}", sources().display()),
    );
    let mut args: Vec<&str> = vec![
        "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-c", &inc, &srcs,
    ];
    args.extend_from_slice(extra);
    let (s, o) = (
        src.to_string_lossy().into_owned(),
        obj.to_string_lossy().into_owned(),
    );
    args.extend_from_slice(&[&s, "-o", &o]);
    run(dir, compiler, &args);
    obj
}

/// Links `objects` with `extra` flags and liblttng_ust_rs into `dir/EXE`.
pub fn link(dir: &Path, compiler: &str, objects: &[PathBuf], exe: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(exe);
    let mut args: Vec<String> = objects.iter().map(|o| o.display().to_string()).collect();
    args.extend(["-o".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(lib_flags());
    run(
        dir,
        compiler,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    out
}

/// The flags that link liblttng_ust_rs (and find it at run time).
pub fn lib_flags() -> Vec<String> {
    let lib = lib_dir();
    vec![
        format!("-L{}", lib.display()),
        format!("-Wl,-rpath,{}", lib.display()),
        "-llttng_ust_rs".into(),
        "-ldl".into(),
    ]
}

/// babeltrace2's lines for `trace` as `NAME: { payload }` (timestamp, host and packet
/// context cut); `None` when babeltrace2 is missing outside CI.
pub fn payloads(trace: &Path) -> Option<Vec<String>> {
    let out = super::babeltrace2(&[trace.as_os_str()])?;
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "babeltrace2 {}: {}",
        trace.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                // "[time] (+delta) host NAME: { cpu_id = N }, [{ context }, ]{ payload }"
                let rest = l.splitn(4, ' ').nth(3).unwrap_or("");
                let (name, tail) = rest.split_once(": { cpu_id = ").unwrap_or((rest, ""));
                let payload = tail.split_once("}, ").map_or("", |(_, p)| p);
                format!("{name}: {payload}")
            })
            .collect(),
    )
}

/// Whether `compiler` is installed; under `CI=true` it must be (`.ci/run` installs
/// gcc and clang), elsewhere a missing one is reported and skipped.
pub fn have_compiler(compiler: &str) -> bool {
    let found = Command::new(compiler)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{compiler} is required under CI=true (apt-get install clang)");
        }
        eprintln!("NOTICE: {compiler} is not installed; skipping its build");
    }
    found
}
