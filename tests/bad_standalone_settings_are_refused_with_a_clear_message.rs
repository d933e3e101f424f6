//! A bad `LIBUST_*` setting in standalone mode turns tracing off with a message that
//! names the setting; the program itself runs on as if it were not traced.

mod support;

use support::*;

#[test]
fn each_bad_setting_is_named_and_the_program_runs_on() {
    for (var, value, says) in [
        (
            "LIBUST_BLOCKING_TIMEOUT_US",
            "200000",
            "LIBUST_BLOCKING_TIMEOUT_US must be at most 100000, not 200000",
        ),
        (
            "LIBUST_BLOCKING_TIMEOUT_US",
            "soon",
            "LIBUST_BLOCKING_TIMEOUT_US must be a number, not 'soon'",
        ),
        ("LIBUST_SUBBUF_SIZE", "3000", "sub-buffer size 3000"),
    ] {
        let dir = TempDir::new("badenv");
        let out = traced(env!("CARGO_BIN_EXE_demo"), dir.path())
            .env(var, value)
            .output()
            .expect("run demo");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{var}={value}: {:?}", out.status);
        assert!(
            err.contains("libust: standalone tracing disabled") && err.contains(says),
            "{var}={value}: {err}"
        );
        assert!(
            !dir.path().join("ust").exists(),
            "{var}={value}: a trace was written anyway"
        );
    }
}
