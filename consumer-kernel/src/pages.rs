//! The page decoder of `proto::ftrace_page`, as the stream uses it: every data record
//! of a page in order, and the events lost before it.

use proto::ftrace::PageLayout;
pub use proto::ftrace_page::Missed;
use proto::ftrace_page::{PageError, PageRecords};

/// Calls `each(ts, payload)` for every data record of `page`; returns the events the
/// kernel lost before it. A malformed record ends the page (the records before it
/// were delivered) and is reported as an error.
pub fn decode(
    page: &[u8],
    layout: &PageLayout,
    each: &mut dyn FnMut(u64, &[u8]),
) -> Result<Option<Missed>, PageError> {
    let records = PageRecords::new(page, layout)?;
    let missed = records.info().missed;
    for r in records {
        let r = r?;
        each(r.ts, r.payload);
    }
    Ok(missed)
}
