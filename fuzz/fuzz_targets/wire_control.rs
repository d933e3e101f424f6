//! The control protocol's decoders (`lttng` ↔ session daemon) on arbitrary bytes:
//! `Request` (what a hostile client sends the daemon) and `Reply` (what the `lttng`
//! command reads). Decoding returns an error or a message, never panics, never
//! allocates without bound; a decoded message encodes and decodes to itself. The
//! hello's version is read from any bytes without panicking, and agrees with the
//! decoded hello where there is one.
#![no_main]

use proto::wire::control::{Reply, Request};
use proto::wire::socket::decode;
use proto::wire::Message;

fn round_trip<M: Message>(data: &[u8]) {
    let Ok(msg) = decode::<M>(data) else { return };
    let bytes = postcard::to_allocvec(&msg).expect("a decoded message encodes");
    let again: M = decode(&bytes).expect("an encoded message decodes");
    assert_eq!(
        postcard::to_allocvec(&again).expect("encodes"),
        bytes,
        "decode(encode(m)) is m"
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let version = proto::wire::hello::version_of(data);
    if let Ok(Request::Hello { version: v }) = decode::<Request>(data) {
        assert_eq!(version, Some(v));
    }
    round_trip::<Request>(data);
    round_trip::<Reply>(data);
});
