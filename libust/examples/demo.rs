//! A tour of libust: one tracepoint per kind of field, fired a few times.
//!
//! Run it traced in standalone mode and view the result:
//!
//! ```text
//! LIBUST_TRACE_DIR=/tmp/demo-trace cargo run -p libust --example demo -- 3
//! lttng view /tmp/demo-trace
//! ```
//!
//! The values are simple (wrapping) functions of the iteration number `i`, so that a test can
//! check every field of every event (`tests/every_field_kind_round_trips.rs`).

libust::tracepoint_enum! {
    /// What the demo is doing.
    pub enum Phase: u8 { Starting = 0, Running = 1, Stopping = 2 }
}

libust::tracepoint! {
    /// Integers of every width and sign, in several display bases.
    pub integers = demo:integers [Info] {
        u8v: u8,
        u16v: u16,
        u32v: u32,
        u64v: u64,
        i8v: i8,
        i16v: i16,
        i32v: i32,
        i64v: i64,
        flags: u32 as hex,
        mode: u16 as oct,
        mask: u8 as bin,
    }
}

libust::tracepoint! {
    /// Floating point numbers and booleans.
    pub floats = demo:floats [Debug] {
        ratio: f32,
        precise: f64,
        even: bool,
    }
}

libust::tracepoint! {
    /// A string.
    pub text = demo:text [Notice] {
        msg: &str,
    }
}

libust::tracepoint! {
    /// Dynamic-length sequences: bytes and integers.
    pub sequences = demo:sequences {
        bytes: &[u8] as hex,
        words: &[u32],
        deltas: &[i64],
    }
}

libust::tracepoint! {
    /// Fixed-length arrays.
    pub arrays = demo:arrays [Warning] {
        rgba: [u8; 4],
        coords: [i16; 3],
    }
}

libust::tracepoint! {
    /// An enumeration with labels.
    pub phase = demo:phase [Info] {
        phase: Phase,
        step: u32,
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    libust::trace!(phase, Phase::Starting, 0);
    for i in 0..n {
        libust::trace!(
            integers,
            i as u8,
            i.wrapping_mul(300) as u16,
            i.wrapping_mul(70_000) as u32,
            i.wrapping_mul(5_000_000_000),
            (i as i8).wrapping_neg(),
            (i.wrapping_mul(300) as i16).wrapping_neg(),
            (i.wrapping_mul(70_000) as i32).wrapping_neg(),
            (i.wrapping_mul(5_000_000_000) as i64).wrapping_neg(),
            0xDEAD_0000 | i as u32,
            0o755,
            0b1010_0000 | i as u8
        );
        libust::trace!(floats, i as f32 + 0.5, i as f64 / 3.0, i % 2 == 0);
        let msg = format!("hello #{i}");
        libust::trace!(text, &msg);
        let bytes: Vec<u8> = (0..i as u8).map(|b| b.wrapping_mul(17)).collect();
        let words: Vec<u32> = (0..(i as u32 % 4)).map(|w| w * 1000).collect();
        libust::trace!(sequences, &bytes, &words, &[-(i as i64), i as i64]);
        libust::trace!(arrays, [i as u8, 1, 2, 255], [-1, 0, i as i16]);
        libust::trace!(phase, Phase::Running, i as u32);
        libust::tracef!("iteration {i} of {n}");
    }
    libust::trace!(phase, Phase::Stopping, n as u32);
    println!("demo: emitted {} events", 2 + 7 * n);
}
