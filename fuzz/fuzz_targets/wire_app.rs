//! The application protocol's decoders on arbitrary bytes: `AppMessage` (what a
//! hostile application sends the session daemon) and `DaemonMessage` (what `libust`
//! reads from its daemon). Every decoded tracepoint description goes through
//! `EventDesc::validate`, which must never panic; a description it accepts carries
//! only TSDL identifiers, so nothing it holds can inject metadata.
#![no_main]

use proto::event::{EventDesc, FieldType};
use proto::wire::app::{AppMessage, DaemonMessage};
use proto::wire::socket::decode;
use proto::wire::Message;

fn round_trip<M: Message>(msg: &M) {
    let bytes = postcard::to_allocvec(msg).expect("a decoded message encodes");
    let again: M = decode(&bytes).expect("an encoded message decodes");
    assert_eq!(
        postcard::to_allocvec(&again).expect("encodes"),
        bytes,
        "decode(encode(m)) is m"
    );
}

fn identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check(d: &EventDesc) {
    if d.validate().is_err() {
        return;
    }
    // Empty for kernel events (the session daemon refuses it from applications).
    assert!(
        d.provider.is_empty() || identifier(&d.provider),
        "validated provider {:?}",
        d.provider
    );
    assert!(identifier(&d.name), "validated event name {:?}", d.name);
    for f in &d.fields {
        assert!(identifier(&f.name), "validated field name {:?}", f.name);
        if let FieldType::Enum { labels, .. } = &f.ty {
            for l in labels {
                assert!(l.start <= l.end, "validated enum range {l:?}");
                assert!(identifier(&l.label), "validated enum label {:?}", l.label);
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode::<AppMessage>(data) {
        if let AppMessage::Tracepoints(descs) = &msg {
            descs.iter().for_each(check);
        }
        round_trip(&msg);
    }
    if let Ok(msg) = decode::<DaemonMessage>(data) {
        round_trip(&msg);
    }
});
