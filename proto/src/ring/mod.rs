//! The per-CPU ring buffer shared between a traced application and a consumer.
//!
//! One buffer is one sealed `memfd`: a control page followed by `N` sub-buffers of `S`
//! bytes ([`layout`]). Each sub-buffer holds exactly one CTF packet. Writers
//! ([`writer`]) reserve space with one compare-and-swap on the write position and
//! commit with one atomic add on the sub-buffer's commit counter; the writer that
//! completes a sub-buffer wakes the consumer. The reader ([`reader`]) copies a complete
//! packet out of shared memory, checks it, and only then hands it on.

pub mod layout;
pub mod reader;
pub mod shm;
pub mod stream_file;
pub mod writer;

pub use layout::{BufferConfig, ConfigError, Mode};
