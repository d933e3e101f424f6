//! Writes `lttng-ust.pc` beside the built libraries (`target/<profile>/pkgconfig/`),
//! pointing at this crate's headers and at that directory, so that
//! `PKG_CONFIG_PATH=target/release/pkgconfig pkg-config --cflags --libs lttng-ust`
//! builds a program for LTTng-UST against lttng-rs.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    // OUT_DIR is target/<profile>/build/<crate>-<hash>/out.
    let Some(libdir) = out.ancestors().nth(3) else {
        return;
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let pc = format!(
        "includedir={}\nlibdir={}\n\nName: lttng-ust\nDescription: LTTng-UST 2.13's tracepoint API, recorded by lttng-rs (liblttng_ust_rs {version})\nVersion: 2.13.0\nCflags: -I${{includedir}}\nLibs: -L${{libdir}} -Wl,-rpath,${{libdir}} -llttng_ust_rs -ldl\nLibs.private: -lpthread -lm -lrt -lgcc_s\n",
        manifest.join("include").display(),
        libdir.display(),
    );
    let dir = libdir.join("pkgconfig");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("lttng-ust.pc"), pc);
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liblttng_ust_rs.so");
}
