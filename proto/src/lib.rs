//! Formats shared by every process of the tracer.
//!
//! - [`event`]: the description of an event class (provider, name, log level, typed
//!   fields) as applications declare it and as metadata generation consumes it.
//! - [`ring`]: the per-CPU ring buffer that lives in a sealed `memfd`: its versioned
//!   layout ([`ring::layout`]), the writer's lock-free reserve/commit fast path
//!   ([`ring::writer`]) and the reader that treats the shared memory as untrusted
//!   ([`ring::reader`]).
//!
//! - [`wire`]: the messages the processes exchange over Unix sockets, and the sockets
//!   that carry them with file descriptors.
//! - [`rundir`]: where a user's session daemon keeps its sockets, and the checks that
//!   make that directory trustworthy.
//! - [`clock`]: the trace clock shared by applications and the session daemon.
//! - [`ftrace`]: the text formats tracefs describes its ring buffer with (event
//!   `format` files, `header_page`), parsed as untrusted input.
//!
//! Unsafe code lives only in [`ring::shm`] (mapping shared memory and raw access to
//! it), [`wire::socket`] (descriptors received from the kernel), [`wire::inherit`] (a
//! descriptor inherited across exec), [`clock`]
//! (`rdtsc`) and [`sched`] (`sched_setattr`).
#![deny(unsafe_code)]

pub mod clock;
pub mod event;
pub mod ftrace;
pub mod ftrace_page;
pub mod ring;
pub mod rundir;
pub mod sched;
pub mod wire;
