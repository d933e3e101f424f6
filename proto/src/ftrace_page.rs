//! Decoding one page (sub-buffer) of the kernel's ftrace ring buffer, as one `read()`
//! of `per_cpu/cpuN/trace_pipe_raw` returns it.
//!
//! The page is untrusted input: [`page_info`] checks the header against the
//! [`PageLayout`] parsed from `events/header_page`, and [`PageRecords`] walks the
//! records without ever reading past the committed data, panicking or looping: every
//! record header moves the walk forward by at least 4 bytes, so one page costs at most
//! `data_size / 4` steps. A malformed record ends the walk with one error item.
//!
//! Byte order: little-endian (the only order this tracer runs on). Layout of a page:
//!
//! - `u64 timestamp` at `layout.timestamp_offset`: the time base of the first record.
//! - `long commit` (`layout.commit_size` bytes) at `layout.commit_offset`: bits 0..26
//!   are the number of data bytes; bit 31 [`RB_MISSED_EVENTS`] says events were lost
//!   before this page, bit 30 [`RB_MISSED_STORED`] that the count is stored as a
//!   `long` right after the data. On 64-bit kernels the word is sign-extended (a page
//!   with lost events reads `0xffff_ffff_c000_0fc0`): bits 32.. and 27..29 are ignored.
//! - records from `layout.data_offset`: a 32-bit header, `type_len` in the low 5 bits
//!   and a 27-bit `time_delta` above, then `array[]` words:
//!
//! | type_len | record | time |
//! |---|---|---|
//! | 1..=28 | data, payload of `4 * type_len` bytes at `array[0]` | `ts += delta` |
//! | 0 | data, `array[0]` = payload bytes + 4, payload at `array[1]` | `ts += delta` |
//! | 29, delta 0 | end of the data on this page | |
//! | 29, delta ≠ 0 | padding (a discarded record): skip `4 + array[0]` bytes | none (as the kernel's reader) |
//! | 30 | time extend | `ts += (array[0] << 27) + delta` |
//! | 31 | absolute time stamp | `ts = (array[0] << 27) + delta`, top 5 bits from `ts` |

use crate::ftrace::PageLayout;

/// Commit word flag: events were lost between the previous page and this one.
pub const RB_MISSED_EVENTS: u64 = 1 << 31;
/// Commit word flag: the lost-event count is stored as a `long` after the data.
pub const RB_MISSED_STORED: u64 = 1 << 30;
/// Bits of the commit word that hold the data length.
pub const COMMIT_SIZE_MASK: u64 = (1 << 27) - 1;
/// Largest page accepted (the kernel's sub-buffers are far smaller).
pub const MAX_PAGE_SIZE: usize = 1 << 20;

const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;
/// The top 5 bits of a timestamp, which an absolute time stamp record does not carry.
const TS_MSB: u64 = 0xf8 << 56;

/// Why a page, or a record in it, was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("page of {got} bytes, the layout says {want}")]
    WrongSize { got: usize, want: usize },
    #[error("unusable page layout: {0}")]
    Layout(&'static str),
    #[error("commit says {size} data bytes, the page holds {room}")]
    CommitTooLarge { size: usize, room: usize },
    #[error("lost-event count stored past the end of the page")]
    MissedOutside,
    #[error("record at data offset {offset} runs past the committed data")]
    Truncated { offset: usize },
    #[error("record at data offset {offset} has the impossible length {len}")]
    BadLength { offset: usize, len: u32 },
    #[error("timestamp overflows at data offset {offset}")]
    TimeOverflow { offset: usize },
}

/// Events lost before a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    /// The flag is set but the kernel had no room to store the count.
    Unknown,
    Count(u64),
}

/// A page's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageInfo {
    /// Time base of the first record (trace-clock units, ns for `mono`).
    pub timestamp: u64,
    /// Committed data bytes (at most the layout's data size).
    pub data_len: usize,
    /// Events lost before this page, if the kernel flagged any.
    pub missed: Option<Missed>,
}

/// One data record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Its time (page timestamp plus the deltas so far).
    pub ts: u64,
    /// The event, starting with its common fields; for type_len 1..=28 it includes the
    /// padding to 4 bytes, so read its length from the event's `format`.
    pub payload: &'a [u8],
    /// Where the record header is, from the start of the data.
    pub offset: usize,
}

impl Record<'_> {
    /// The event id (`common_type`, the first u16 of the payload), if there is one.
    pub fn common_type(&self) -> Option<u16> {
        Some(u16::from_le_bytes(self.payload.get(..2)?.try_into().ok()?))
    }
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// `len` bytes at `offset` of `page`, or `None` when outside.
fn field(page: &[u8], offset: u32, len: usize) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    page.get(start..start.checked_add(len)?)
}

/// Reads and checks a page's header. `page` must be exactly one page of `layout`.
pub fn page_info(page: &[u8], layout: &PageLayout) -> Result<PageInfo, PageError> {
    let data_offset = layout.data_offset as usize;
    let want = data_offset
        .checked_add(layout.data_size as usize)
        .filter(|&n| n <= MAX_PAGE_SIZE)
        .ok_or(PageError::Layout("page size"))?;
    if ![4, 8].contains(&layout.commit_size) {
        return Err(PageError::Layout("commit is neither 4 nor 8 bytes"));
    }
    let commit_end = layout.commit_offset as usize + layout.commit_size as usize;
    let ts_end = layout.timestamp_offset as usize + 8;
    if commit_end > data_offset || ts_end > want {
        return Err(PageError::Layout("header fields overlap the data"));
    }
    if page.len() != want {
        return Err(PageError::WrongSize {
            got: page.len(),
            want,
        });
    }
    let timestamp = field(page, layout.timestamp_offset, 8)
        .map(le)
        .ok_or(PageError::Layout("timestamp"))?;
    let commit_size = layout.commit_size as usize;
    let commit = field(page, layout.commit_offset, commit_size)
        .map(le)
        .ok_or(PageError::Layout("commit"))?;
    let data_len = (commit & COMMIT_SIZE_MASK) as usize;
    let room = want - data_offset;
    if data_len > room {
        return Err(PageError::CommitTooLarge {
            size: data_len,
            room,
        });
    }
    let missed = if commit & RB_MISSED_EVENTS == 0 {
        None
    } else if commit & RB_MISSED_STORED == 0 {
        Some(Missed::Unknown)
    } else {
        let at = data_offset + data_len;
        let count = page
            .get(at..at + commit_size)
            .map(le)
            .ok_or(PageError::MissedOutside)?;
        Some(Missed::Count(count))
    };
    Ok(PageInfo {
        timestamp,
        data_len,
        missed,
    })
}

/// The kernel's `rb_fix_abs_ts`: an absolute stamp has 59 bits; the top 5 come from
/// the running time, plus one wrap if that would go backwards.
fn absolute(abs: u64, running: u64) -> u64 {
    if running & TS_MSB == 0 {
        return abs;
    }
    let ts = abs | (running & TS_MSB);
    if ts < running {
        ts.wrapping_add(1 << 59)
    } else {
        ts
    }
}

/// The data records of one page, in order, with their times.
///
/// Yields `Ok(Record)` per data record; ends at the committed length or at a null
/// padding record; a malformed record yields one `Err` and ends the iteration.
#[derive(Clone, Debug)]
pub struct PageRecords<'a> {
    info: PageInfo,
    /// The committed data only.
    data: &'a [u8],
    pos: usize,
    ts: u64,
    done: bool,
}

impl<'a> PageRecords<'a> {
    /// Checks the page's header ([`page_info`]) and starts at its first record.
    pub fn new(page: &'a [u8], layout: &PageLayout) -> Result<Self, PageError> {
        let info = page_info(page, layout)?;
        let start = layout.data_offset as usize;
        let data = &page[start..start + info.data_len];
        Ok(Self {
            info,
            data,
            pos: 0,
            ts: info.timestamp,
            done: false,
        })
    }

    /// The page's header.
    pub fn info(&self) -> &PageInfo {
        &self.info
    }

    /// The running time: that of the last record, or after the last time extend.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    fn word(&self, at: usize, record: usize) -> Result<u32, PageError> {
        at.checked_add(4)
            .and_then(|end| self.data.get(at..end))
            .map(|b| le(b) as u32)
            .ok_or(PageError::Truncated { offset: record })
    }

    fn add(&mut self, delta: u64, offset: usize) -> Result<(), PageError> {
        self.ts = self
            .ts
            .checked_add(delta)
            .ok_or(PageError::TimeOverflow { offset })?;
        Ok(())
    }

    /// Walks to the next data record. Each turn of the loop moves `pos` forward by 4
    /// bytes at least, or returns.
    fn step(&mut self) -> Result<Option<Record<'a>>, PageError> {
        loop {
            let off = self.pos;
            if off >= self.data.len() {
                return Ok(None);
            }
            let header = self.word(off, off)?;
            let type_len = header & 0x1f;
            let delta = u64::from(header >> 5);
            let (payload_at, payload_len, next) = match type_len {
                1..=28 => {
                    let len = 4 * type_len as usize;
                    (off + 4, len, off + 4 + len)
                }
                0 => {
                    let len = self.word(off + 4, off)?;
                    if len < 4 {
                        return Err(PageError::BadLength { offset: off, len });
                    }
                    let payload = (len - 4) as usize;
                    let next = payload
                        .checked_next_multiple_of(4)
                        .and_then(|n| n.checked_add(off + 8))
                        .ok_or(PageError::Truncated { offset: off })?;
                    (off + 8, payload, next)
                }
                TYPE_PADDING => {
                    if delta == 0 {
                        return Ok(None);
                    }
                    let len = self.word(off + 4, off)? as usize;
                    let next = len
                        .checked_next_multiple_of(4)
                        .and_then(|n| n.checked_add(off + 4))
                        .filter(|&n| n <= self.data.len())
                        .ok_or(PageError::Truncated { offset: off })?;
                    self.pos = next;
                    continue;
                }
                TYPE_TIME_EXTEND => {
                    let high = u64::from(self.word(off + 4, off)?);
                    self.add((high << 27) + delta, off)?;
                    self.pos = off + 8;
                    continue;
                }
                _ => {
                    let high = u64::from(self.word(off + 4, off)?);
                    debug_assert_eq!(type_len, TYPE_TIME_STAMP);
                    self.ts = absolute((high << 27) | delta, self.ts);
                    self.pos = off + 8;
                    continue;
                }
            };
            if next > self.data.len() {
                return Err(PageError::Truncated { offset: off });
            }
            self.add(delta, off)?;
            self.pos = next;
            return Ok(Some(Record {
                ts: self.ts,
                payload: &self.data[payload_at..payload_at + payload_len],
                offset: off,
            }));
        }
    }
}

impl<'a> Iterator for PageRecords<'a> {
    type Item = Result<Record<'a>, PageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for PageRecords<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's `header_page` (kernel 6.18, x86-64).
    const LAYOUT: PageLayout = PageLayout {
        timestamp_offset: 0,
        commit_offset: 8,
        commit_size: 8,
        data_offset: 16,
        data_size: 4080,
    };

    /// A page with base time `ts`, the given commit word and data words.
    fn page(ts: u64, commit: u64, words: &[u32]) -> Vec<u8> {
        let mut p = vec![0u8; 4096];
        p[..8].copy_from_slice(&ts.to_le_bytes());
        p[8..16].copy_from_slice(&commit.to_le_bytes());
        for (i, w) in words.iter().enumerate() {
            p[16 + 4 * i..20 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        p
    }

    fn hdr(type_len: u32, delta: u32) -> u32 {
        (delta << 5) | type_len
    }

    fn all(p: &[u8]) -> Vec<Result<(u64, usize), PageError>> {
        PageRecords::new(p, &LAYOUT)
            .unwrap()
            .map(|r| r.map(|r| (r.ts, r.payload.len())))
            .collect()
    }

    #[test]
    fn deltas_extends_absolute_stamps_and_padding() {
        let words = [
            hdr(2, 0),
            7,
            8, // ts 1000, 8 bytes
            hdr(1, 5),
            9, // ts 1005
            hdr(TYPE_TIME_EXTEND, 3),
            2, // + (2 << 27) + 3
            hdr(1, 0),
            1,
            hdr(TYPE_PADDING, 77),
            // array[0] counts itself: 4 + 12 = 16 bytes in all
            12,
            0,
            0, // skipped, delta not added
            hdr(0, 10),
            4 + 6,
            1,
            2, // 6-byte payload, padded to 8
            hdr(TYPE_TIME_STAMP, 0x1234),
            1, // absolute (1 << 27) + 0x1234
            hdr(1, 1),
            3,
        ];
        let p = page(1000, 4 * words.len() as u64, &words);
        let ext = 1005 + (2 << 27) + 3;
        assert_eq!(
            all(&p),
            vec![
                Ok((1000, 8)),
                Ok((1005, 4)),
                Ok((ext, 4)),
                Ok((ext + 10, 6)),
                Ok(((1 << 27) + 0x1234 + 1, 4)),
            ]
        );
    }

    #[test]
    fn absolute_stamps_take_the_top_bits_from_the_running_time() {
        let top = 0x08 << 56;
        assert_eq!(absolute(5, 100), 5);
        assert_eq!(absolute(500, top + 100), top + 500);
        // Going backwards within the 59 bits means the low part wrapped.
        assert_eq!(absolute(5, top + 100), top + (1 << 59) + 5);
        // The kernel wraps around u64 too.
        assert_eq!(absolute(5, u64::MAX), 5);
    }

    #[test]
    fn null_padding_ends_the_page_and_lost_counts_are_read() {
        let p = page(
            1,
            16 | RB_MISSED_EVENTS,
            &[hdr(1, 0), 0, hdr(TYPE_PADDING, 0), 0],
        );
        let info = page_info(&p, &LAYOUT).unwrap();
        assert_eq!(info.missed, Some(Missed::Unknown));
        assert_eq!(all(&p), vec![Ok((1, 4))]);
        let sign_extended = 0xffff_ffff_c000_0000 | 8;
        let p = page(1, sign_extended, &[hdr(1, 0), 0, 42, 0]);
        let info = page_info(&p, &LAYOUT).unwrap();
        assert_eq!((info.data_len, info.missed), (8, Some(Missed::Count(42))));
        let p = page(1, 4080 | RB_MISSED_EVENTS | RB_MISSED_STORED, &[]);
        assert_eq!(page_info(&p, &LAYOUT), Err(PageError::MissedOutside));
    }

    #[test]
    fn malformed_pages_end_with_an_error() {
        let ok = page(0, 8, &[hdr(1, 0), 0]);
        assert_eq!(
            page_info(&ok[..4095], &LAYOUT),
            Err(PageError::WrongSize {
                got: 4095,
                want: 4096
            })
        );
        assert_eq!(
            page_info(&page(0, 4084, &[]), &LAYOUT),
            Err(PageError::CommitTooLarge {
                size: 4084,
                room: 4080
            })
        );
        let truncated = Err(PageError::Truncated { offset: 8 });
        for (commit, words) in [
            // type_len 0 with a huge length
            (24, vec![hdr(1, 0), 0, hdr(0, 0), u32::MAX, 0, 0]),
            // padding with a huge length
            (
                24,
                vec![hdr(1, 0), 0, hdr(TYPE_PADDING, 1), u32::MAX - 2, 0, 0],
            ),
            // a record running past the committed data (and past the page)
            (16, vec![hdr(1, 0), 0, hdr(28, 0), 0]),
            // a header cut by the committed length
            (10, vec![hdr(1, 0), 0, hdr(1, 0), 0]),
            // an extend without its array word
            (12, vec![hdr(1, 0), 0, hdr(TYPE_TIME_EXTEND, 0), 1]),
        ] {
            assert_eq!(
                all(&page(0, commit, &words)),
                vec![Ok((0, 4)), truncated],
                "{words:x?}"
            );
        }
        // A full page of 12-byte records from data offset 8: the one at 4076 would end
        // at 4088, past the page.
        let mut p = page(0, 4080, &[hdr(1, 0), 0]);
        for at in (16 + 8..4096).step_by(12) {
            p[at..at + 4].copy_from_slice(&hdr(2, 1).to_le_bytes());
        }
        let got = all(&p);
        assert_eq!(got.len(), 1 + 339 + 1);
        assert_eq!(got[339], Ok((339, 8)));
        assert_eq!(got[340], Err(PageError::Truncated { offset: 4076 }));
        assert_eq!(
            all(&page(0, 8, &[hdr(0, 0), 3])),
            vec![Err(PageError::BadLength { offset: 0, len: 3 })]
        );
        assert_eq!(
            all(&page(u64::MAX, 8, &[hdr(1, 1), 0])),
            vec![Err(PageError::TimeOverflow { offset: 0 })]
        );
        let bad_layout = PageLayout {
            timestamp_offset: 4090,
            ..LAYOUT
        };
        assert!(matches!(
            page_info(&ok, &bad_layout),
            Err(PageError::Layout(_))
        ));
    }
}
