//! The ring buffer, driven directly: concurrent writers, a concurrent reader, and an
//! exact account of every event (recorded + discarded == emitted).

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use proto::ring::layout::{event_header::compact as event_header, packet, StreamIdentity};
use proto::ring::reader::{Next, RingReader};
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};

const ID: StreamIdentity = StreamIdentity {
    uuid: [7; 16],
    stream_id: 0,
    stream_instance_id: 3,
    cpu_id: 3,
};

/// A test clock: strictly increasing, shared by all threads.
fn clock() -> u64 {
    static T: AtomicU64 = AtomicU64::new(1_000);
    T.fetch_add(3, Ordering::SeqCst)
}

/// Decodes the (thread, seq) events of one packet; checks the event headers.
fn events(p: &[u8], out: &mut Vec<(u32, u64, u64)>, trace_discarded: &mut u64) {
    let disc = u64::from_le_bytes(p[packet::EVENTS_DISCARDED..][..8].try_into().unwrap());
    assert!(disc >= *trace_discarded, "events_discarded went backwards");
    *trace_discarded = disc;
    let content =
        u64::from_le_bytes(p[packet::CONTENT_SIZE..][..8].try_into().unwrap()) as usize / 8;
    let begin = u64::from_le_bytes(p[packet::TIMESTAMP_BEGIN..][..8].try_into().unwrap());
    let end = u64::from_le_bytes(p[packet::TIMESTAMP_END..][..8].try_into().unwrap());
    let mut last = begin;
    let mut at = packet::HEADER_SIZE;
    while at < content {
        let word = u32::from_le_bytes(p[at..at + 4].try_into().unwrap());
        let id = word & ((1 << event_header::ID_BITS) - 1);
        let ts = if id == event_header::EXTENDED_ID {
            assert_eq!(u32::from_le_bytes(p[at + 1..at + 5].try_into().unwrap()), 5);
            let ts = u64::from_le_bytes(p[at + 5..at + 13].try_into().unwrap());
            at += event_header::EXTENDED_SIZE;
            ts
        } else {
            assert_eq!(id, 5);
            let bits = event_header::COMPACT_TS_BITS;
            let low = u64::from(word >> event_header::ID_BITS);
            let mut ts = (last & !((1 << bits) - 1)) | low;
            if ts < last {
                ts += 1 << bits;
            }
            at += event_header::COMPACT_SIZE;
            ts
        };
        assert!(ts >= last, "time went backwards inside a packet");
        last = ts;
        let thread = u32::from_le_bytes(p[at..at + 4].try_into().unwrap());
        let seq = u64::from_le_bytes(p[at + 4..at + 12].try_into().unwrap());
        at += 12;
        out.push((thread, seq, ts));
    }
    assert_eq!(at, content, "torn event at the end of a packet");
    assert!(last <= end);
}

/// Starts `threads` writers, each recording `per_thread` (thread, seq) events.
fn spawn_writers(
    w: &Arc<RingWriter>,
    threads: u32,
    per_thread: u64,
    clock: fn() -> u64,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                for seq in 0..per_thread {
                    w.record(5, 12, clock, |b| {
                        b.put_u32(t);
                        b.put_u64(seq);
                    });
                }
            })
        })
        .collect()
}

fn run(
    mode: Mode,
    threads: u32,
    per_thread: u64,
    cfg_s: u64,
    cfg_n: u64,
) -> (Vec<(u32, u64, u64)>, u64, u64) {
    let cfg = BufferConfig {
        subbuf_size: cfg_s,
        num_subbuf: cfg_n,
        mode,
    };
    let (w, fd) = RingWriter::create(c"test", cfg, ID, None).unwrap();
    let w = Arc::new(w);
    let mut r = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writers = spawn_writers(&w, threads, per_thread, clock);
    let mut got = Vec::new();
    let mut buf = Vec::new();
    let mut in_trace = 0u64;
    let reader_live = mode == Mode::Discard;
    let stop = done.clone();
    let joiner = std::thread::spawn(move || {
        for h in writers {
            h.join().unwrap();
        }
        stop.store(true, Ordering::SeqCst);
    });
    loop {
        let finished = done.load(Ordering::SeqCst);
        if reader_live || finished {
            match r.next_packet(&mut buf) {
                Next::Packet => events(&buf, &mut got, &mut in_trace),
                Next::Corrupt(e) => panic!("corrupt packet: {e}"),
                Next::Empty if finished => {
                    if !r.flush(clock) {
                        if let Next::Empty = r.next_packet(&mut buf) {
                            break;
                        }
                    }
                }
                Next::Empty => std::thread::yield_now(),
            }
        } else {
            std::thread::yield_now();
        }
    }
    joiner.join().unwrap();
    // Drain whatever the last flush completed, then have the final discard count
    // written, as a consumer does at stop.
    while let Next::Packet = r.next_packet(&mut buf) {
        events(&buf, &mut got, &mut in_trace);
    }
    if mode == Mode::Discard {
        r.report_final_discards(clock);
        while let Next::Packet = r.next_packet(&mut buf) {
            events(&buf, &mut got, &mut in_trace);
        }
        assert_eq!(
            in_trace,
            w.discarded(),
            "the trace reports every discarded event"
        );
    }
    (got, w.discarded(), r.lost_packets())
}

#[test]
fn concurrent_writers_lose_nothing_that_is_not_counted() {
    let (got, discarded, lost) = run(Mode::Discard, 4, 200_000, 4096, 4);
    assert_eq!(lost, 0);
    assert_eq!(got.len() as u64 + discarded, 4 * 200_000);
    let mut next: HashMap<u32, u64> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for &(t, seq, _) in &got {
        assert!(t < 4);
        assert!(seen.insert((t, seq)), "duplicate event ({t}, {seq})");
        let n = next.entry(t).or_insert(0);
        assert!(seq >= *n, "thread {t}: {seq} after {}", *n);
        *n = seq + 1;
    }
}

#[test]
fn a_reader_that_keeps_up_sees_every_event_in_order() {
    let (got, discarded, _) = run(Mode::Discard, 1, 100_000, 1 << 16, 8);
    // One writer and a tiny 64 KiB ring may still outrun the reader; count exactly.
    assert_eq!(got.len() as u64 + discarded, 100_000);
    let seqs: Vec<u64> = got.iter().map(|e| e.1).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn overwrite_mode_keeps_the_newest_events() {
    let (got, discarded, lost) = run(Mode::Overwrite, 1, 100_000, 4096, 4);
    assert_eq!(discarded, 0);
    assert!(lost > 0, "100k events must have wrapped a 16 KiB ring");
    let last = got.last().unwrap();
    assert_eq!(last.1, 99_999, "the newest event is kept");
    let seqs: Vec<u64> = got.iter().map(|e| e.1).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "kept events are contiguous"
    );
    // At most N packets survive.
    assert!(got.len() <= 4 * (4096 - packet::HEADER_SIZE) / (event_header::COMPACT_SIZE + 12) + 1);
}

#[test]
fn contending_writers_never_drop_when_there_is_room() {
    // 256 sub-buffers of 4 KiB hold everything the writers emit, but switch often: a
    // writer that lost the race to open the next packet must retry, not drop.
    for _ in 0..50 {
        let (got, discarded, lost) = run(Mode::Discard, 8, 5_000, 4096, 256);
        assert_eq!(
            (discarded, lost),
            (0, 0),
            "events dropped with room to spare"
        );
        assert_eq!(got.len(), 40_000);
    }
}

/// A clock that jitters backwards by up to 2000 ticks, like unordered `rdtsc` reads on
/// different CPUs racing for one buffer.
#[cfg(all(target_arch = "x86_64", target_feature = "cmpxchg16b"))]
fn jittery_clock() -> u64 {
    static T: AtomicU64 = AtomicU64::new(1_000_000);
    static R: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let t = T.fetch_add(3, Ordering::Relaxed);
    let r = R.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    t - (r >> 53)
}

#[test]
#[cfg(all(target_arch = "x86_64", target_feature = "cmpxchg16b"))]
fn timestamps_never_go_backwards_even_with_an_unordered_clock() {
    let cfg = BufferConfig {
        subbuf_size: 4096,
        num_subbuf: 256,
        mode: Mode::Discard,
    };
    let (w, fd) = RingWriter::create(c"jitter", cfg, ID, None).unwrap();
    let w = Arc::new(w);
    let mut r = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
    for h in spawn_writers(&w, 4, 10_000, jittery_clock) {
        h.join().unwrap();
    }
    r.flush(jittery_clock);
    let (mut got, mut disc, mut buf) = (Vec::new(), 0, Vec::new());
    let mut last_end = 0;
    while let Next::Packet = r.next_packet(&mut buf) {
        let begin = u64::from_le_bytes(buf[packet::TIMESTAMP_BEGIN..][..8].try_into().unwrap());
        assert!(begin >= last_end, "packets overlap in time");
        last_end = u64::from_le_bytes(buf[packet::TIMESTAMP_END..][..8].try_into().unwrap());
        // `events` asserts that times never decrease inside a packet.
        events(&buf, &mut got, &mut disc);
    }
    assert_eq!(got.len(), 40_000);
}
