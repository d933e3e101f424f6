//! CTF 1.8 for the tracer: the TSDL metadata we write and a reader for traces.
//!
//! - [`metadata`]: generates the TSDL text of a trace (UST domain) from event descriptions.
//! - [`kernel`]: kernel event classes with LTTng-modules names, built from ftrace
//!   formats, and the encoder of ftrace records into them ([`syscalls`]: the system
//!   calls' events as LTTng-modules 2.13 declares them).
//! - [`reader`]: parses TSDL metadata and decodes stream packets, treating every byte as
//!   untrusted; used by `lttng view`, the tests and the fuzz targets.
#![deny(unsafe_code)]

pub mod kernel;
pub mod metadata;
pub mod reader;
pub mod syscalls;
