//! The ftrace page decoder on arbitrary bytes, as consumer-kernel reads them from
//! `trace_pipe_raw`: the input (zero-padded or cut to one page) is decoded with this
//! machine's `header_page` layout and every record is walked. It must never panic,
//! hang or hand out bytes beyond the committed data; an error ends the walk.
#![no_main]

use proto::ftrace::PageLayout;
use proto::ftrace_page::{page_info, PageRecords};

const LAYOUT: PageLayout = PageLayout {
    timestamp_offset: 0,
    commit_offset: 8,
    commit_size: 8,
    data_offset: 16,
    data_size: 4080,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The raw input is a page only when it has exactly the page's size.
    if data.len() != 4096 {
        assert!(page_info(data, &LAYOUT).is_err());
    }
    let mut page = data.to_vec();
    page.resize(4096, 0);
    let Ok(records) = PageRecords::new(&page, &LAYOUT) else {
        return;
    };
    let info = *records.info();
    assert!(info.data_len <= 4080);
    let data_range = 16..16 + info.data_len;
    // Without absolute stamps (type 31) time never goes back.
    let monotonic = !page[data_range.clone()]
        .chunks(4)
        .any(|w| w[0] & 0x1f == 31);
    let (mut items, mut errors, mut last_ts) = (0usize, 0usize, None::<u64>);
    for item in records {
        items += 1;
        assert!(items <= 4080 / 4, "more items than 4-byte steps");
        assert_eq!(errors, 0, "an item after an error");
        match item {
            Ok(r) => {
                let start = r.payload.as_ptr() as usize - page.as_ptr() as usize;
                assert!(data_range.contains(&start) || r.payload.is_empty());
                assert!(start + r.payload.len() <= data_range.end);
                assert!(r.offset < info.data_len);
                if monotonic {
                    assert!(last_ts.is_none_or(|t| t <= r.ts) && r.ts >= info.timestamp);
                }
                last_ts = Some(r.ts);
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
});
