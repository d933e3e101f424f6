//! A writer that scribbles random bytes over the whole shared buffer (control page
//! and data) while the reader drains it: the reader never panics or hangs, reports
//! the corrupted packets, and never returns a packet that fails its checks.

use std::os::fd::AsFd;

use proto::ring::layout::{self, packet, StreamIdentity};
use proto::ring::reader::{Next, RingReader};
use proto::ring::shm::Mapping;
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

const ID: StreamIdentity = StreamIdentity {
    uuid: [9; 16],
    stream_id: 0,
    stream_instance_id: 1,
    cpu_id: 1,
};

/// xorshift64*: deterministic noise.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn the_reader_survives_a_hostile_writer() {
    for mode in [Mode::Discard, Mode::Overwrite] {
        let cfg = BufferConfig {
            subbuf_size: 4096,
            num_subbuf: 4,
            mode,
        };
        let (w, fd) = RingWriter::create(c"hostile", cfg, ID, None).unwrap();
        let mut reader = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
        let evil = Mapping::map(fd.as_fd(), cfg.shm_size()).unwrap();
        let mut rng = Rng(0x1234_5678 + mode as u64);
        let mut buf = Vec::new();
        let (mut good, mut bad) = (0u64, 0u64);
        let mut t = 0u64;
        for round in 0..20_000u64 {
            // Some honest events...
            for _ in 0..(rng.next() % 50) {
                t += 1;
                w.record(1, 8, || t, |b| b.put_u64(round));
            }
            // ...then damage: random bytes anywhere, sometimes the control counters.
            for _ in 0..(rng.next() % 4) {
                let off = (rng.next() as usize) % (cfg.shm_size() - 8);
                let v = rng.next();
                evil.write_bytes(off & !7, &v.to_le_bytes());
            }
            if rng.next().is_multiple_of(100) {
                let which = [
                    layout::OFF_WRITE_POS,
                    layout::OFF_COMMIT,
                    layout::OFF_CONSUMED,
                ][(rng.next() % 3) as usize];
                evil.write_bytes(which, &rng.next().to_le_bytes());
            }
            for _ in 0..4 {
                match reader.next_packet(&mut buf) {
                    Next::Packet => {
                        good += 1;
                        // What the reader hands on always passed its checks.
                        assert_eq!(
                            u32::from_le_bytes(buf[0..4].try_into().unwrap()),
                            layout::CTF_MAGIC
                        );
                        let content = u64::from_le_bytes(
                            buf[packet::CONTENT_SIZE..][..8].try_into().unwrap(),
                        );
                        assert!(content as usize / 8 <= buf.len());
                        assert!(buf.len() <= cfg.subbuf_size as usize);
                    }
                    Next::Corrupt(_) => bad += 1,
                    Next::Empty => break,
                }
            }
            let _ = reader.flush(|| t);
        }
        assert!(good > 0, "{mode:?}: no packet got through at all");
        assert!(bad > 0, "{mode:?}: the damage was never noticed");
    }
}

#[test]
fn extreme_counter_values_do_not_overflow_the_reader() {
    // Found by the ring_reader fuzz target: a write position near 2^64 once overflowed
    // the flush arithmetic.
    for mode in [Mode::Discard, Mode::Overwrite] {
        let cfg = BufferConfig {
            subbuf_size: 4096,
            num_subbuf: 2,
            mode,
        };
        for wp in [u64::MAX, u64::MAX - 4095, u64::MAX - 100, 1 << 63] {
            let (_w, fd) = RingWriter::create(c"extreme", cfg, ID, None).unwrap();
            let mut reader = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
            let evil = Mapping::map(fd.as_fd(), cfg.shm_size()).unwrap();
            evil.write_bytes(layout::OFF_WRITE_POS, &wp.to_le_bytes());
            evil.write_bytes(layout::OFF_COMMIT, &u64::MAX.to_le_bytes());
            evil.write_bytes(layout::OFF_DISCARDED, &u64::MAX.to_le_bytes());
            let mut buf = Vec::new();
            for _ in 0..4 {
                let _ = reader.next_packet(&mut buf);
                let _ = reader.flush(|| 5);
                let _ = reader.report_final_discards(|| 6);
            }
        }
    }
}
