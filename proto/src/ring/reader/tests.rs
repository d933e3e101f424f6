use std::os::fd::AsFd;
use std::sync::atomic::Ordering;

use super::{
    layout, BufferConfig, Exchanged, Held, InPlace, Mode, PacketError, RingReader, StreamIdentity,
    Taken, TakenInPlace, HEAD_SIZE,
};
use crate::ring::shm::Mapping;
use crate::ring::writer::RingWriter;

const ID: StreamIdentity = StreamIdentity {
    uuid: [9; 16],
    stream_id: 0,
    stream_instance_id: 1,
    cpu_id: 1,
};
const CFG: BufferConfig = BufferConfig {
    subbuf_size: 4096,
    num_subbuf: 4,
    mode: Mode::Discard,
};

fn clock() -> u64 {
    static T: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    T.fetch_add(1, Ordering::Relaxed)
}

/// Records events until `packets` packets are complete.
fn fill(w: &RingWriter, packets: u64) {
    fill_at(w, packets, clock);
}

fn fill_at(w: &RingWriter, packets: u64, mut now: impl FnMut() -> u64) {
    for i in 0..(packets * 4096 / 1000) + 1 {
        assert!(w.record(1, 994, &mut now, |b| b.put(&[i as u8; 994])));
    }
}

fn seq_of(buf: &[u8]) -> u64 {
    u64::from_le_bytes(
        buf[layout::packet::PACKET_SEQ_NUM..][..8]
            .try_into()
            .unwrap(),
    )
}

#[test]
fn a_resumed_reader_starts_at_the_shared_consumed_position() {
    let (w, fd) = RingWriter::create(c"resume", CFG, ID, None).unwrap();
    fill(&w, 3);
    let mut buf = vec![0u8; 4096];
    let mut first = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    assert!(matches!(first.take(&mut buf), Taken::Packet(_)));
    assert_eq!(seq_of(&buf), 0);
    drop(first);

    // A successor continues with packet 1, not 0.
    let mut next = RingReader::resume(fd.as_fd(), CFG, ID).unwrap();
    assert!(matches!(next.take(&mut buf), Taken::Packet(_)));
    assert_eq!(seq_of(&buf), 1);
    assert_eq!(next.lost_packets(), 0);

    // An observer reads without moving the shared position.
    let mut peek = RingReader::observer(fd.as_fd(), CFG, ID).unwrap();
    assert!(matches!(peek.take(&mut buf), Taken::Packet(_)));
    assert_eq!(seq_of(&buf), 2);
    let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
    assert_eq!(
        map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
        2 * 4096
    );
}

#[test]
fn a_garbage_consumed_position_is_rounded_down_and_kept_behind_the_writer() {
    let (w, fd) = RingWriter::create(c"garbage", CFG, ID, None).unwrap();
    fill(&w, 2);
    let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
    let wp = map.atomic(layout::OFF_WRITE_POS).load(Ordering::Relaxed);
    let mut buf = vec![0u8; 4096];

    // Past the write position: clamped to the open packet, which is not complete.
    map.atomic(layout::OFF_CONSUMED)
        .store(u64::MAX, Ordering::Relaxed);
    let mut r = RingReader::resume(fd.as_fd(), CFG, ID).unwrap();
    assert_eq!(r.take(&mut buf), Taken::Empty);
    assert_eq!(r.unread_closed_packets(), 0);
    assert_eq!(wp / 4096, 2, "two packets closed, the third open");

    // In the middle of packet 1: rounded down to its start.
    map.atomic(layout::OFF_CONSUMED)
        .store(4096 + 123, Ordering::Relaxed);
    let mut r = RingReader::resume(fd.as_fd(), CFG, ID).unwrap();
    assert_eq!(r.unread_closed_packets(), 1);
    assert!(matches!(r.take(&mut buf), Taken::Packet(_)));
    assert_eq!(seq_of(&buf), 1);
}

#[test]
fn exchanged_packets_are_written_whole_and_the_ring_runs_on_while_they_are_held() {
    // Two rings filled alike: a plain one read by copies (the reference), and one
    // with 3 spare sub-buffers read by exchange. Every data sub-buffer of the second,
    // spares included, holds garbage first.
    let (plain, plain_fd) = RingWriter::create(c"plain", CFG, ID, None).unwrap();
    let (w, fd) = RingWriter::create_with_spares(c"spares", CFG, ID, None, 3).unwrap();
    let file_len = CFG.file_size(3) as usize;
    let map = Mapping::map(fd.as_fd(), file_len).unwrap();
    map.write_bytes(layout::CONTROL_SIZE, &[0xAA; 7 * 4096]);
    let mut copies = RingReader::open(plain_fd.as_fd(), CFG, ID).unwrap();
    let mut expected = Vec::new();
    let mut fill_both = |packets| {
        fill_at(&plain, packets, || 7);
        fill_at(&w, packets, || 7);
        let mut buf = vec![0u8; 4096];
        while let Taken::Packet(len) = copies.take(&mut buf) {
            expected.extend_from_slice(&buf[..len]);
        }
    };
    let mut r = RingReader::open_with_spares(fd.as_fd(), CFG, ID, 3).unwrap();
    let take = |r: &mut RingReader| match r.take_exchanging() {
        Exchanged::Packet(p) => Some(p),
        Exchanged::Empty => None,
        other => panic!("unexpected {other:?}"),
    };

    fill_both(3);
    let held: Vec<Held> = std::iter::from_fn(|| take(&mut r)).collect();
    assert_eq!(held.len(), 3);
    assert_eq!(
        map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
        3 * 4096,
        "the slots are the writers' again while their packets are held"
    );
    // The writers fill the ring again while every spare is held...
    fill_both(3);
    assert!(matches!(r.take_exchanging(), Exchanged::NoSpare));
    let file = out_file();
    Held::write_all(file.as_fd(), &held.iter().collect::<Vec<_>>()).unwrap();
    // ...and the spares, once written and dropped, take the next packets.
    drop(held);
    let held: Vec<Held> = std::iter::from_fn(|| take(&mut r)).collect();
    assert_eq!(held.len(), 3);
    Held::write_all(file.as_fd(), &held.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!((w.discarded(), plain.discarded()), (0, 0));
    assert_eq!(expected.len(), 6 * 4096);
    let out = written(&file);
    assert_eq!(out, expected);
    assert!(
        !out.contains(&0xAA),
        "garbage after content_size was zeroed"
    );
}

/// Takes the next packet by exchange, which must be there.
fn exchange(r: &mut RingReader) -> Held {
    match r.take_exchanging() {
        Exchanged::Packet(p) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

#[test]
fn a_resumed_reader_finds_the_packets_its_predecessor_held_and_writes_them_first() {
    let (w, fd) = RingWriter::create_with_spares(c"held", CFG, ID, None, 3).unwrap();
    fill(&w, 3);
    // The predecessor wrote packet 0, held 1 and 2 on their way to disk, and died
    // (its `Held` values gone with it: the shared map still shows their spares).
    let mut first = RingReader::open_with_spares(fd.as_fd(), CFG, ID, 3).unwrap();
    let held: Vec<Held> = (0..3).map(|_| exchange(&mut first)).collect();
    assert_eq!(held.iter().map(Held::seq).collect::<Vec<_>>(), [0, 1, 2]);
    std::mem::forget((first, held));

    let mut r = RingReader::resume_with_spares(fd.as_fd(), CFG, ID, 3).unwrap();
    assert!(r.can_exchange());
    r.skip_to_packet(1);
    let found = r.recover_held(1);
    assert_eq!(found.iter().map(Held::seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(r.lost_packets(), 0);
    // Then the ring goes on at packet 3, exchanging with the one spare left free
    // (sub-buffer 0, whose packet was written).
    assert!(matches!(r.take_exchanging(), Exchanged::Empty));
    fill(&w, 1);
    let third = exchange(&mut r);
    assert_eq!(third.seq(), 3);
    fill(&w, 1);
    assert!(matches!(r.take_exchanging(), Exchanged::NoSpare));
    // Written and dropped, the recovered packets' sub-buffers are spares again.
    drop(found);
    assert_eq!(exchange(&mut r).seq(), 4);
}

#[test]
fn a_packet_exchanged_but_not_yet_marked_taken_is_found_once() {
    let (w, fd) = RingWriter::create_with_spares(c"half", CFG, ID, None, 2).unwrap();
    fill(&w, 2);
    let map = Mapping::map(fd.as_fd(), CFG.file_size(2) as usize).unwrap();
    let mut first = RingReader::open_with_spares(fd.as_fd(), CFG, ID, 2).unwrap();
    std::mem::forget((exchange(&mut first), first));
    // As if it died between pointing the slot at a spare and publishing the read
    // position.
    map.atomic(layout::OFF_CONSUMED).store(0, Ordering::Relaxed);

    let mut r = RingReader::resume_with_spares(fd.as_fd(), CFG, ID, 2).unwrap();
    let found: Vec<u64> = r.recover_held(0).iter().map(Held::seq).collect();
    assert_eq!(found, [0]);
    assert_eq!(exchange(&mut r).seq(), 1);
    assert_eq!(r.lost_packets(), 0);
    assert_eq!(
        map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
        2 * 4096
    );
}

#[test]
fn a_slot_table_showing_one_sub_buffer_twice_turns_exchanges_off() {
    let (w, fd) = RingWriter::create_with_spares(c"twice", CFG, ID, None, 2).unwrap();
    let map = Mapping::map(fd.as_fd(), CFG.file_size(2) as usize).unwrap();
    // Slots 1 and 2 both show sub-buffer 3 (a spare).
    map.atomic_u32(layout::OFF_SUBBUF_MAP + 4)
        .store(1 ^ 3, Ordering::Relaxed);
    map.atomic_u32(layout::OFF_SUBBUF_MAP + 8)
        .store(2 ^ 3, Ordering::Relaxed);
    fill(&w, 1);
    let mut r = RingReader::resume_with_spares(fd.as_fd(), CFG, ID, 2).unwrap();
    assert!(!r.can_exchange());
    assert!(matches!(r.take_exchanging(), Exchanged::NoSpare));
    assert!(r.recover_held(0).is_empty());
    // It still reads where the writers write.
    let mut head = [0u8; HEAD_SIZE];
    assert!(matches!(
        r.take_in_place(&mut head),
        TakenInPlace::Packet(_)
    ));
    assert_eq!(seq_of(&head), 0);
}

#[test]
fn a_bad_subbuf_map_keeps_events_inside_the_memfd() {
    let (w, fd) = RingWriter::create(c"bad-map", CFG, ID, None).unwrap();
    let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
    let entry = |slot: usize| map.atomic_u32(layout::OFF_SUBBUF_MAP + 4 * slot);
    // Entries naming no sub-buffer of the memfd are taken as zero...
    for slot in 0..4 {
        entry(slot).store(u32::MAX - slot as u32, Ordering::Relaxed);
    }
    fill(&w, 2);
    let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    let mut buf = vec![0u8; 4096];
    for seq in 0..2 {
        assert!(matches!(r.take(&mut buf), Taken::Packet(_)));
        assert_eq!(seq_of(&buf), seq);
    }
    // ...and one naming another sub-buffer of the ring misplaces the writers'
    // packets, which the reader, trusting its own record, refuses.
    entry(3).store(3, Ordering::Relaxed); // slot 3 shows sub-buffer 3 ^ 3 = 0
    fill(&w, 2);
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        outcomes.push(r.take(&mut buf));
    }
    assert!(matches!(outcomes[0], Taken::Packet(_)));
    assert!(matches!(outcomes[1], Taken::Corrupt(_)), "{outcomes:?}");
}

/// A ring whose data area held garbage before three packets were written.
fn three_packets_over_garbage(
    name: &std::ffi::CStr,
) -> (RingWriter, std::os::fd::OwnedFd, Mapping) {
    let (w, fd) = RingWriter::create(name, CFG, ID, None).unwrap();
    let map = Mapping::map(fd.as_fd(), CFG.shm_size()).unwrap();
    map.write_bytes(layout::CONTROL_SIZE, &[0xAA; 4 * 4096]);
    fill(&w, 3);
    (w, fd, map)
}

fn written(f: &std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut f = f;
    f.rewind().unwrap();
    let mut out = Vec::new();
    f.read_to_end(&mut out).unwrap();
    out
}

/// Takes every complete packet in place, each head in its own page of `heads`.
fn take_all(r: &mut RingReader, heads: &mut [[u8; HEAD_SIZE]]) -> Vec<InPlace> {
    let mut taken = Vec::new();
    for head in heads.iter_mut() {
        match r.take_in_place(head) {
            TakenInPlace::Packet(p) => taken.push(p),
            TakenInPlace::Corrupt(e) => panic!("unexpected {e}"),
            TakenInPlace::Empty => break,
        }
    }
    taken
}

fn out_file() -> std::fs::File {
    memfd::MemfdOptions::default()
        .create("out")
        .unwrap()
        .into_file()
}

#[test]
fn packets_written_in_place_match_their_copies_and_stay_taken_until_released() {
    let (_w, fd, map) = three_packets_over_garbage(c"in-place");
    let consumed = || map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed);

    // The same packets as the copying reader returns them (padding zeroed).
    let mut peek = RingReader::observer(fd.as_fd(), CFG, ID).unwrap();
    let mut expected = Vec::new();
    let mut buf = vec![0u8; 4096];
    while let Taken::Packet(len) = peek.take(&mut buf) {
        expected.extend_from_slice(&buf[..len]);
    }
    assert_eq!(expected.len(), 3 * 4096);

    let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    let mut heads = [[0u8; HEAD_SIZE]; 4];
    let taken = take_all(&mut r, &mut heads);
    assert_eq!(
        taken.iter().map(InPlace::len).collect::<Vec<_>>(),
        [4096; 3]
    );
    assert_eq!(
        consumed(),
        0,
        "taken in place, not yet freed for the writers"
    );

    let file = out_file();
    let packets: Vec<(&[u8], &InPlace)> = heads.iter().map(|h| &h[..]).zip(&taken).collect();
    r.write_in_place(file.as_fd(), &packets).unwrap();
    assert_eq!(consumed(), 0);
    r.release();
    assert_eq!(consumed(), 3 * 4096);
    let out = written(&file);
    assert_eq!(out, expected);
    assert!(
        !out.contains(&0xAA),
        "the garbage after content_size was zeroed before writing"
    );
}

#[test]
fn a_header_rewritten_after_its_check_is_written_as_checked() {
    let cfg = BufferConfig {
        subbuf_size: 4 * 4096,
        ..CFG
    };
    let (w, fd) = RingWriter::create(c"in-place-toctou", cfg, ID, None).unwrap();
    // Packets of 4 pages: the rest after the head comes from the ring.
    for i in 0..20u8 {
        w.record(1, 994, clock, |b| b.put(&[i; 994]));
    }
    let map = Mapping::map(fd.as_fd(), cfg.shm_size()).unwrap();
    let mut r = RingReader::open(fd.as_fd(), cfg, ID).unwrap();
    let mut head = [0u8; HEAD_SIZE];
    let TakenInPlace::Packet(p) = r.take_in_place(&mut head) else {
        panic!("one packet is complete");
    };
    assert_eq!(p.len(), 4 * 4096);
    let checked = head;
    // A hostile writer rewrites the header and the payload after the check.
    map.write_bytes(layout::CONTROL_SIZE, &[0xEE; 64]);
    map.write_bytes(layout::CONTROL_SIZE + 2 * 4096, &[0xEE; 64]);

    let file = out_file();
    r.write_in_place(file.as_fd(), &[(&head[..], &p)]).unwrap();
    let out = written(&file);
    assert_eq!(out.len(), 4 * 4096);
    assert_eq!(out[..HEAD_SIZE], checked[..], "the checked header");
    assert_eq!(seq_of(&out), 0);
    assert_eq!(out[2 * 4096..2 * 4096 + 64], [0xEE; 64], "payload as it is");
}

#[test]
fn a_corrupted_packet_taken_in_place_is_skipped_and_not_written() {
    let (_w, fd, map) = three_packets_over_garbage(c"in-place-bad");
    map.write_bytes(layout::CONTROL_SIZE + 4096, &[0xEE; 4]);

    let mut r = RingReader::open(fd.as_fd(), CFG, ID).unwrap();
    let (mut h0, mut h1, mut h2) = ([0u8; HEAD_SIZE], [0u8; HEAD_SIZE], [0u8; HEAD_SIZE]);
    let TakenInPlace::Packet(first) = r.take_in_place(&mut h0) else {
        panic!("packet 0 is intact");
    };
    assert_eq!(
        r.take_in_place(&mut h1),
        TakenInPlace::Corrupt(PacketError::Magic {
            seq: 1,
            found: 0xEEEE_EEEE
        })
    );
    let TakenInPlace::Packet(third) = r.take_in_place(&mut h2) else {
        panic!("packet 2 is intact");
    };
    assert_eq!(r.take_in_place(&mut h1), TakenInPlace::Empty);
    assert_eq!(r.lost_packets(), 1);

    let file = out_file();
    r.write_in_place(file.as_fd(), &[(&h0[..], &first), (&h2[..], &third)])
        .unwrap();
    r.release();
    let out = written(&file);
    assert_eq!(out.len(), 2 * 4096);
    assert_eq!((seq_of(&out), seq_of(&out[4096..])), (0, 2));
    assert_eq!(
        map.atomic(layout::OFF_CONSUMED).load(Ordering::Relaxed),
        3 * 4096
    );
}
