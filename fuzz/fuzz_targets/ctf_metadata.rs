//! The TSDL metadata parser on arbitrary bytes: it returns an error or a trace class,
//! never panics, never loops, never allocates without bound.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ctf::reader::fuzz_metadata(data);
});
