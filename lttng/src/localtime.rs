//! Local time for printed timestamps, without `unsafe` (no `localtime_r`).
//!
//! The zone comes from `TZ` like in C: unset → `/etc/localtime`; empty, `UTC`, `UTC0`, `GMT`
//! → UTC; `:Area/City` or `Area/City` → `/usr/share/zoneinfo/Area/City`. The TZif file's
//! transition table gives the UTC offset (times after the last transition keep the last
//! offset; the POSIX footer rule is not evaluated). Anything unreadable falls back to UTC, so
//! CI (TZ unset, `/etc/localtime` = UTC or missing) prints UTC like babeltrace2 does there.

use std::path::Path;

const ZONEINFO: &str = "/usr/share/zoneinfo";
/// Largest TZif file read (real ones are a few KiB).
const MAX_TZIF_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct LocalTime {
    /// `(transition time in s since the epoch, UTC offset in s)`, sorted.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition (or always, when there are none).
    initial: i32,
}

impl LocalTime {
    pub fn utc() -> LocalTime {
        LocalTime::default()
    }

    pub fn from_env() -> LocalTime {
        let tz = std::env::var("TZ").ok();
        let file = match tz.as_deref() {
            None => Path::new("/etc/localtime").to_path_buf(),
            Some("" | "UTC" | "UTC0" | "GMT" | "GMT0" | ":UTC" | "Etc/UTC") => {
                return LocalTime::utc()
            }
            Some(name) => {
                let name = name.strip_prefix(':').unwrap_or(name);
                if name.starts_with('/') {
                    Path::new(name).to_path_buf()
                } else if name.split('/').any(|c| c == "..") {
                    return LocalTime::utc();
                } else {
                    Path::new(ZONEINFO).join(name)
                }
            }
        };
        read_tzif(&file).unwrap_or_default()
    }

    fn offset_at(&self, t: i64) -> i32 {
        match self.transitions.partition_point(|(at, _)| *at <= t) {
            0 => self.initial,
            i => self.transitions[i - 1].1,
        }
    }

    /// Appends `HH:MM:SS.nnnnnnnnn` for `ns` since the Unix epoch.
    pub fn write_time(&self, out: &mut Vec<u8>, ns: i128) {
        let (secs, frac) = split_ns(ns);
        out.extend_from_slice(&self.hms(secs));
        write_frac(out, frac);
    }

    /// `HH:MM:SS` of the local time of day at `secs` since the Unix epoch.
    fn hms(&self, secs: i128) -> [u8; 8] {
        let t = i64::try_from(secs).unwrap_or(0);
        let local = i128::from(t) + i128::from(self.offset_at(t));
        let day = local.rem_euclid(86_400) as u32;
        let d = |v: u32| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let [h0, h1] = d(day / 3600);
        let [m0, m1] = d(day / 60 % 60);
        let [s0, s1] = d(day % 60);
        [h0, h1, b':', m0, m1, b':', s0, s1]
    }
}

/// [`LocalTime::write_time`] for times that mostly grow: the `HH:MM:SS` of the last second
/// seen is kept (events come many per second).
#[derive(Debug, Clone)]
pub struct TimeWriter {
    tz: LocalTime,
    sec: Option<i128>,
    hms: [u8; 8],
}

impl TimeWriter {
    pub fn new(tz: LocalTime) -> TimeWriter {
        TimeWriter {
            tz,
            sec: None,
            hms: [0; 8],
        }
    }

    pub fn local_time(&self) -> &LocalTime {
        &self.tz
    }

    /// Appends `HH:MM:SS.nnnnnnnnn` for `ns` since the Unix epoch.
    #[inline]
    pub fn write_time(&mut self, out: &mut Vec<u8>, ns: i128) {
        let (secs, frac) = split_ns(ns);
        if self.sec != Some(secs) {
            self.sec = Some(secs);
            self.hms = self.tz.hms(secs);
        }
        out.extend_from_slice(&self.hms);
        write_frac(out, frac);
    }
}

const NS_PER_S: i64 = 1_000_000_000;

/// Whole seconds (rounded down) and nanoseconds, in 64-bit arithmetic when `ns` fits.
#[inline]
fn split_ns(ns: i128) -> (i128, u32) {
    match i64::try_from(ns) {
        Ok(n) => (
            i128::from(n.div_euclid(NS_PER_S)),
            n.rem_euclid(NS_PER_S) as u32,
        ),
        Err(_) => (
            ns.div_euclid(i128::from(NS_PER_S)),
            ns.rem_euclid(i128::from(NS_PER_S)) as u32,
        ),
    }
}

/// Appends `.nnnnnnnnn` (`frac` < 10⁹).
#[inline]
pub fn write_frac(out: &mut Vec<u8>, frac: u32) {
    let mut buf = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0'];
    let mut f = frac;
    for b in buf[1..].iter_mut().rev() {
        *b = b'0' + (f % 10) as u8;
        f /= 10;
    }
    out.extend_from_slice(&buf);
}

fn read_tzif(path: &Path) -> Option<LocalTime> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_TZIF_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    parse_tzif(&bytes)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses a TZif file (RFC 8536): the 64-bit block of version 2+ files, else the 32-bit one.
fn parse_tzif(b: &[u8]) -> Option<LocalTime> {
    if b.get(..4)? != b"TZif" {
        return None;
    }
    let counts = |at: usize| -> Option<[usize; 6]> {
        let mut c = [0usize; 6];
        for (i, v) in c.iter_mut().enumerate() {
            *v = be_u32(b, at + 20 + 4 * i)? as usize;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let (base, time_size, [_, _, leap, timecnt, typecnt, charcnt]) = if b[4] >= b'2' {
        let at = 44 + v1_len;
        (at, 8, counts(at)?)
    } else {
        (0, 4, [isut, isstd, leap, timecnt, typecnt, charcnt])
    };
    let _ = (leap, charcnt);
    let data = base + 44;
    let times = b.get(data..data + timecnt * time_size)?;
    let idx = b.get(data + timecnt * time_size..data + timecnt * (time_size + 1))?;
    let types_at = data + timecnt * (time_size + 1);
    let types = b.get(types_at..types_at + typecnt * 6)?;
    let offset_of = |i: usize| -> Option<i32> {
        Some(i32::from_be_bytes(
            types.get(i * 6..i * 6 + 4)?.try_into().ok()?,
        ))
    };
    let mut transitions = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        let t = if time_size == 8 {
            i64::from_be_bytes(times.get(i * 8..i * 8 + 8)?.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(
                times.get(i * 4..i * 4 + 4)?.try_into().ok()?,
            ))
        };
        transitions.push((t, offset_of(usize::from(*idx.get(i)?))?));
    }
    Some(LocalTime {
        transitions,
        initial: offset_of(0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_of_day() {
        let mut v = Vec::new();
        // 1795690911.662102504 + 428774069954 ns = 11:09:00.436172458 UTC (§1.8).
        LocalTime::utc().write_time(&mut v, 1_795_690_911_662_102_504 + 428_774_069_954);
        assert_eq!(v, b"11:09:00.436172458");
    }

    #[test]
    fn the_cached_writer_matches_the_plain_one() {
        let tz = LocalTime::utc();
        let mut w = TimeWriter::new(tz.clone());
        for ns in [
            0i128,
            5,
            999_999_999,
            1_000_000_000,
            1_000_000_001,
            -1,
            -1_000_000_000,
            -1_000_000_001,
            1_795_690_911_662_102_504,
            1_795_690_911_999_999_999,
            1_795_690_912_000_000_000,
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            tz.write_time(&mut a, ns);
            w.write_time(&mut b, ns);
            assert_eq!(a, b, "{ns}");
            assert_eq!(a.len(), 18, "{ns}");
        }
    }

    #[test]
    fn zone_files_give_their_offset() {
        let Some(paris) = read_tzif(Path::new("/usr/share/zoneinfo/Europe/Paris")) else {
            eprintln!("notice: no tzdata here; skipping");
            return;
        };
        // 2025-01-01T00:00:00Z is 01:00 in Paris (CET), 2025-07-01T00:00:00Z is 02:00 (CEST).
        assert_eq!(paris.offset_at(1_735_689_600), 3600);
        assert_eq!(paris.offset_at(1_751_328_000), 7200);
    }
}
