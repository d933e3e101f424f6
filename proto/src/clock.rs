//! The trace clock: raw TSC where it is invariant, `CLOCK_MONOTONIC` otherwise.
//!
//! Measured on the project's 2-vCPU Xeon VM (kernel 6.18, clocksource `tsc`,
//! `constant_tsc nonstop_tsc tsc_known_freq`), per call in a tight loop:
//! `rdtsc` 9.6 ns, `lfence; rdtsc` 18.9 ns, `rdtscp` 18.6 ns,
//! `clock_gettime(CLOCK_MONOTONIC)` 23.5 ns. With the 16-byte reservation CAS the ring
//! writer keeps timestamps monotonic itself and takes a plain `rdtsc` ([`now_unordered`],
//! 9.6 against 23.5 ns); without it the writer needs an ordered read ([`now`], 18.9 ns).
//! The TSC is used when `/proc/cpuinfo` shows `constant_tsc` and `nonstop_tsc`, with its
//! frequency calibrated against `CLOCK_MONOTONIC`.
//! `LIBUST_CLOCK=monotonic` forces the fallback.
//!
//! # Safety
//!
//! This module's `unsafe` blocks call `_mm_lfence`/`_rdtsc` (available on every
//! x86-64 CPU) and `clock_gettime` with a valid out-pointer.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

static USE_TSC: AtomicBool = AtomicBool::new(false);

/// Which source the clock reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// Raw TSC cycles.
    Tsc,
    /// `CLOCK_MONOTONIC` nanoseconds.
    Monotonic,
}

/// Decides the clock source once, at start-up. Returns the choice.
pub fn init() -> Source {
    let forced = std::env::var("LIBUST_CLOCK").ok();
    let tsc = match forced.as_deref() {
        Some("monotonic") => false,
        Some("tsc") => cfg!(target_arch = "x86_64"),
        _ => cfg!(target_arch = "x86_64") && tsc_is_invariant(),
    };
    USE_TSC.store(tsc, Ordering::Relaxed);
    source()
}

/// Uses `source` from now on: an application adopts its session daemon's choice, so
/// that every process writing into one trace uses the same clock. The TSC is only
/// taken on x86-64.
pub fn set_source(source: Source) {
    let tsc = source == Source::Tsc && cfg!(target_arch = "x86_64");
    USE_TSC.store(tsc, Ordering::Relaxed);
}

/// The source in use.
pub fn source() -> Source {
    if USE_TSC.load(Ordering::Relaxed) {
        Source::Tsc
    } else {
        Source::Monotonic
    }
}

fn tsc_is_invariant() -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return false;
    };
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    has("constant_tsc") && has("nonstop_tsc")
}

/// Reads the trace clock, ordered after every earlier load.
#[inline(always)]
pub fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Ordering::Relaxed) {
        // SAFETY: lfence and rdtsc exist on every x86-64 CPU and touch no memory.
        return unsafe {
            std::arch::x86_64::_mm_lfence();
            std::arch::x86_64::_rdtsc()
        };
    }
    monotonic_ns()
}

fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used are always present.
    unsafe {
        libc::clock_gettime(clock, &mut ts);
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Reads the trace clock without ordering it after earlier loads (plain `rdtsc`): for
/// writers whose reservation keeps timestamps monotonic by itself
/// (`proto::ring::writer::NEEDS_ORDERED_CLOCK` is false).
#[inline(always)]
pub fn now_unordered() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Ordering::Relaxed) {
        // SAFETY: rdtsc exists on every x86-64 CPU and touches no memory.
        return unsafe { std::arch::x86_64::_rdtsc() };
    }
    monotonic_ns()
}

/// `CLOCK_MONOTONIC` in nanoseconds.
#[inline]
pub fn monotonic_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// `CLOCK_REALTIME` in nanoseconds since the epoch.
pub fn realtime_ns() -> u64 {
    read(libc::CLOCK_REALTIME)
}

/// One simultaneous reading of the trace clock, `CLOCK_MONOTONIC` and
/// `CLOCK_REALTIME`, taken as the tightest of several brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub clock: u64,
    pub mono_ns: u64,
    pub real_ns: u64,
}

impl Sample {
    /// Takes a sample (about a microsecond).
    pub fn take() -> Sample {
        let mut best: Option<(u64, Sample)> = None;
        for _ in 0..10 {
            let m0 = monotonic_ns();
            let c = now();
            let r = realtime_ns();
            let m1 = monotonic_ns();
            let width = m1.saturating_sub(m0);
            // The realtime read sits between the clock read and m1: attribute it to
            // the same instant, corrected by half the bracket.
            let s = Sample {
                clock: c,
                mono_ns: m0 + width / 2,
                real_ns: r.saturating_sub(width / 4),
            };
            if best.is_none_or(|(w, _)| width < w) {
                best = Some((width, s));
            }
        }
        best.map(|(_, s)| s).unwrap_or(Sample {
            clock: now(),
            mono_ns: monotonic_ns(),
            real_ns: realtime_ns(),
        })
    }
}

/// What the CTF clock block needs: frequency and the epoch offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calibration {
    pub freq: u64,
    pub offset_s: i64,
    pub offset: i64,
}

/// Computes frequency and offset from two samples (`a` earlier than `b`). For the
/// monotonic source the frequency is exactly 1 GHz.
pub fn calibrate(source: Source, a: Sample, b: Sample) -> Calibration {
    let freq: u64 = match source {
        Source::Monotonic => 1_000_000_000,
        Source::Tsc => {
            let dc = b.clock.saturating_sub(a.clock) as u128;
            let dm = b.mono_ns.saturating_sub(a.mono_ns) as u128;
            if dm == 0 || dc == 0 {
                1_000_000_000
            } else {
                (dc * 1_000_000_000 / dm) as u64
            }
        }
    };
    // Epoch time of clock value `a.clock` is a.real_ns; tick 0 is a.clock ticks earlier.
    let f = i128::from(freq);
    let epoch_ticks_at_a = i128::from(a.real_ns) * f / 1_000_000_000;
    let offset_ticks = epoch_ticks_at_a - i128::from(a.clock);
    let offset_s = offset_ticks.div_euclid(f);
    let offset = offset_ticks.rem_euclid(f);
    Calibration {
        freq,
        offset_s: offset_s as i64,
        offset: offset as i64,
    }
}

/// The kernel's boot id: the clock uuid shared by every trace of this boot.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "00000000-0000-0000-0000-000000000000".into())
}

/// Splits seconds since the epoch into UTC `[year, month, day, hour, minute, second]`
/// (Howard Hinnant's civil-from-days).
pub fn utc_parts(secs: u64) -> [i64; 6] {
    let days = (secs / 86_400) as i64;
    let rem = (secs % 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    [y, m, d, rem / 3600, rem % 3600 / 60, rem % 60]
}

/// The current UTC time as LTTng writes `trace_creation_datetime`:
/// `20250101T000000+0000`.
pub fn iso8601_now() -> String {
    let [y, m, d, hh, mm, ss] = utc_parts(realtime_ns() / 1_000_000_000);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}+0000")
}

/// The current UTC time as LTTng names directories: `20250101-000000`.
pub fn dir_datetime_now() -> String {
    let [y, m, d, hh, mm, ss] = utc_parts(realtime_ns() / 1_000_000_000);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_parts_are_civil_dates() {
        assert_eq!(utc_parts(0), [1970, 1, 1, 0, 0, 0]);
        // 2026-11-26 13:33:53 UTC.
        assert_eq!(utc_parts(1_795_700_033), [2026, 11, 26, 13, 33, 53]);
        assert_eq!(utc_parts(951_782_400), [2000, 2, 29, 0, 0, 0]);
    }

    #[test]
    fn calibration_maps_ticks_to_epoch() {
        let a = Sample {
            clock: 5_000_000_000,
            mono_ns: 1_000_000_000,
            real_ns: 1_700_000_000_000_000_000,
        };
        let b = Sample {
            clock: 7_000_000_000,
            mono_ns: 2_000_000_000,
            real_ns: 1_700_000_001_000_000_000,
        };
        let c = calibrate(Source::Tsc, a, b);
        assert_eq!(c.freq, 2_000_000_000);
        // epoch(a.clock) = offset_s + (offset + a.clock) / freq seconds
        let ticks = i128::from(c.offset) + i128::from(a.clock);
        let ns = i128::from(c.offset_s) * 1_000_000_000 + ticks * 1_000_000_000 / 2_000_000_000;
        assert_eq!(ns, 1_700_000_000_000_000_000);
        let m = calibrate(Source::Monotonic, a, b);
        assert_eq!(m.freq, 1_000_000_000);
    }

    #[test]
    fn the_clock_moves_forward() {
        init();
        let a = now();
        let b = now();
        assert!(b >= a);
    }
}
