//! A writer that dies between reserving and committing (simulated by a panic inside
//! the record body) leaves its sub-buffer short of committed bytes. Once no writer is
//! alive, the reader completes such packets: every event committed before the dead
//! reservation is read back, and the ring accepts writers again.

use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use proto::ring::layout::{event_header, packet, StreamIdentity};
use proto::ring::reader::{Next, RingReader};
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

const ID: StreamIdentity = StreamIdentity {
    uuid: [9; 16],
    stream_id: 0,
    stream_instance_id: 0,
    cpu_id: 0,
};
const CFG: BufferConfig = BufferConfig {
    subbuf_size: 4096,
    num_subbuf: 4,
    mode: Mode::Discard,
};
/// Event header (compact) + 8-byte payload.
const EVENT: usize = event_header::compact::COMPACT_SIZE + 8;

fn clock() -> u64 {
    static T: AtomicU64 = AtomicU64::new(1_000);
    T.fetch_add(5, Ordering::SeqCst)
}

fn record(w: &RingWriter, seq: u64) -> bool {
    w.record(1, 8, clock, |b| b.put_u64(seq))
}

/// A record whose writer "dies" after reserving: the body panics, nothing commits.
fn die_mid_event(w: &RingWriter) {
    let r = catch_unwind(AssertUnwindSafe(|| {
        w.record(1, 8, clock, |_| panic!("killed"));
    }));
    assert!(r.is_err());
}

fn seqs(p: &[u8]) -> Vec<u64> {
    let content =
        u64::from_le_bytes(p[packet::CONTENT_SIZE..][..8].try_into().unwrap()) as usize / 8;
    let mut at = packet::HEADER_SIZE;
    let mut out = Vec::new();
    while at < content {
        at += event_header::compact::COMPACT_SIZE;
        out.push(u64::from_le_bytes(p[at..at + 8].try_into().unwrap()));
        at += 8;
    }
    out
}

fn read_all(r: &mut RingReader) -> Vec<u64> {
    let mut buf = Vec::new();
    let mut all = Vec::new();
    loop {
        match r.next_packet(&mut buf) {
            Next::Packet => all.extend(seqs(&buf)),
            Next::Empty => return all,
            Next::Corrupt(e) => panic!("corrupt packet: {e}"),
        }
    }
}

#[test]
fn events_before_a_dead_reservation_in_the_open_packet_are_kept() {
    std::panic::set_hook(Box::new(|_| {}));
    let (w, fd) = RingWriter::create(c"t", CFG, ID, None).unwrap();
    let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    for seq in 0..10 {
        assert!(record(&w, seq));
    }
    die_mid_event(&w);
    assert!(read_all(&mut r).is_empty(), "the packet is not complete");
    assert_eq!(r.recover_abandoned(), 1);
    assert_eq!(read_all(&mut r), (0..10).collect::<Vec<_>>());
    // The ring works again: later events land in the next packets.
    for seq in 10..1000 {
        assert!(record(&w, seq));
    }
    w.flush(clock);
    assert_eq!(read_all(&mut r), (10..1000).collect::<Vec<_>>());
}

#[test]
fn a_dead_writer_that_switched_packets_loses_only_its_own_event() {
    std::panic::set_hook(Box::new(|_| {}));
    let (w, fd) = RingWriter::create(c"t", CFG, ID, None).unwrap();
    let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    // Fill the first packet exactly, so that the dying record opens the second.
    let per_packet = (4096 - packet::HEADER_SIZE) / EVENT;
    for seq in 0..per_packet as u64 {
        assert!(record(&w, seq));
    }
    die_mid_event(&w);
    let before = read_all(&mut r);
    assert_eq!(
        r.recover_abandoned() as usize + usize::from(!before.is_empty()),
        2
    );
    let mut got = before;
    got.extend(read_all(&mut r));
    assert_eq!(got, (0..per_packet as u64).collect::<Vec<_>>());
}

#[test]
fn a_packet_left_open_by_writers_that_exited_normally_is_closed_not_repaired() {
    let (w, fd) = RingWriter::create(c"t", CFG, ID, None).unwrap();
    let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    for seq in 0..5 {
        assert!(record(&w, seq));
    }
    drop(w);
    assert_eq!(r.recover_abandoned(), 0, "nothing was missing");
    assert_eq!(read_all(&mut r), (0..5).collect::<Vec<_>>());
}
