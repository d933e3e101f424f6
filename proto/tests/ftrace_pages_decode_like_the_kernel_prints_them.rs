//! Real `trace_pipe_raw` pages of this machine's kernel (6.18, x86-64, `trace_clock`
//! mono), decoded and compared record by record with the text `trace` file the kernel
//! printed for the same buffer before the pages were read: same count, same event
//! (`common_type` → format name), same pid, same time in µs. The captures and the script
//! that made them are in `tests/data/ftrace/`:
//!
//! - `busy/`: sched_switch + raw_syscalls of one shell on CPU 0, a 300-byte
//!   `trace_marker` write (a type_len 0 record) and a 0.4 s idle gap (a time extend).
//! - `lost/`: an 8 KB buffer in overwrite mode under a syscall storm: the first page
//!   read carries RB_MISSED_EVENTS | RB_MISSED_STORED and the count, which equals the
//!   `overrun` of `per_cpu/cpu0/stats`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proto::ftrace::{parse_format, parse_header_page, PageLayout};
use proto::ftrace_page::{page_info, Missed, PageRecords};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ftrace")
}

fn layout() -> PageLayout {
    parse_header_page(&std::fs::read_to_string(data().join("header_page")).unwrap()).unwrap()
}

/// Event id → format name, from the saved `format` files.
fn names() -> HashMap<u16, String> {
    ["sched_switch", "sys_enter", "sys_exit", "print"]
        .iter()
        .map(|n| {
            let text = std::fs::read_to_string(data().join(format!("{n}.format"))).unwrap();
            let f = parse_format(&text).unwrap();
            (f.id, f.name)
        })
        .collect()
}

/// The pages of a capture, in the order they were read.
fn pages(dir: &str) -> Vec<Vec<u8>> {
    (0..)
        .map(|i| data().join(dir).join(format!("page{i}.bin")))
        .take_while(|p| p.exists())
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// One decoded record, as the text file would show it.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    usecs: u64,
    name: String,
    pid: i32,
}

/// Parses `comm-pid [cpu] flags secs.usecs: name: ...` lines of CPU `cpu`.
fn text_lines(dir: &str, cpu: u32) -> Vec<Line> {
    let text = std::fs::read_to_string(data().join(dir).join("trace.txt")).unwrap();
    let tag = format!(" [{cpu:03}] ");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let at = l.find(&tag)?;
            let task = l[..at].trim();
            let pid = task.rsplit_once('-')?.1.parse().ok()?;
            let mut rest = l[at + tag.len()..].split_whitespace().skip(1);
            let (secs, usecs) = rest.next()?.strip_suffix(':')?.split_once('.')?;
            let usecs = secs.parse::<u64>().ok()? * 1_000_000 + usecs.parse::<u64>().ok()?;
            let name = rest.next()?.strip_suffix(':')?;
            // trace_marker writes print as tracing_mark_write; their format is "print".
            let name = if name == "tracing_mark_write" {
                "print"
            } else {
                name
            };
            Some(Line {
                usecs,
                name: name.to_string(),
                pid,
            })
        })
        .collect()
}

/// Every record of every page, with its time in ns.
fn decode(pages: &[Vec<u8>]) -> Vec<(u64, Line, Vec<u8>)> {
    let (layout, names) = (layout(), names());
    let mut out = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let records = PageRecords::new(page, &layout).unwrap();
        let base = records.info().timestamp;
        for r in records {
            let r = r.unwrap_or_else(|e| panic!("page {i}: {e}"));
            assert!(r.ts >= base, "page {i}: a record before the page's time");
            let id = r.common_type().unwrap();
            let pid = i32::from_le_bytes(r.payload[4..8].try_into().unwrap());
            let line = Line {
                // The kernel prints ns2usecs(ts): rounded to the nearest µs.
                usecs: (r.ts + 500) / 1000,
                name: names
                    .get(&id)
                    .unwrap_or_else(|| panic!("unknown id {id}"))
                    .clone(),
                pid,
            };
            out.push((r.ts, line, r.payload.to_vec()));
        }
    }
    out
}

fn assert_same(dir: &str, decoded: &[(u64, Line, Vec<u8>)]) {
    let text = text_lines(dir, 0);
    assert!(!text.is_empty());
    assert_eq!(decoded.len(), text.len(), "{dir}: record count");
    for (i, ((_, got), want)) in decoded
        .iter()
        .map(|(ts, l, _)| (ts, l))
        .zip(&text)
        .enumerate()
    {
        assert_eq!(got, want, "{dir}: record {i}");
    }
    let times: Vec<u64> = decoded.iter().map(|d| d.0).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "{dir}: times go back"
    );
}

#[test]
fn busy_pages_match_the_text_dump() {
    let pages = pages("busy");
    assert_eq!(pages.len(), 6);
    for p in &pages {
        assert_eq!(page_info(p, &layout()).unwrap().missed, None);
    }
    let decoded = decode(&pages);
    assert_eq!(decoded.len(), 497);
    assert_same("busy", &decoded);

    // The 300-byte marker came as a type_len 0 record (payload over 112 bytes).
    let marker: Vec<_> = decoded.iter().filter(|d| d.1.name == "print").collect();
    assert_eq!(marker.len(), 1);
    let payload = &marker[0].2;
    assert!(payload.len() > 112, "{}", payload.len());
    let buf = String::from_utf8_lossy(&payload[16..]);
    assert!(buf.contains("marker-of-300-bytes\n"), "{buf:?}");

    // The 0.4 s idle gap is more than a 27-bit delta holds: only a time extend (type 30)
    // can carry it, and it falls inside page 3 (the text dump agrees on both sides).
    let page3: Vec<u64> = PageRecords::new(&pages[3], &layout())
        .unwrap()
        .map(|r| r.unwrap().ts)
        .collect();
    let gap = page3.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        gap > 300_000_000,
        "gap {gap} (a 27-bit delta holds 134 ms at most)"
    );
}

#[test]
fn lost_events_are_flagged_and_counted_on_the_first_page() {
    let pages = pages("lost");
    let layout = layout();
    let first = page_info(&pages[0], &layout).unwrap();
    let stats = std::fs::read_to_string(data().join("lost/stats.txt")).unwrap();
    let overrun: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("overrun: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first.missed, Some(Missed::Count(overrun)));
    assert_eq!(overrun, 80220);
    // The 64-bit commit word is sign-extended (the kernel's flag is `1 << 31`, an int).
    assert_eq!(
        u64::from_le_bytes(pages[0][8..16].try_into().unwrap()),
        0xffff_ffff_c000_0fc0
    );
    assert_eq!(first.data_len, 0xfc0);
    for p in &pages[1..] {
        assert_eq!(page_info(p, &layout).unwrap().missed, None);
    }
    assert_same("lost", &decode(&pages));
}

#[test]
fn damaged_real_pages_end_with_an_error_not_a_panic() {
    let layout = layout();
    let page = &pages("busy")[2];
    assert!(page_info(&page[..4000], &layout).is_err());
    // Every single-word corruption of the data decodes to a bounded number of items
    // and at most one error, always last.
    for at in (16..4096).step_by(4) {
        for word in [0u32, 0xffff_ffff, 29 | (1 << 5), 30, 31, 0x1f, 28] {
            let mut p = page.clone();
            p[at..at + 4].copy_from_slice(&word.to_le_bytes());
            let items: Vec<_> = PageRecords::new(&p, &layout).unwrap().collect();
            assert!(items.len() <= 4080 / 4);
            let errors = items.iter().filter(|i| i.is_err()).count();
            assert!(errors <= 1 && (errors == 0 || items.last().unwrap().is_err()));
        }
    }
}
