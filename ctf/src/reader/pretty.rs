//! babeltrace2's default text rendering of event contents (`sink.text.pretty`).
//!
//! [`write_event_body`] writes what follows the time stamps on a babeltrace2 line:
//! `HOST NAME: { cpu_id = 0 }, { vpid = 1 }, { msg = "hi" }`. Time formatting (local time,
//! deltas) is left to the caller.

use std::io::Write as _;

use super::value::{Event, Fields, IntFormat, Value};

/// Packet-context fields babeltrace2 does not print.
const HIDDEN_PACKET_FIELDS: [&str; 6] = [
    "timestamp_begin",
    "timestamp_end",
    "events_discarded",
    "content_size",
    "packet_size",
    "packet_seq_num",
];

/// Writes `HOST NAME: { packet context }, { stream context }, { event context }, { payload }`
/// (scopes the metadata does not declare are left out, the host when there is none).
pub fn write_event_body(out: &mut Vec<u8>, hostname: Option<&str>, ev: &Event) {
    if let Some(h) = hostname {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b" ");
    }
    out.extend_from_slice(ev.name.as_bytes());
    out.extend_from_slice(b":");
    let mut first = true;
    let d = ev.declared;
    if d.packet_context {
        write_packet_context(out, &ev.packet_context);
        first = false;
    }
    for (declared, fields) in [
        (d.stream_context, &ev.stream_context),
        (d.event_context, &ev.event_context),
        (d.fields, &ev.fields),
    ] {
        if declared {
            write_scope(out, &mut first, fields.iter());
        }
    }
}

/// Writes ` { ... }`: the packet context scope, which is always the first one.
pub(crate) fn write_packet_context(out: &mut Vec<u8>, context: &Fields) {
    let mut first = true;
    let packet = context
        .iter()
        .filter(|(n, _)| !HIDDEN_PACKET_FIELDS.contains(n));
    write_scope(out, &mut first, packet);
}

fn write_scope<'a>(
    out: &mut Vec<u8>,
    first: &mut bool,
    fields: impl Iterator<Item = (&'a str, &'a Value)>,
) {
    out.extend_from_slice(if *first { b" " } else { b", " });
    *first = false;
    write_struct(out, fields)
}

fn write_struct<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = (&'a str, &'a Value)>) {
    out.extend_from_slice(b"{");
    for (i, (name, v)) in fields.enumerate() {
        out.extend_from_slice(if i == 0 { b" " } else { b", " });
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b" = ");
        write_value(out, v);
    }
    out.extend_from_slice(b" }");
}

/// Writes an integer (`v` holds a signed one's two's complement bits).
#[inline]
pub(crate) fn write_int(out: &mut Vec<u8>, v: u64, signed: bool, f: IntFormat) {
    match (f.base, signed) {
        (10, true) => write_i64(out, v as i64),
        (10, false) => write_u64(out, v),
        _ => write_radix(out, v, signed, f.base, f.size),
    }
}

/// Writes one value as babeltrace2 does.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Signed(x, f) => write_int(out, *x as u64, true, *f),
        Value::Unsigned(x, f) => write_int(out, *x, false, *f),
        Value::Float(x) => write_g(out, *x),
        Value::String(s) => write_escaped(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.extend_from_slice(b"[ ]");
                return;
            }
            out.extend_from_slice(b"[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(b"[");
                write_u64(out, i as u64);
                out.extend_from_slice(b"] = ");
                write_value(out, item);
            }
            out.extend_from_slice(b" ]");
        }
        Value::Struct(fields) => write_struct(out, fields.iter()),
        Value::Enum { value, labels } => {
            out.extend_from_slice(b"( ");
            write_labels(out, labels.iter().map(|l| &**l));
            out.extend_from_slice(b" : container = ");
            write_value(out, value);
            out.extend_from_slice(b" )");
        }
        Value::Variant { value, .. } => {
            out.extend_from_slice(b"{ ");
            write_value(out, value);
            out.extend_from_slice(b" }");
        }
    }
}

/// An enum's labels: `<unknown>` when none, else `"A"` or `"A", "B"` (babeltrace2 2.0.4 puts
/// no braces around several labels).
pub(crate) fn write_labels<'a>(out: &mut Vec<u8>, labels: impl Iterator<Item = &'a str>) {
    let mut none = true;
    for l in labels {
        if !none {
            out.extend_from_slice(b", ");
        }
        none = false;
        write_escaped(out, l);
    }
    if none {
        out.extend_from_slice(b"<unknown>");
    }
}

/// `"00" "01" ... "99"`.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends `v` in decimal.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.extend_from_slice(b"-");
    }
    write_u64(out, v.unsigned_abs())
}

fn write_radix(out: &mut Vec<u8>, v: u64, signed: bool, base: u8, size: u8) {
    let size = u32::from(size.clamp(1, 64));
    let mask = |bits: u32| {
        if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
    };
    match base {
        16 => {
            let v = if signed { v & mask((size + 3) & !3) } else { v };
            let _ = write!(out, "0x{v:X}");
        }
        8 => {
            let v = if signed {
                v & mask(size.div_ceil(3) * 3)
            } else {
                v
            };
            let _ = write!(out, "0{v:o}");
        }
        _ => {
            out.extend_from_slice(b"0b");
            for bit in (0..size).rev() {
                out.push(if v >> bit & 1 == 1 { b'1' } else { b'0' });
            }
        }
    }
}

/// Bytes `write_escaped` must escape: controls, DEL, `\\`, `'`, `"` and `?`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20
            || i == 0x7f
            || i == b'\\' as usize
            || i == b'\'' as usize
            || i == b'"' as usize
            || i == b'?' as usize;
        i += 1;
    }
    t
};

/// A quoted string with C escapes, as babeltrace2's `print_escape_string`.
pub(crate) fn write_escaped(out: &mut Vec<u8>, s: &str) {
    write_escaped_bytes(out, s.as_bytes())
}

/// [`write_escaped`] for bytes as found in the trace: bytes that are not valid UTF-8 are
/// written as they are, as babeltrace2 does.
pub(crate) fn write_escaped_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.extend_from_slice(b"\"");
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        let esc: Option<&[u8]> = match b {
            b'\\' => Some(b"\\\\"),
            b'\'' => Some(b"\\'"),
            b'"' => Some(b"\\\""),
            b'?' => Some(b"\\?"),
            0x07 => Some(b"\\a"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x0b => Some(b"\\v"),
            0..=0x1f | 0x7f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.extend_from_slice(b"\"");
}

/// Appends C's `%g` of `x`. Fast path: when the shortest round-trip form has at most 6
/// significant digits and a `%g` fixed-notation exponent, it is exactly what `%g` prints.
pub(crate) fn write_g(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() && x != 0.0 {
        let a = x.abs();
        if (1e-4..1e6).contains(&a) {
            let start = out.len();
            let _ = write!(out, "{x}");
            let sig = out[start..]
                .iter()
                .filter(|c| c.is_ascii_digit())
                .skip_while(|&&c| c == b'0')
                .count();
            if sig <= 6 {
                return;
            }
            out.truncate(start);
        }
    }
    out.extend_from_slice(format_g(x).as_bytes());
}

/// C's `%g` (6 significant digits, trailing zeros removed).
pub fn format_g(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_print_like_printf_g() {
        for (x, s) in [
            (0.5, "0.5"),
            (-1.0, "-1"),
            (3.25, "3.25"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (1e100, "1e+100"),
            (0.1 + 0.2, "0.3"),
            (123.4565, "123.457"),
            (999999.5, "1e+06"),
            (0.000123456789, "0.000123457"),
        ] {
            assert_eq!(format_g(x), s, "{x}");
            assert_eq!(show(&Value::Float(x)), s, "{x}");
        }
    }

    #[test]
    fn decimal_integers_at_every_length() {
        let mut v: u64 = 0;
        for len in 1..=20 {
            for x in [
                v,
                v.saturating_add(1),
                v.saturating_mul(10).saturating_add(9).max(v),
            ] {
                let mut out = Vec::new();
                write_u64(&mut out, x);
                assert_eq!(String::from_utf8(out).unwrap(), x.to_string(), "{len}");
            }
            v = v.saturating_mul(10).saturating_add(1);
        }
        let mut out = Vec::new();
        write_u64(&mut out, u64::MAX);
        write_i64(&mut out, i64::MIN);
        assert_eq!(out, b"18446744073709551615-9223372036854775808");
    }

    #[test]
    fn raw_bytes_escape_like_their_lossy_text() {
        // The text path writes the raw bytes (as babeltrace2 does), the value path a lossy
        // `String`: they agree once the raw output is read lossily (escapes are ASCII).
        for bytes in [
            &b"payload-16chars!"[..],
            b"",
            b"a\"b\n?'\\\x01\x7f",
            b"caf\xc3\xa9",
            b"bad \xff\xfe utf8",
            b"\xe2\x82\n\xe2\x82\xac\"\xf0\x9f",
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write_escaped_bytes(&mut a, bytes);
            write_escaped(&mut b, &String::from_utf8_lossy(bytes));
            assert_eq!(String::from_utf8_lossy(&a).as_bytes(), b, "{bytes:?}");
        }
        let mut raw = Vec::new();
        write_escaped_bytes(&mut raw, b"v\xff\xfeq?");
        assert_eq!(raw, b"\"v\xff\xfeq\\?\"");
    }

    #[test]
    fn integers_keep_their_base() {
        let hex8 = IntFormat { base: 16, size: 8 };
        assert_eq!(show(&Value::Unsigned(255, hex8)), "0xFF");
        assert_eq!(show(&Value::Signed(-1, hex8)), "0xFF");
        assert_eq!(show(&Value::Signed(-7, IntFormat::DEC)), "-7");
        assert_eq!(
            show(&Value::Unsigned(5, IntFormat { base: 2, size: 4 })),
            "0b0101"
        );
        assert_eq!(
            show(&Value::Unsigned(8, IntFormat { base: 8, size: 8 })),
            "010"
        );
    }

    #[test]
    fn compound_values_and_escapes() {
        let v = Value::Array(vec![
            Value::String("a\"b\n".into()),
            Value::Enum {
                value: Box::new(Value::Unsigned(1, IntFormat::DEC)),
                labels: vec!["RUNNING".into()],
            },
        ]);
        assert_eq!(
            show(&v),
            r#"[ [0] = "a\"b\n", [1] = ( "RUNNING" : container = 1 ) ]"#
        );
        let e = |labels: &[&str]| Value::Enum {
            value: Box::new(Value::Signed(-2, IntFormat::DEC)),
            labels: labels.iter().map(|&l| l.into()).collect(),
        };
        assert_eq!(show(&e(&[])), "( <unknown> : container = -2 )");
        // What babeltrace2 2.0.4 prints for a value in two ranges.
        assert_eq!(show(&e(&["A", "B"])), r#"( "A", "B" : container = -2 )"#);
        assert_eq!(show(&Value::Array(vec![])), "[ ]");
        assert_eq!(show(&Value::Struct(Default::default())), "{ }");
    }
}
