//! The privd protocol's decoders on arbitrary bytes:
//! `PrivRequest` (what the root helper reads from any group member) and `PrivReply`
//! (what a session daemon reads back). Decoding returns an
//! error or a message, never panics, never allocates without bound; a decoded message
//! encodes and decodes to itself.
#![no_main]

use proto::wire::privd::{PrivReply, PrivRequest};
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
    round_trip::<PrivRequest>(data);
    round_trip::<PrivReply>(data);
});
