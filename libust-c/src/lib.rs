//! liblttng_ust_rs: LTTng-UST 2.13's C tracepoint API, recorded by libust.
//!
//! Programs include the headers in `include/lttng/` (`<lttng/tracepoint.h>`,
//! `<lttng/tracepoint-event.h>`, `<lttng/tracef.h>`, `<lttng/tracelog.h>`), which
//! generate code against the small C ABI declared in `<lttng/ust-rs.h>` and
//! implemented in [`abi`]: provider registration (descriptions checked and turned
//! into [`proto::event::EventDesc`]s by [`desc`]), call-site registration (each call
//! site's `state` word follows its tracepoint's enabled flag), and reserve/commit
//! around a payload the generated probe writes in place.
#![deny(unsafe_code)]

pub mod abi;
pub mod desc;

/// The C library's start-up: libust's own (which a static archive may leave out),
/// then the tracef and tracelog events.
#[ctor::ctor]
fn init() {
    libust::init();
    abi::init_builtin_events();
}
