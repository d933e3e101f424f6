//! Builds the verified example trace of `shared/reference/ctf-ftrace.md` §1.8 byte by byte,
//! and runs babeltrace2 on traces when it is installed.
#![allow(dead_code)] // each test binary uses a part of this module

use std::path::Path;
use std::process::Command;

/// The §1.8 metadata text, verbatim.
pub const METADATA: &str = include_str!("example_metadata.tsdl");

pub const TRACE_UUID: [u8; 16] = [
    0x6e, 0xcb, 0xb2, 0x90, 0x86, 0x39, 0x42, 0xc7, 0x9b, 0x46, 0x4a, 0x6d, 0xa8, 0xa0, 0x6c, 0xc1,
];
pub const PACKET_BYTES: usize = 4096;
const HEADER_BYTES: usize = 84;

/// Counters of the two packets (`events_discarded`, `packet_seq_num`).
#[derive(Clone, Copy)]
pub struct Counters {
    pub discarded: [u64; 2],
    pub seq: [u64; 2],
}

pub const CLEAN: Counters = Counters {
    discarded: [0, 0],
    seq: [0, 1],
};
pub const LOSSY: Counters = Counters {
    discarded: [0, 5],
    seq: [0, 1],
};
pub const SEQGAP: Counters = Counters {
    discarded: [0, 5],
    seq: [0, 3],
};

/// Event payload writer of one packet.
struct PacketWriter {
    events: Vec<u8>,
    last: u64,
}

impl PacketWriter {
    /// Appends an event; the header is compact when possible unless `extended` (the
    /// reference generator used the extended form for the first event of the trace).
    fn event_with(&mut self, extended: bool, id: u32, ts: u64, payload: &[u8]) {
        let e = &mut self.events;
        if !extended && id < 31 && ts - self.last < 1 << 27 {
            let word = id | (((ts & ((1 << 27) - 1)) as u32) << 5);
            e.extend_from_slice(&word.to_le_bytes());
        } else {
            e.push(0x1f);
            e.extend_from_slice(&id.to_le_bytes());
            e.extend_from_slice(&ts.to_le_bytes());
        }
        e.extend_from_slice(&4242i32.to_le_bytes());
        e.extend_from_slice(&4243i32.to_le_bytes());
        let mut procname = [0u8; 17];
        procname[..8].copy_from_slice(b"demo-app");
        e.extend_from_slice(&procname);
        e.extend_from_slice(payload);
        self.last = ts;
    }

    fn event(&mut self, id: u32, ts: u64, payload: &[u8]) {
        self.event_with(false, id, ts, payload);
    }
}

pub fn hello(msg: &str, value: i64, ratio: f64) -> Vec<u8> {
    let mut p = msg.as_bytes().to_vec();
    p.push(0);
    p.extend_from_slice(&value.to_le_bytes());
    p.extend_from_slice(&ratio.to_le_bytes());
    p
}

pub fn buffer(data: &[u8], state: u8) -> Vec<u8> {
    let mut p = (data.len() as u32).to_le_bytes().to_vec();
    p.extend_from_slice(data);
    p.push(state);
    p
}

fn packet(begin: u64, end: u64, seq: u64, discarded: u64, w: PacketWriter) -> Vec<u8> {
    let mut p = Vec::with_capacity(PACKET_BYTES);
    p.extend_from_slice(&0xC1FC1FC1u32.to_le_bytes());
    p.extend_from_slice(&TRACE_UUID);
    p.extend_from_slice(&0u32.to_le_bytes()); // stream_id
    p.extend_from_slice(&0u64.to_le_bytes()); // stream_instance_id
    p.extend_from_slice(&begin.to_le_bytes());
    p.extend_from_slice(&end.to_le_bytes());
    let content_bits = ((HEADER_BYTES + w.events.len()) * 8) as u64;
    p.extend_from_slice(&content_bits.to_le_bytes());
    p.extend_from_slice(&((PACKET_BYTES * 8) as u64).to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&discarded.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes()); // cpu_id
    assert_eq!(p.len(), HEADER_BYTES);
    p.extend_from_slice(&w.events);
    p.resize(PACKET_BYTES, 0);
    p
}

/// The stream file `channel0_0` of §1.8: two 4096-byte packets, 7 events.
pub fn example_stream(c: Counters) -> Vec<u8> {
    let tb0 = 428_774_068_954u64;
    let mut w = PacketWriter {
        events: Vec::new(),
        last: tb0,
    };
    w.event_with(
        true,
        0,
        tb0 + 1000,
        &hello("first event (extended header)", -7, 0.5),
    );
    w.event(1, tb0 + 2000, &buffer(&[1, 2, 0xff], 1));
    w.event(
        0,
        428_825_640_965,
        &hello("after 27-bit wrap", 123_456_789, 3.25),
    );
    w.event(
        0,
        429_025_640_965,
        &hello("after 200 ms gap (extended)", 1, -1.0),
    );
    w.event(40, 429_025_640_975, &99u64.to_le_bytes());
    let mut out = packet(tb0, 429_025_640_975, c.seq[0], c.discarded[0], w);
    let tb1 = 429_025_640_985u64;
    let mut w = PacketWriter {
        events: Vec::new(),
        last: tb1,
    };
    w.event(1, 429_025_640_990, &buffer(&[], 2));
    w.event(0, 429_025_641_035, &hello("second packet", 2, 2.0));
    out.extend(packet(tb1, 429_025_641_045, c.seq[1], c.discarded[1], w));
    out
}

/// Wraps metadata text into 4096-byte metadata packets (magic 0x75D11D57).
pub fn packetize(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4096 - 37) {
        let mut p = Vec::with_capacity(4096);
        p.extend_from_slice(&0x75D11D57u32.to_le_bytes());
        p.extend_from_slice(&TRACE_UUID);
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&(((37 + chunk.len()) * 8) as u32).to_le_bytes());
        p.extend_from_slice(&((4096 * 8) as u32).to_le_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 8]);
        p.extend_from_slice(chunk);
        p.resize(4096, 0);
        out.extend(p);
    }
    out
}

/// Writes `metadata` and the stream files into `dir` (created).
pub fn write_trace(dir: &Path, metadata: &[u8], streams: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("metadata"), metadata).unwrap();
    for (name, bytes) in streams {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ctf-reader-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `babeltrace2 ARGS` with TZ=UTC and returns (stdout, stderr, success). `None` when
/// babeltrace2 is not installed, which fails the test under CI (`CI=true`).
pub fn babeltrace2(args: &[&str]) -> Option<(String, String, bool)> {
    match Command::new("babeltrace2")
        .args(args)
        .env("TZ", "UTC")
        .output()
    {
        Ok(out) => Some((
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.success(),
        )),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "babeltrace2 is required under CI but cannot run: {e}"
            );
            eprintln!("notice: babeltrace2 not available ({e}); skipping the comparison");
            None
        }
    }
}
