//! The ring buffers write LTTng's compact event header (5-bit id, 27-bit timestamp)
//! and fall back to its extended form for ids of 31 and more and for timestamps whose
//! high bits changed. Whatever the mix, our reader and babeltrace2 must rebuild every
//! event's id and full timestamp exactly: across 27-bit wraps, after long gaps, with
//! equal timestamps, with a clock that steps back (clamped), and across packets.

mod support;

use std::os::fd::AsFd;

use ctf::metadata::{self, EventClass};
use proto::event::{Base, EventDesc, FieldDesc, FieldType, IntType, LogLevel};
use proto::ring::layout::{event_header::compact, packet, StreamIdentity};
use proto::ring::reader::{Next, RingReader};
use proto::ring::writer::RingWriter;
use proto::ring::{BufferConfig, Mode};
use support::{babeltrace2_clock_cycles, clock_cycles, read_trace, TempDir};

const IDS: [u32; 9] = [0, 1, 2, 3, 5, 30, 31, 33, 45];
const WRAP: u64 = 1 << compact::COMPACT_TS_BITS;

fn event_class(id: u32) -> EventClass {
    EventClass {
        id,
        stream_id: 0,
        desc: EventDesc {
            provider: "hdr".into(),
            name: format!("e{id}"),
            loglevel: LogLevel::Info,
            model_emf_uri: None,
            fields: vec![FieldDesc {
                name: "seq".into(),
                ty: FieldType::Integer(IntType::new(64, false, Base::Dec)),
            }],
        },
    }
}

/// (event id, clock reading) of every event, in the order they are recorded.
fn script() -> Vec<(u32, u64)> {
    // Three events before a 27-bit boundary, then one just past it.
    let start = (5 << 40) | (WRAP - 3000);
    let mut s = vec![
        (0, start),
        (3, start + 1000),
        (30, start + 4000),
        (31, start + 4010),
        (45, start + 4020),
        (2, start + 4020 + 200_000_000),
        (2, start + 4020 + 200_000_000),
        // The clock steps back: the writer records the previous time instead.
        (1, start + 4020 + 199_999_000),
    ];
    let deltas = [0, 1, WRAP - 1, WRAP, WRAP + 1, 12_345, 7, 3 * WRAP];
    let mut ts = s.last().unwrap().1;
    for i in 0..3000usize {
        ts += deltas[i % deltas.len()];
        s.push((IDS[(i * 7) % IDS.len()], ts));
    }
    s
}

#[test]
fn every_mix_of_compact_and_extended_headers_reads_back_exactly() {
    let dir = TempDir::new("event-headers");
    let cfg = BufferConfig {
        subbuf_size: 4096,
        num_subbuf: 64,
        mode: Mode::Discard,
    };
    let id = StreamIdentity {
        uuid: [3; 16],
        stream_id: 0,
        stream_instance_id: 0,
        cpu_id: 0,
    };
    let (w, fd) = RingWriter::create(c"hdr-test", cfg, id, None).unwrap();
    let mut r = RingReader::open(fd.as_fd(), cfg, id).unwrap();

    let script = script();
    let mut expected = Vec::new();
    let mut last = 0;
    for (seq, &(event, ts)) in script.iter().enumerate() {
        assert!(
            w.record(event, 8, || ts, |b| b.put_u64(seq as u64)),
            "event {seq} dropped: the ring is large enough for all"
        );
        last = last.max(ts);
        expected.push((format!("hdr:e{event}"), last, seq as u64));
    }
    r.flush(|| last + 1);
    let mut stream = Vec::new();
    let mut packet = Vec::new();
    let mut packets = 0;
    let mut event_bytes = 0;
    loop {
        match r.next_packet(&mut packet) {
            Next::Packet => {
                stream.extend_from_slice(&packet);
                packets += 1;
                let content = &packet[packet::CONTENT_SIZE..][..8];
                let content = u64::from_le_bytes(content.try_into().unwrap()) as usize / 8;
                event_bytes += content - packet::HEADER_SIZE;
            }
            Next::Empty => break,
            Next::Corrupt(e) => panic!("corrupted packet: {e}"),
        }
    }
    assert!(packets > 3, "the events span several packets ({packets})");

    let trace_dir = dir.path().join("trace");
    std::fs::create_dir_all(&trace_dir).unwrap();
    std::fs::write(trace_dir.join("channel0_0"), &stream).unwrap();
    let trace = support::ust_trace_desc([3; 16], IDS.iter().map(|&i| event_class(i)).collect());
    let text = metadata::generate(&trace).unwrap();
    assert!(text.contains("event.header := struct event_header_compact;"));
    std::fs::write(trace_dir.join("metadata"), text).unwrap();

    // Our reader: the same events, ids, full timestamps and payloads, in order.
    let read = read_trace(&trace_dir);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(read.discarded.is_empty(), "{:?}", read.discarded);
    let got: Vec<(String, u64, u64)> = read
        .events
        .iter()
        .map(|e| {
            let seq = support::field(&e.fields, "seq").and_then(ctf::reader::Value::as_u64);
            (e.name.to_string(), e.clock_value, seq.expect("seq"))
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, x) in got.iter().zip(&expected) {
        assert_eq!(g, x);
    }
    // Both header forms were written.
    let n = expected.len();
    assert!(
        event_bytes > n * (compact::COMPACT_SIZE + 8),
        "no extended header"
    );
    assert!(
        event_bytes < n * (compact::EXTENDED_SIZE + 8),
        "no compact header"
    );

    // babeltrace2: silent, the same names and raw timestamps.
    let Some(lines) = babeltrace2_clock_cycles(&trace_dir) else {
        return;
    };
    assert_eq!(lines.len(), expected.len(), "babeltrace2 event count");
    for (line, (name, ts, seq)) in lines.iter().zip(&expected) {
        assert_eq!(clock_cycles(line), *ts, "timestamp of {line}");
        assert!(line.contains(&format!(" {name}: ")), "{line}");
        assert!(line.ends_with(&format!("{{ seq = {seq} }}")), "{line}");
    }
}
