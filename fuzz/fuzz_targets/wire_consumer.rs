//! The consumer protocol's decoders (session daemon ↔ consumer) on arbitrary bytes:
//! `ConsumerRequest` (what the sandboxed consumer reads) and `ConsumerReply` (what the
//! daemon reads back from a consumer it must not trust blindly). Decoding returns an
//! error or a message, never panics, never allocates without bound; a decoded message
//! encodes and decodes to itself.
#![no_main]

use proto::wire::consumer::{ConsumerReply, ConsumerRequest};
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
    round_trip::<ConsumerRequest>(data);
    round_trip::<ConsumerReply>(data);
});
