//! Corrupt or hostile input gives errors (never a panic or a hang), and the streams that are
//! fine are still read in full.

mod common;

use common::{example_stream, write_trace, CLEAN, METADATA, PACKET_BYTES};
use ctf::reader::{DecodeError, Item, MetadataError, OpenError, ReadErrorKind, TraceSet};

const EVENTS_PER_STREAM: usize = 7;

/// Opens a trace with a good `channel0_0` and the given `channel0_1`, returns the number of
/// events read per stream file and the errors.
fn read_with_bad_stream(name: &str, bad: &[u8]) -> ([usize; 2], Vec<ctf::reader::ReadError>) {
    let dir = common::temp_dir(name);
    let good = example_stream(CLEAN);
    write_trace(
        &dir,
        METADATA.as_bytes(),
        &[("channel0_0", &good), ("channel0_1", bad)],
    );
    let mut set = TraceSet::open(&dir).unwrap();
    let mut counts = [0; 2];
    let mut errors = Vec::new();
    for item in set.items() {
        match item {
            Item::Event(e) => {
                counts[usize::from(e.stream_path.ends_with("channel0_1"))] += 1;
            }
            Item::Error(e) => errors.push(e),
            Item::Discarded(_) => {}
        }
    }
    (counts, errors)
}

fn patch_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn a_truncated_stream_file_reports_the_packet_beyond_the_end() {
    let mut bad = example_stream(CLEAN);
    bad.truncate(PACKET_BYTES + 1000);
    let (counts, errors) = read_with_bad_stream("truncated", &bad);
    assert_eq!(counts, [EVENTS_PER_STREAM, 5]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].packet, Some((1, PACKET_BYTES as u64)));
    assert_eq!(
        errors[0].kind,
        ReadErrorKind::PacketBeyondEof {
            packet: 32768,
            left: 1000
        }
    );
    let msg = errors[0].to_string();
    assert!(
        msg.ends_with("channel0_1: packet 1 at offset 4096: packet_size 32768 bits goes beyond the end of the file (1000 bytes left)"),
        "{msg}"
    );
}

#[test]
fn content_size_larger_than_packet_size_skips_the_rest_of_the_file() {
    let mut bad = example_stream(CLEAN);
    patch_u64(&mut bad, 48, 99_999);
    let (counts, errors) = read_with_bad_stream("content", &bad);
    assert_eq!(counts, [EVENTS_PER_STREAM, 0]);
    assert_eq!(
        errors[0].kind,
        ReadErrorKind::ContentExceedsPacket {
            content: 99_999,
            packet: 32_768
        }
    );
    assert!(errors[0]
        .to_string()
        .ends_with("packet 0 at offset 0: content_size 99999 bits exceeds packet_size 32768 bits"));
}

#[test]
fn a_packet_size_that_is_not_whole_bytes_or_too_small_is_refused() {
    let mut bad = example_stream(CLEAN);
    patch_u64(&mut bad, 56, 32_767);
    patch_u64(&mut bad, 48, 1000);
    let (_, errors) = read_with_bad_stream("notbytes", &bad);
    assert_eq!(
        errors[0].kind,
        ReadErrorKind::PacketSizeNotBytes { packet: 32_767 }
    );

    let mut bad = example_stream(CLEAN);
    patch_u64(&mut bad, 56, 8);
    patch_u64(&mut bad, 48, 8);
    let (counts, errors) = read_with_bad_stream("small", &bad);
    assert_eq!(counts, [EVENTS_PER_STREAM, 0]);
    assert!(
        matches!(errors[0].kind, ReadErrorKind::PacketTooSmall { .. }),
        "{}",
        errors[0]
    );
}

#[test]
fn a_bad_magic_number_is_reported() {
    let mut bad = example_stream(CLEAN);
    bad[0] = 0;
    let (counts, errors) = read_with_bad_stream("magic", &bad);
    assert_eq!(counts, [EVENTS_PER_STREAM, 0]);
    assert_eq!(
        errors[0].kind,
        ReadErrorKind::BadMagic { found: 0xc1fc_1f00 }
    );
    // A stray text file in the trace directory is read as a stream, as babeltrace2 does.
    let (_, errors) = read_with_bad_stream("readme", b"this is not a stream file\n");
    assert!(matches!(errors[0].kind, ReadErrorKind::BadMagic { .. }));
}

#[test]
fn a_huge_sequence_length_ends_the_packet_but_not_the_stream() {
    let mut bad = example_stream(CLEAN);
    // Event 2 (demo:buffer, compact header) starts after event 1; find its `len` = 3.
    let at = bad
        .windows(7)
        .position(|w| w == [3, 0, 0, 0, 1, 2, 0xff])
        .unwrap();
    bad[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let (counts, errors) = read_with_bad_stream("hugeseq", &bad);
    // Event 1 of packet 0, then both events of packet 1.
    assert_eq!(counts, [EVENTS_PER_STREAM, 3]);
    let ReadErrorKind::Event { index, source, .. } = &errors[0].kind else {
        panic!("{}", errors[0])
    };
    assert_eq!(*index, 1);
    assert!(
        matches!(
            source,
            DecodeError::TooLong {
                len: 0xffff_ffff,
                ..
            }
        ),
        "{source}"
    );
}

#[test]
fn an_unknown_event_id_is_reported() {
    let mut bad = example_stream(CLEAN);
    bad[84 + 1] = 7; // extended header's 32-bit id of the first event
    let (counts, errors) = read_with_bad_stream("unknownid", &bad);
    assert_eq!(counts, [EVENTS_PER_STREAM, 2]);
    assert!(
        matches!(errors[0].kind, ReadErrorKind::UnknownEvent { id: 7, .. }),
        "{}",
        errors[0]
    );
}

fn open_with_metadata(name: &str, metadata: &[u8]) -> Result<TraceSet, OpenError> {
    let dir = common::temp_dir(name);
    write_trace(&dir, metadata, &[("channel0_0", &example_stream(CLEAN))]);
    TraceSet::open(&dir)
}

#[test]
fn garbage_nul_padded_or_deeply_nested_metadata_is_an_error() {
    let err = open_with_metadata("garbage", b"\x89PNG\r\n\x1a\n garbage")
        .err()
        .unwrap();
    assert!(matches!(err, OpenError::Metadata { .. }), "{err}");

    let mut padded = METADATA.as_bytes().to_vec();
    padded.extend_from_slice(&[0; 16]);
    let err = open_with_metadata("nul", &padded).err().unwrap();
    let OpenError::Metadata { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        source.to_string().ends_with("invalid character 0x00"),
        "{source}"
    );

    let mut nested = String::from(
        "/* CTF 1.8 */ trace { major = 1; minor = 8; byte_order = le; packet.header := ",
    );
    nested.push_str(&"struct { ".repeat(5000));
    let err = open_with_metadata("nested", nested.as_bytes())
        .err()
        .unwrap();
    let OpenError::Metadata { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(matches!(source, MetadataError::TooDeep { .. }), "{source}");
}

#[test]
fn no_trace_under_a_directory_is_an_open_error() {
    let dir = common::temp_dir("empty");
    let err = TraceSet::open(&dir).err().unwrap();
    assert!(err.to_string().contains("no CTF trace found"), "{err}");
}

/// Deterministic mutation smoke test: thousands of corrupted streams and metadata texts
/// decode to completion without panicking.
#[test]
fn random_corruption_never_panics() {
    let good = example_stream(CLEAN);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut s = good.clone();
        for _ in 0..(rand() % 8 + 1) {
            let at = (rand() as usize) % s.len();
            s[at] = rand() as u8;
        }
        if rand() % 4 == 0 {
            s.truncate((rand() as usize) % s.len());
        }
        ctf::reader::fuzz_stream(METADATA, &s);
    }
    let md = METADATA.as_bytes();
    for _ in 0..3000 {
        let mut m = md.to_vec();
        for _ in 0..(rand() % 4 + 1) {
            let at = (rand() as usize) % m.len();
            m[at] = b"{}[]<>;:=.,0123456789_az \"\0\xff"[(rand() % 28) as usize];
        }
        ctf::reader::fuzz_metadata(&m);
        if let Ok(text) = std::str::from_utf8(&m) {
            ctf::reader::fuzz_stream(text, &good);
        }
    }
}
