//! The consumer process driven as the session daemon drives it, over a socket pair:
//! every recorded event reaches the stream file in whole, checked packets; a corrupt
//! packet is counted and skipped while the other packets and streams go on; closing
//! the control socket writes everything out and ends the process, and a consumer
//! started after it continues the same files, first with the packets a killed
//! predecessor had taken out of the ring and not written; snapshots copy without
//! consuming. Streams have spare sub-buffers, as the session daemon makes them, unless
//! a test says otherwise.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::eventfd::{EfdFlags, EventFd};
use proto::clock::Source;
use proto::ring::layout::{self, event_header::compact as event_header, packet, StreamIdentity};
use proto::ring::reader::{Exchanged, RingReader};
use proto::ring::shm::Mapping;
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};
use proto::wire::consumer::{ConsumerReply, ConsumerRequest, StreamSpec, StreamStats};
use proto::wire::{socket, VERSION};

const CFG: BufferConfig = BufferConfig {
    subbuf_size: 4096,
    num_subbuf: 4,
    mode: Mode::Discard,
};
const EVENT_ID: u32 = 5;
/// Event body: a u32 index, then the index's low byte repeated. With its 6-byte
/// header an event takes 1000 bytes, so a 4 KiB packet holds exactly 4 (also when one
/// of them needs the 14-byte extended header).
const BODY: usize = 994;
const TRACE_DIR: &str = "ust/uid/1000/64-bit";
/// Spare sub-buffers after each ring.
const SPARES: u64 = 3;

/// Spawning is serialized: the child's end of the socket pair is inheritable for a
/// moment, and must not leak into a child spawned by a test running alongside.
static SPAWN: Mutex<()> = Mutex::new(());

struct Consumer {
    child: Child,
    sock: OwnedFd,
}

impl Consumer {
    /// A consumer sandboxed to `out` (which must exist).
    fn spawn(out: &std::path::Path) -> Consumer {
        let _one_at_a_time = SPAWN.lock().unwrap();
        let (ours, theirs) = socket::pair().unwrap();
        fcntl(theirs.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_lttng-consumerd-ust"))
            .arg("--control-fd")
            .arg(theirs.as_raw_fd().to_string())
            .arg("--output")
            .arg(out)
            .spawn()
            .unwrap();
        drop(theirs);
        socket::set_timeout(ours.as_fd(), Some(Duration::from_secs(20))).unwrap();
        Consumer { child, sock: ours }
    }

    fn call(&self, req: &ConsumerRequest) -> ConsumerReply {
        socket::call(&self.sock, req).unwrap()
    }

    fn hello(&self) {
        let reply = self.call(&ConsumerRequest::Hello {
            version: VERSION,
            clock: Source::Monotonic,
        });
        assert_eq!(
            reply,
            ConsumerReply::Hello {
                version: VERSION,
                sandboxed: true
            }
        );
    }

    fn add(&self, stream: &Stream) -> ConsumerReply {
        let req = ConsumerRequest::AddStream(stream.spec.clone());
        socket::send(
            self.sock.as_fd(),
            &req,
            &[stream.memfd.as_fd(), stream.wakeup.as_fd()],
        )
        .unwrap();
        socket::recv::<ConsumerReply>(self.sock.as_fd())
            .unwrap()
            .msg
    }

    fn stats(&self, session: u64) -> Vec<StreamStats> {
        match self.call(&ConsumerRequest::Stats { session }) {
            ConsumerReply::Stats(s) => s,
            other => panic!("expected stats, got {other:?}"),
        }
    }

    /// Closes the control socket and waits for the process to end.
    fn hang_up(mut self) -> ExitStatus {
        drop(self.sock);
        self.child.wait().unwrap()
    }
}

/// One ring buffer, written by the test as an application would.
struct Stream {
    spec: StreamSpec,
    writer: RingWriter,
    memfd: OwnedFd,
    wakeup: Arc<OwnedFd>,
    /// Index of the next event.
    next: u32,
}

impl Stream {
    fn new(key: u64, session: u64, output: &Path) -> Stream {
        Stream::with_config(key, session, output, CFG, SPARES)
    }

    fn with_config(
        key: u64,
        session: u64,
        output: &Path,
        config: BufferConfig,
        spares: u64,
    ) -> Stream {
        let identity = StreamIdentity {
            uuid: [key as u8; 16],
            stream_id: 0,
            stream_instance_id: key,
            cpu_id: key as u32,
        };
        let wakeup = Arc::new(OwnedFd::from(
            EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).unwrap(),
        ));
        let (writer, memfd) = RingWriter::create_with_spares(
            c"consumer-test",
            config,
            identity,
            Some(wakeup.clone()),
            spares,
        )
        .unwrap();
        let spec = StreamSpec {
            key,
            session,
            trace: session,
            output: output.to_str().unwrap().into(),
            trace_dir: TRACE_DIR.into(),
            file: format!("channel0_{key}"),
            config,
            spares,
            identity,
            switch_timer_us: 0,
            drain: true,
        };
        Stream {
            spec,
            writer,
            memfd,
            wakeup,
            next: 0,
        }
    }

    fn record(&mut self, events: u32) {
        for _ in 0..events {
            let i = self.next;
            let recorded = self
                .writer
                .record(EVENT_ID, BODY, proto::clock::monotonic_ns, |b| {
                    b.put_u32(i);
                    b.put(&[i as u8; BODY - 4]);
                });
            assert!(recorded, "event {i} dropped");
            self.next += 1;
        }
    }

    fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(TRACE_DIR).join(&self.spec.file)
    }

    fn file(&self) -> Vec<u8> {
        std::fs::read(self.path_in(Path::new(&self.spec.output))).unwrap()
    }
}

fn u32_at(p: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(p[o..o + 4].try_into().unwrap())
}

fn u64_at(p: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(p[o..o + 8].try_into().unwrap())
}

/// Checks that `file` is exactly the packets `seqs` of stream `spec`, holding the
/// events `first..` in order with their bytes; returns the index after the last event.
fn check_packets(file: &[u8], spec: &StreamSpec, seqs: &[u64], first: u32) -> u32 {
    assert_eq!(file.len(), seqs.len() * 4096, "whole 4 KiB packets");
    let mut next = first;
    for (p, &seq) in file.chunks(4096).zip(seqs) {
        assert_eq!(u32_at(p, packet::MAGIC), layout::CTF_MAGIC);
        assert_eq!(p[packet::UUID..packet::UUID + 16], spec.identity.uuid);
        assert_eq!(
            u64_at(p, packet::STREAM_INSTANCE_ID),
            spec.identity.stream_instance_id
        );
        assert_eq!(u64_at(p, packet::PACKET_SEQ_NUM), seq);
        assert_eq!(u64_at(p, packet::PACKET_SIZE), 4096 * 8);
        assert_eq!(u64_at(p, packet::EVENTS_DISCARDED), 0);
        let content = (u64_at(p, packet::CONTENT_SIZE) / 8) as usize;
        let mut at = packet::HEADER_SIZE;
        while at < content {
            let id = u32_at(p, at) & ((1 << event_header::ID_BITS) - 1);
            at += if id == event_header::EXTENDED_ID {
                assert_eq!(u32_at(p, at + 1), EVENT_ID);
                event_header::EXTENDED_SIZE
            } else {
                assert_eq!(id, EVENT_ID);
                event_header::COMPACT_SIZE
            };
            assert_eq!(u32_at(p, at), next, "event order in packet {seq}");
            assert!(
                p[at + 4..at + BODY].iter().all(|&b| b == next as u8),
                "bytes of event {next}"
            );
            at += BODY;
            next += 1;
        }
        assert_eq!(at, content, "packet {seq} ends with a whole event");
        assert!(p[content..].iter().all(|&b| b == 0), "padding is zeroed");
    }
    next
}

fn output_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("consumer-ust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn flushed_events_reach_the_stream_file_and_a_successor_appends_after_them() {
    flush_and_succeed("flush", SPARES);
}

#[test]
fn streams_without_spares_are_written_in_place_alike() {
    flush_and_succeed("flush-in-place", 0);
}

fn flush_and_succeed(name: &str, spares: u64) {
    let out = output_dir(name);
    let consumer = Consumer::spawn(&out);
    consumer.hello();
    let mut s = Stream::with_config(1, 10, &out, CFG, spares);
    assert_eq!(consumer.add(&s), ConsumerReply::Done);

    // Packets 0 and 1 complete, packet 2 open with 2 events.
    s.record(10);
    assert_eq!(
        consumer.call(&ConsumerRequest::Flush { session: 10 }),
        ConsumerReply::Done
    );
    assert_eq!(check_packets(&s.file(), &s.spec, &[0, 1, 2], 0), 10);
    assert_eq!(
        consumer.stats(10),
        [StreamStats {
            key: 1,
            discarded: 0,
            lost_packets: 0,
            packets: 3,
            bytes: 3 * 4096,
        }]
    );
    assert_eq!(consumer.stats(11), []);
    // Unknown sessions have nothing to flush.
    assert_eq!(
        consumer.call(&ConsumerRequest::Flush { session: 11 }),
        ConsumerReply::Done
    );

    // Events in an open packet when the daemon goes away are written out too.
    s.record(3);
    let status = consumer.hang_up();
    assert_eq!(status.code(), Some(0));
    assert_eq!(check_packets(&s.file(), &s.spec, &[0, 1, 2, 3], 0), 13);

    // A restarted consumer continues where its predecessor stopped, in the same file.
    let successor = Consumer::spawn(&out);
    successor.hello();
    assert_eq!(successor.add(&s), ConsumerReply::Done);
    s.record(4);
    assert_eq!(
        successor.call(&ConsumerRequest::Flush { session: 10 }),
        ConsumerReply::Done
    );
    assert_eq!(check_packets(&s.file(), &s.spec, &[0, 1, 2, 3, 4], 0), 17);
    assert_eq!(successor.hang_up().code(), Some(0));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_successor_writes_first_the_packets_a_killed_consumer_had_taken() {
    let out = output_dir("held");
    let mut s = Stream::new(1, 12, &out);
    // Packets 0..=2 complete, packet 3 open.
    s.record(14);
    // The predecessor (played by the test) took packets 0 and 1 out of the ring by
    // exchange, and was killed before writing them: the ring's slots are free, the
    // packets only in spare sub-buffers that no slot shows.
    let mut predecessor =
        RingReader::open_with_spares(s.memfd.as_fd(), CFG, s.spec.identity, SPARES).unwrap();
    for seq in 0..2 {
        match predecessor.take_exchanging() {
            Exchanged::Packet(p) => {
                assert_eq!(p.seq(), seq);
                std::mem::forget(p);
            }
            other => panic!("expected packet {seq}, got {other:?}"),
        }
    }
    std::mem::forget(predecessor);

    let consumer = Consumer::spawn(&out);
    consumer.hello();
    assert_eq!(consumer.add(&s), ConsumerReply::Done);
    s.record(2);
    assert_eq!(
        consumer.call(&ConsumerRequest::Flush { session: 12 }),
        ConsumerReply::Done
    );
    assert_eq!(check_packets(&s.file(), &s.spec, &[0, 1, 2, 3], 0), 16);
    let stats = consumer.stats(12);
    assert_eq!((stats[0].packets, stats[0].lost_packets), (4, 0));
    assert_eq!(consumer.hang_up().code(), Some(0));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_corrupt_packet_is_counted_and_skipped_and_the_consumer_keeps_serving() {
    let out = output_dir("corrupt");
    let consumer = Consumer::spawn(&out);
    consumer.hello();
    let mut bad = Stream::new(1, 7, &out);
    let mut good = Stream::new(2, 7, &out);
    assert_eq!(consumer.add(&bad), ConsumerReply::Done);
    assert_eq!(consumer.add(&good), ConsumerReply::Done);

    // Garbage over the header of packet 0 while it is still open (so the consumer
    // cannot have taken it yet), then complete it and two more packets.
    bad.record(2);
    let map = Mapping::map(bad.memfd.as_fd(), CFG.file_size(SPARES) as usize).unwrap();
    map.write_bytes(layout::CONTROL_SIZE + packet::MAGIC, b"GARBAGE!");
    map.write_bytes(layout::CONTROL_SIZE + packet::PACKET_SEQ_NUM, &[0xEE; 16]);
    bad.record(7);
    good.record(9);

    assert_eq!(
        consumer.call(&ConsumerRequest::Flush { session: 7 }),
        ConsumerReply::Done
    );
    let stats = consumer.stats(7);
    assert_eq!(stats.len(), 2);
    assert_eq!(
        (stats[0].key, stats[0].lost_packets, stats[0].packets),
        (1, 1, 2)
    );
    assert_eq!(
        (stats[1].key, stats[1].lost_packets, stats[1].packets),
        (2, 0, 3)
    );
    // The corrupt packet held events 0..4: the file starts at packet 1, event 4.
    assert_eq!(check_packets(&bad.file(), &bad.spec, &[1, 2], 4), 9);
    assert_eq!(check_packets(&good.file(), &good.spec, &[0, 1, 2], 0), 9);

    // Malformed requests get an error reply, and the consumer goes on.
    socket::send_bytes(consumer.sock.as_fd(), &[0xFF; 40], &[]).unwrap();
    let reply = socket::recv::<ConsumerReply>(consumer.sock.as_fd())
        .unwrap()
        .msg;
    assert!(
        matches!(reply, ConsumerReply::Error(ref e) if e.contains("malformed")),
        "{reply:?}"
    );
    let add = ConsumerRequest::AddStream(Stream::new(3, 7, &out).spec);
    socket::send_bytes(
        consumer.sock.as_fd(),
        &postcard::to_allocvec(&add).unwrap(),
        &[bad.memfd.as_fd()],
    )
    .unwrap();
    let reply = socket::recv::<ConsumerReply>(consumer.sock.as_fd())
        .unwrap()
        .msg;
    assert!(
        matches!(reply, ConsumerReply::Error(ref e) if e.contains("descriptors")),
        "{reply:?}"
    );
    let mut escaping = Stream::new(4, 7, &out);
    escaping.spec.file = "../evil".into();
    assert!(matches!(consumer.add(&escaping), ConsumerReply::Error(_)));
    assert_eq!(consumer.stats(7), stats);

    // Later packets of the corrupted stream still go through.
    bad.record(4);
    assert_eq!(
        consumer.call(&ConsumerRequest::RemoveSession { session: 7 }),
        ConsumerReply::Done
    );
    assert_eq!(check_packets(&bad.file(), &bad.spec, &[1, 2, 3], 4), 13);
    assert_eq!(consumer.stats(7), []);
    assert_eq!(consumer.hang_up().code(), Some(0));
    assert!(!out.join(TRACE_DIR).join("../evil").exists());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_switch_timer_closes_packets_without_a_flush() {
    let out = output_dir("switch");
    let consumer = Consumer::spawn(&out);
    consumer.hello();
    let mut s = Stream::new(1, 3, &out);
    s.spec.switch_timer_us = 20_000;
    assert_eq!(consumer.add(&s), ConsumerReply::Done);
    s.record(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while s.file().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(check_packets(&s.file(), &s.spec, &[0], 0), 1);
    assert_eq!(consumer.hang_up().code(), Some(0));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_snapshot_copies_what_the_ring_holds_without_consuming_it() {
    let out = output_dir("snapshot");
    let consumer = Consumer::spawn(&out);
    consumer.hello();
    let overwrite = BufferConfig {
        mode: Mode::Overwrite,
        ..CFG
    };
    let mut s = Stream::with_config(1, 4, &out.join("session"), overwrite, 0);
    s.spec.drain = false;
    assert_eq!(consumer.add(&s), ConsumerReply::Done);
    // Packets 0..=6 complete, packet 7 open: the ring of 4 holds packets 4..=7.
    s.record(30);
    for n in ["snap-1", "snap-2"] {
        let dir = out.join(n);
        let req = ConsumerRequest::Snapshot {
            session: 4,
            dir: dir.to_str().unwrap().into(),
        };
        assert_eq!(consumer.call(&req), ConsumerReply::Done);
        let file = std::fs::read(s.path_in(&dir)).unwrap();
        assert_eq!(check_packets(&file, &s.spec, &[4, 5, 6, 7], 16), 30);
    }
    // A stream of a snapshot session is never drained to the session's output.
    assert_eq!(
        consumer.call(&ConsumerRequest::Flush { session: 4 }),
        ConsumerReply::Done
    );
    assert!(!s.path_in(&out.join("session")).exists());
    let relative = ConsumerRequest::Snapshot {
        session: 4,
        dir: "relative/dir".into(),
    };
    assert!(matches!(consumer.call(&relative), ConsumerReply::Error(_)));
    assert_eq!(consumer.hang_up().code(), Some(0));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_daemon_of_another_protocol_version_is_answered_with_ours_and_refused() {
    let out = output_dir("version");
    let consumer = Consumer::spawn(&out);
    let reply = consumer.call(&ConsumerRequest::Hello {
        version: VERSION + 1,
        clock: Source::Monotonic,
    });
    // It answers with its own hello, so that a daemon of any release learns which
    // version it speaks, then ends.
    assert!(
        matches!(reply, ConsumerReply::Hello { version, .. } if version == VERSION),
        "{reply:?}"
    );
    assert_eq!(consumer.hang_up().code(), Some(2));
}
