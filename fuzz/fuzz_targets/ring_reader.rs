//! The ring-buffer reader against a writer that controls every byte of the shared
//! memory: the input is written over the control page and the data area, then the
//! reader drains (copying; in place and writing from the ring; or exchanging sub-buffers
//! for spares, whose map the input also fills); it must never panic, hang or hand on an
//! unchecked packet.
#![no_main]

use std::os::fd::AsFd;

use proto::ring::layout::StreamIdentity;
use proto::ring::reader::{Exchanged, Held, InPlace, Next, RingReader, TakenInPlace, HEAD_SIZE};
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
    let exchanging = mode == Mode::Discard && data.first().is_some_and(|b| b & 4 == 4);
    let spares = if exchanging { 2 } else { 0 };
    let file_len = cfg.file_size(spares) as usize;
    let Ok((_w, fd)) = RingWriter::create_with_spares(c"fuzz", cfg, ID, None, spares) else {
        return;
    };
    let opened = if exchanging {
        RingReader::open_with_spares(fd.as_fd(), cfg, ID, spares)
    } else {
        RingReader::open(fd.as_fd(), cfg, ID)
    };
    let Ok(mut reader) = opened else {
        return;
    };
    let Ok(evil) = Mapping::map(fd.as_fd(), file_len) else {
        return;
    };
    let n = data.len().min(file_len);
    evil.write_bytes(0, &data[..n]);
    if exchanging {
        // Sub-buffers exchanged for spares and written from the memfd; two are held at
        // most, so the third complete packet waits for a spare.
        let Ok(out) = memfd::MemfdOptions::default().create("out") else {
            return;
        };
        let mut held: Vec<Held> = Vec::new();
        for _ in 0..8 {
            match reader.take_exchanging() {
                Exchanged::Packet(p) => {
                    assert!(p.len() <= 4096 && p.len() % 4096 == 0);
                    held.push(p);
                }
                Exchanged::Corrupt(_) => {}
                Exchanged::NoSpare => {
                    let _ =
                        Held::write_all(out.as_file().as_fd(), &held.iter().collect::<Vec<_>>());
                    held.clear();
                }
                Exchanged::Empty => break,
            }
        }
        let _ = Held::write_all(out.as_file().as_fd(), &held.iter().collect::<Vec<_>>());
    }
    if mode == Mode::Discard && data.first().is_some_and(|b| b & 2 == 2) {
        // The zero-copy path: checked in place, written straight from the ring.
        let Ok(out) = memfd::MemfdOptions::default().create("out") else {
            return;
        };
        let mut heads = vec![[0u8; HEAD_SIZE]; 8];
        let mut taken = Vec::new();
        for _ in 0..8 {
            // A corrupt packet leaves its head slot to the next one.
            match reader.take_in_place(&mut heads[taken.len()]) {
                TakenInPlace::Packet(p) => {
                    assert!(p.len() <= 4096 && p.len() % 4096 == 0);
                    taken.push(p);
                }
                TakenInPlace::Corrupt(_) => {}
                TakenInPlace::Empty => break,
            }
        }
        let packets: Vec<(&[u8], &InPlace)> = heads.iter().map(|h| &h[..]).zip(&taken).collect();
        let _ = reader.write_in_place(out.as_file().as_fd(), &packets);
        reader.release();
    }
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
