//! Formats shared by every process of the tracer.
//!
//! - [`event`]: the description of an event class (provider, name, log level, typed
//!   fields) as applications declare it and as metadata generation consumes it.
//! - [`ring`]: the per-CPU ring buffer that lives in a sealed `memfd`: its versioned
//!   layout ([`ring::layout`]), the writer's lock-free reserve/commit fast path
//!   ([`ring::writer`]) and the reader that treats the shared memory as untrusted
//!   ([`ring::reader`]).
//!
//! Unsafe code lives only in [`ring::shm`] (mapping shared memory and raw access to it).
#![deny(unsafe_code)]

pub mod event;
pub mod ring;
