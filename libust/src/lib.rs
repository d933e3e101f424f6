//! Userspace tracepoints for Rust programs, recorded into CTF traces.
//!
//! Declare tracepoints with [`tracepoint!`] (a `provider:name`, an optional log level,
//! typed fields), fire them with [`trace!`], or use [`tracef!`] for printf-style
//! messages. Tracepoints register themselves at link time; nothing is called from
//! `main`. A disabled tracepoint costs one relaxed load and a branch, and its arguments
//! are not evaluated.
//!
//! ```
//! libust::tracepoint_enum! {
//!     /// State of a connection.
//!     pub enum ConnState: u8 { Idle = 0, Busy = 1 }
//! }
//!
//! libust::tracepoint! {
//!     /// A request was served.
//!     pub request_done = myapp:request_done [Info] {
//!         id: u64,
//!         status: u16 as hex,
//!         path: &str,
//!         state: ConnState,
//!     }
//! }
//!
//! fn serve(id: u64) {
//!     libust::trace!(request_done, id, 0x200, "/index.html", ConnState::Busy);
//!     libust::tracef!("served request {id}");
//! }
//! # fn main() { serve(1); }
//! ```
//!
//! Recording starts when the program runs with `LIBUST_TRACE_DIR=<dir>` (standalone
//! mode, see [`standalone`]); without it every tracepoint stays disabled.
//!
//! Exports: the macros, [`Tracepoint`] and the registry [`registered`],
//! [`FieldKind`] (the supported field types), [`LogLevel`] and [`Base`].
#![deny(unsafe_code)]

pub use proto::clock;
pub mod daemon;
mod fastpath;
pub mod field;
pub mod standalone;
mod sys;
pub mod tracepoint;

pub use fastpath::{begin_slot, next_slot, record, Slot};
pub use field::{FieldKind, FieldTypeStatic, Integer};
pub use proto::event::{Base, LogLevel};
pub use proto::ring::shm::RecordWriter;
pub use tracepoint::{
    on_enabled_change, register_dynamic, registered, EventDescStatic, FieldDescStatic,
    RegisterError, Tracepoint, TRACEPOINTS,
};

/// Flushes and writes out everything recorded so far (standalone mode). Also runs
/// automatically at exit; call it before `std::process::abort` or `_exit`.
pub fn flush_and_finish() {
    standalone::finish();
}

/// Starts tracing as the environment says (standalone or daemon mode). Runs before
/// `main` in Rust programs; the C library calls it too, in case the linker left this
/// crate's constructor out of a static archive. Only the first call does anything.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A setuid/setgid program (or one with file capabilities) runs with privileges
        // its user does not have: it must neither follow the user's environment nor
        // take orders and shared memory from the user's session daemon. It stays
        // untraced.
        if sys::is_privileged_exec() {
            return;
        }
        if std::env::var_os("LIBUST_TRACE_DIR").is_some() {
            standalone::init_from_env();
        } else {
            daemon::init_from_env();
        }
    });
}

#[ctor::ctor]
fn libust_init() {
    init();
}

#[doc(hidden)]
pub mod __private {
    pub use crate::fastpath::record;
    pub use linkme;
    pub use proto::ring::shm::RecordWriter;

    use crate::{Base, LogLevel};

    /// Log level of a declaration: the given one, or LTTng's default (DEBUG_LINE).
    pub const fn level(given: &[LogLevel]) -> LogLevel {
        if given.is_empty() {
            LogLevel::DebugLine
        } else {
            given[0]
        }
    }

    /// Display bases accepted after `as` in a field declaration.
    #[allow(non_upper_case_globals)]
    pub mod base {
        use super::Base;
        pub const dec: Base = Base::Dec;
        pub const hex: Base = Base::Hex;
        pub const oct: Base = Base::Oct;
        pub const bin: Base = Base::Bin;
    }
}

/// Declares a tracepoint as a module holding its description and its `emit` function.
///
/// ```text
/// tracepoint! {
///     /// docs
///     pub NAME = provider:event [LEVEL] {
///         field: Type,            // u8..u64, i8..i64, bool, f32, f64, &str,
///         field: Type as hex,     // &[u8], &[u32], [u16; 4], enums ...
///     }
/// }
/// ```
///
/// `LEVEL` is one of [`LogLevel`]'s variants (default `DebugLine`).
#[macro_export]
macro_rules! tracepoint {
    (
        $(#[$meta:meta])*
        $vis:vis $module:ident = $provider:ident : $event:ident $([$level:ident])? {
            $($field:ident : $ty:ty $(as $base:ident)?),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[allow(non_snake_case, dead_code)]
        $vis mod $module {
            #[allow(unused_imports)]
            use super::*;

            static FIELDS: &[$crate::FieldDescStatic] = &[$(
                $crate::FieldDescStatic {
                    name: ::core::stringify!($field),
                    ty: <$ty as $crate::FieldKind>::TYPE
                        $(.with_base($crate::__private::base::$base))?,
                },
            )*];

            static DESC: $crate::EventDescStatic = $crate::EventDescStatic {
                provider: ::core::stringify!($provider),
                name: ::core::stringify!($event),
                loglevel: $crate::__private::level(&[$($crate::LogLevel::$level)?]),
                fields: FIELDS,
            };

            /// The tracepoint.
            pub static TP: $crate::Tracepoint = $crate::Tracepoint::new(&DESC);

            // A link-section static (see `TRACEPOINTS`): no unsafe operation.
            #[allow(unsafe_code)]
            #[$crate::__private::linkme::distributed_slice($crate::TRACEPOINTS)]
            #[linkme(crate = $crate::__private::linkme)]
            static REGISTER: &$crate::Tracepoint = &TP;

            /// Records one event (call through `trace!`, which checks the flag first).
            ///
            /// Never inlined into the caller: the call site of a disabled tracepoint
            /// stays a load, a branch and a call, and the recording code does not
            /// take registers from the caller's loop.
            #[inline(never)]
            #[allow(clippy::too_many_arguments)]
            pub fn emit($($field: $ty),*) {
                $(let $field = $crate::FieldKind::recorded($field);)*
                let len = 0 $(+ $crate::FieldKind::size(&$field))*;
                $crate::__private::record(&TP, len, |w: &mut $crate::__private::RecordWriter<'_>| {
                    $($crate::FieldKind::write(&$field, w);)*
                    let _ = w;
                });
            }
        }
    };
}

/// Fires a tracepoint: `trace!(module, arg, ...)`, arguments in field order. When the
/// tracepoint is disabled this is one relaxed load and a branch; the arguments are not
/// evaluated.
#[macro_export]
macro_rules! trace {
    ($($tp:ident)::+ $(, $arg:expr)* $(,)?) => {
        if $($tp)::+::TP.is_enabled() {
            $($tp)::+::emit($($arg),*);
        }
    };
}

/// Records a formatted message as the event `lttng_ust_tracef:event` (fields
/// `_msg_length` and `msg`, as LTTng-UST's `tracef()` records them). Formats only when
/// the event is enabled.
#[macro_export]
macro_rules! tracef {
    ($($fmt:tt)*) => {
        if $crate::lttng_ust_tracef::TP.is_enabled() {
            $crate::lttng_ust_tracef::emit($crate::field::Text(
                ::std::format!($($fmt)*).as_bytes(),
            ));
        }
    };
}

tracepoint! {
    /// The event [`tracef!`] (and C's `lttng_ust_tracef()`) records.
    pub lttng_ust_tracef = lttng_ust_tracef:event [Debug] {
        msg: crate::field::Text<'_>,
    }
}

/// Declares a `#[repr(int)]` enumeration usable as a tracepoint field; its labels go
/// into the trace metadata.
#[macro_export]
macro_rules! tracepoint_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ident { $($variant:ident = $value:expr),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr($repr)]
        $vis enum $name { $($variant = $value),+ }

        impl $crate::FieldKind for $name {
            const TYPE: $crate::FieldTypeStatic = $crate::field::enum_type::<$repr>(&[
                $((::core::stringify!($variant), $value as i64)),+
            ]);
            $crate::__records_itself!();
            #[inline(always)]
            fn size(&self) -> usize {
                <$repr as $crate::Integer>::SIZE
            }
            #[inline(always)]
            fn write(&self, w: &mut $crate::__private::RecordWriter<'_>) {
                $crate::Integer::put(*self as $repr, w);
            }
        }
    };
}
