//! The packet and event decoder on arbitrary stream bytes, under the metadata our
//! tracer writes (every field kind, all three contexts).
#![no_main]

const METADATA: &str = include_str!("../seeds/metadata.tsdl");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ctf::reader::fuzz_stream(METADATA, data);
});
