//! The demo program emits one event per kind of field; our reader must give back
//! exactly the values written, and babeltrace2 must read the same trace without a
//! word on stderr and agree on every event.

mod support;

use ctf::reader::{Event, Value};
use support::*;

const N: u64 = 6;

fn int(e: &Event, name: &str) -> i128 {
    match field(&e.fields, name) {
        Some(Value::Signed(v, _)) => i128::from(*v),
        Some(Value::Unsigned(v, _)) => i128::from(*v),
        other => panic!("{}: field {name} is {other:?}", e.name),
    }
}

fn ints(e: &Event, name: &str) -> Vec<i128> {
    match field(&e.fields, name) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Signed(v, _) => i128::from(*v),
                Value::Unsigned(v, _) => i128::from(*v),
                other => panic!("{name}: element {other:?}"),
            })
            .collect(),
        other => panic!("{}: field {name} is {other:?}", e.name),
    }
}

fn float(e: &Event, name: &str) -> f64 {
    match field(&e.fields, name) {
        Some(Value::Float(v)) => *v,
        other => panic!("{}: field {name} is {other:?}", e.name),
    }
}

fn label(e: &Event, name: &str) -> (String, i64) {
    match field(&e.fields, name) {
        Some(Value::Enum { value, labels }) => (
            labels.first().map(|l| l.to_string()).unwrap_or_default(),
            value.as_i64().expect("enum container"),
        ),
        other => panic!("{}: field {name} is {other:?}", e.name),
    }
}

#[test]
fn every_field_kind_round_trips() {
    let dir = TempDir::new("fields");
    run_ok(
        traced(env!("CARGO_BIN_EXE_demo"), dir.path())
            .env("LIBUST_CONTEXTS", "vpid,vtid,procname")
            .arg(N.to_string()),
    );

    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "read errors: {:?}", read.errors);
    assert!(read.discarded.is_empty());
    let ev = &read.events;
    assert_eq!(ev.len() as u64, 2 + 7 * N, "event count");

    let (pid, tid) = {
        let e = &ev[0];
        let vpid = field(&e.stream_context, "vpid")
            .and_then(Value::as_i64)
            .unwrap();
        let vtid = field(&e.stream_context, "vtid")
            .and_then(Value::as_i64)
            .unwrap();
        (vpid, vtid)
    };
    assert_eq!(pid, tid, "the demo traces from its main thread");
    for e in ev {
        assert_eq!(
            field(&e.stream_context, "vpid").and_then(Value::as_i64),
            Some(pid)
        );
        assert_eq!(
            field(&e.stream_context, "procname").and_then(Value::as_str),
            Some("demo")
        );
    }
    assert!(ev
        .windows(2)
        .all(|w| w[0].timestamp_ns <= w[1].timestamp_ns));

    assert_eq!(&*ev[0].name, "demo:phase");
    assert_eq!(label(&ev[0], "phase"), ("Starting".into(), 0));
    for i in 0..N {
        let base = 1 + 7 * i as usize;
        let e = &ev[base];
        assert_eq!(&*e.name, "demo:integers");
        let ii = i128::from(i);
        assert_eq!(int(e, "u8v"), ii);
        assert_eq!(int(e, "u16v"), ii * 300);
        assert_eq!(int(e, "u32v"), ii * 70_000);
        assert_eq!(int(e, "u64v"), ii * 5_000_000_000);
        assert_eq!(int(e, "i8v"), -ii);
        assert_eq!(int(e, "i16v"), -ii * 300);
        assert_eq!(int(e, "i32v"), -ii * 70_000);
        assert_eq!(int(e, "i64v"), -ii * 5_000_000_000);
        assert_eq!(int(e, "flags"), 0xDEAD_0000 | ii);
        assert_eq!(int(e, "mode"), 0o755);
        assert_eq!(int(e, "mask"), 0b1010_0000 | ii);

        let e = &ev[base + 1];
        assert_eq!(&*e.name, "demo:floats");
        assert_eq!(float(e, "ratio"), i as f64 + 0.5);
        assert_eq!(float(e, "precise"), i as f64 / 3.0);
        assert_eq!(
            label(e, "even"),
            (
                if i % 2 == 0 { "true" } else { "false" }.into(),
                i64::from(i % 2 == 0)
            )
        );

        let e = &ev[base + 2];
        assert_eq!(&*e.name, "demo:text");
        assert_eq!(
            field(&e.fields, "msg").and_then(Value::as_str),
            Some(format!("hello #{i}").as_str())
        );

        let e = &ev[base + 3];
        assert_eq!(&*e.name, "demo:sequences");
        let bytes: Vec<i128> = (0..i as u8)
            .map(|b| i128::from(b.wrapping_mul(17)))
            .collect();
        assert_eq!(ints(e, "bytes"), bytes);
        assert_eq!(int(e, "_bytes_length"), bytes.len() as i128);
        let words: Vec<i128> = (0..(i as u32 % 4)).map(|w| i128::from(w * 1000)).collect();
        assert_eq!(ints(e, "words"), words);
        assert_eq!(ints(e, "deltas"), vec![-ii, ii]);

        let e = &ev[base + 4];
        assert_eq!(&*e.name, "demo:arrays");
        assert_eq!(ints(e, "rgba"), vec![ii, 1, 2, 255]);
        assert_eq!(ints(e, "coords"), vec![-1, 0, ii]);

        let e = &ev[base + 5];
        assert_eq!(&*e.name, "demo:phase");
        assert_eq!(label(e, "phase"), ("Running".into(), 1));
        assert_eq!(int(e, "step"), ii);

        let e = &ev[base + 6];
        assert_eq!(&*e.name, "lttng_ust_tracef:event");
        assert_eq!(
            field(&e.fields, "msg").and_then(Value::as_str),
            Some(format!("iteration {i} of {N}").as_str())
        );
    }
    let last = ev.last().unwrap();
    assert_eq!(label(last, "phase"), ("Stopping".into(), 2));

    // babeltrace2: exit 0, silent stderr, same events with the same raw timestamps,
    // and the same text for every context and field as our own viewer prints.
    let Some(lines) = babeltrace2_clock_cycles(dir.path()) else {
        return;
    };
    assert_eq!(lines.len(), ev.len(), "babeltrace2 event count");
    for (line, e) in lines.iter().zip(ev) {
        assert_eq!(clock_cycles(line), e.clock_value, "timestamp of {line}");
        let mut ours = Vec::new();
        ctf::reader::pretty::write_event_body(&mut ours, None, e);
        let ours = String::from_utf8(ours).unwrap();
        let theirs = &line[line.find(&*e.name).expect("event name in babeltrace2 line")..];
        assert_eq!(
            theirs,
            ours.trim_end(),
            "babeltrace2 and our reader disagree"
        );
    }
}
