//! The control protocol's decoders (`lttng` ↔ session daemon) on arbitrary bytes:
//! `Request` (what a hostile client sends the daemon) and `Reply` (what the `lttng`
//! command reads). Decoding returns an error or a message, never panics, never
//! allocates without bound; a decoded message encodes and decodes to itself.
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
    round_trip::<Request>(data);
    round_trip::<Reply>(data);
});
