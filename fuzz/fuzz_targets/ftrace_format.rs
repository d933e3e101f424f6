//! The ftrace format parsers on arbitrary text: an event's `format` file and
//! `events/header_page` (as privd hands them to a kernel consumer). Parsing returns an
//! error or a bounded description, never panics.
#![no_main]

use proto::ftrace::{parse_format, parse_header_page, MAX_FIELDS, MAX_FIELD_BYTES};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(f) = parse_format(&text) {
        assert!(f.fields.len() <= MAX_FIELDS);
        for field in &f.fields {
            assert!(field.offset <= MAX_FIELD_BYTES && field.size <= MAX_FIELD_BYTES);
            assert!(field
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        }
    }
    if let Ok(p) = parse_header_page(&text) {
        assert!(p.data_offset >= p.commit_offset + p.commit_size);
    }
});
