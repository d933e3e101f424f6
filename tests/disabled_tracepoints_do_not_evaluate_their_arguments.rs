//! A disabled tracepoint does not evaluate its arguments (and records nothing).

libust::tracepoint! {
    /// Never enabled in this test process.
    pub never = test:never {
        v: u64,
    }
}

#[test]
fn disabled_tracepoints_do_not_evaluate_their_arguments() {
    // This test binary runs without LIBUST_TRACE_DIR: nothing is enabled.
    assert!(
        std::env::var_os("LIBUST_TRACE_DIR").is_none(),
        "run the tests without LIBUST_TRACE_DIR"
    );
    let mut evaluated = false;
    libust::trace!(never, {
        evaluated = true;
        1
    });
    libust::tracef!("{}", {
        evaluated = true;
        2
    });
    assert!(!evaluated);
    assert!(!never::TP.is_enabled());
    assert!(
        libust::registered()
            .iter()
            .any(|tp| tp.full_name() == "test:never"),
        "registered at link time"
    );
}
