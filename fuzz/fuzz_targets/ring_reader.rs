//! The ring-buffer reader against a writer that controls every byte of the shared
//! memory: the input is written over the control page and the data area, then the
//! reader drains; it must never panic, hang or hand on an unchecked packet.
#![no_main]

use std::os::fd::AsFd;

use proto::ring::layout::StreamIdentity;
use proto::ring::reader::{Next, RingReader};
use proto::ring::shm::Mapping;
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

const ID: StreamIdentity = StreamIdentity {
    uuid: [1; 16],
    stream_id: 0,
    stream_instance_id: 0,
    cpu_id: 0,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mode = if data.first().is_some_and(|b| b & 1 == 1) {
        Mode::Overwrite
    } else {
        Mode::Discard
    };
    let cfg = BufferConfig {
        subbuf_size: 4096,
        num_subbuf: 2,
        mode,
    };
    let Ok((_w, fd)) = RingWriter::create(c"fuzz", cfg, ID, None) else {
        return;
    };
    let Ok(mut reader) = RingReader::open(fd.as_fd(), cfg, ID) else {
        return;
    };
    let Ok(evil) = Mapping::map(fd.as_fd(), cfg.shm_size()) else {
        return;
    };
    let n = data.len().min(cfg.shm_size());
    evil.write_bytes(0, &data[..n]);
    let mut buf = Vec::new();
    for _ in 0..8 {
        match reader.next_packet(&mut buf) {
            Next::Packet => assert!(buf.len() <= 4096),
            Next::Corrupt(_) => {}
            Next::Empty => break,
        }
    }
    let _ = reader.flush(|| 1);
    let _ = reader.report_final_discards(|| 2);
});
