//! A writer whose channel was removed is retired: its shared pages are swapped for
//! private zero pages. Late events still complete (no fault), and none of them reaches
//! the shared buffer that the consumer reads.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

use proto::ring::layout::StreamIdentity;
use proto::ring::reader::{Next, RingReader};
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

const ID: StreamIdentity = StreamIdentity {
    uuid: [3; 16],
    stream_id: 0,
    stream_instance_id: 0,
    cpu_id: 0,
};

fn clock() -> u64 {
    static T: AtomicU64 = AtomicU64::new(1);
    T.fetch_add(1, Ordering::SeqCst)
}

#[test]
fn events_after_retirement_land_in_private_memory() {
    let cfg = BufferConfig {
        subbuf_size: 4096,
        num_subbuf: 4,
        mode: Mode::Discard,
    };
    let (w, fd) = RingWriter::create(c"retire", cfg, ID, None).unwrap();
    let mut r = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
    assert!(w.record(1, 8, clock, |b| b.put_u64(1)));
    w.flush(clock);
    let mut buf = Vec::new();
    assert!(matches!(r.next_packet(&mut buf), Next::Packet));

    w.retire().unwrap();
    for i in 0..10_000u64 {
        w.record(1, 8, clock, |b| b.put_u64(i));
    }
    w.flush(clock);
    assert!(matches!(r.next_packet(&mut buf), Next::Empty));
}
