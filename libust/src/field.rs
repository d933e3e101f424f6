//! How each Rust type is recorded: its CTF type and its byte encoding.
//!
//! [`FieldKind`] is implemented for the integer types (8 to 64 bits), `bool`, `f32`,
//! `f64`, `&str` (NUL-terminated; an interior NUL ends the string), `&[T]` (a u32
//! length then the elements: byte and integer sequences) and `[T; N]` (fixed arrays)
//! for integer `T`, and for enumerations declared with [`crate::tracepoint_enum!`].

use proto::event::{Base, EnumLabel, FieldType, IntType};
use proto::ring::shm::RecordWriter;

/// The static form of [`FieldType`], usable in `static` tracepoint descriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldTypeStatic {
    Integer(IntType),
    Bool,
    F32,
    F64,
    String,
    Array {
        elem: IntType,
        len: u32,
    },
    Sequence {
        elem: IntType,
    },
    Enum {
        container: IntType,
        labels: &'static [(&'static str, i64)],
    },
}

impl FieldTypeStatic {
    /// The same type shown in another base (integers, arrays, sequences and enum
    /// containers; other types are unchanged).
    pub const fn with_base(self, base: Base) -> FieldTypeStatic {
        match self {
            FieldTypeStatic::Integer(t) => {
                FieldTypeStatic::Integer(IntType::new(t.bits, t.signed, base))
            }
            FieldTypeStatic::Array { elem, len } => FieldTypeStatic::Array {
                elem: IntType::new(elem.bits, elem.signed, base),
                len,
            },
            FieldTypeStatic::Sequence { elem } => FieldTypeStatic::Sequence {
                elem: IntType::new(elem.bits, elem.signed, base),
            },
            other => other,
        }
    }

    /// The owned description.
    pub fn to_owned_type(self) -> FieldType {
        match self {
            FieldTypeStatic::Integer(t) => FieldType::Integer(t),
            FieldTypeStatic::Bool => FieldType::Bool,
            FieldTypeStatic::F32 => FieldType::F32,
            FieldTypeStatic::F64 => FieldType::F64,
            FieldTypeStatic::String => FieldType::String,
            FieldTypeStatic::Array { elem, len } => FieldType::Array { elem, len },
            FieldTypeStatic::Sequence { elem } => FieldType::Sequence {
                elem,
                length: IntType::new(32, false, Base::Dec),
            },
            FieldTypeStatic::Enum { container, labels } => FieldType::Enum {
                container,
                labels: labels
                    .iter()
                    .map(|&(l, v)| EnumLabel {
                        label: l.to_string(),
                        start: v,
                        end: v,
                    })
                    .collect(),
            },
        }
    }
}

/// A value that can be a tracepoint field.
pub trait FieldKind {
    /// Its CTF type.
    const TYPE: FieldTypeStatic;
    /// What an event records for the value, worked out once per event: the event
    /// reserves `size()` of it and writes it. Most types record themselves; a string
    /// is cut at its first NUL here, so that it is searched once.
    type Recorded: FieldKind;
    /// See [`FieldKind::Recorded`].
    fn recorded(self) -> Self::Recorded
    where
        Self: Sized;
    /// Bytes it takes in the record.
    fn size(&self) -> usize;
    /// Writes exactly `size()` bytes.
    fn write(&self, w: &mut RecordWriter<'_>);
}

/// Implements [`FieldKind::Recorded`] for a type that records itself.
#[doc(hidden)]
#[macro_export]
macro_rules! __records_itself {
    () => {
        type Recorded = Self;
        #[inline(always)]
        fn recorded(self) -> Self {
            self
        }
    };
}

/// An integer type usable alone, in arrays and in sequences.
pub trait Integer: Copy {
    const INT: IntType;
    const SIZE: usize;
    fn put(self, w: &mut RecordWriter<'_>);
    /// The value as i64, for enumerations.
    fn to_i64(self) -> i64;
}

macro_rules! integers {
    ($($t:ty => $bits:expr, $signed:expr;)*) => {$(
        impl Integer for $t {
            const INT: IntType = IntType::new($bits, $signed, Base::Dec);
            const SIZE: usize = $bits / 8;
            #[inline(always)]
            fn put(self, w: &mut RecordWriter<'_>) {
                w.put(&self.to_le_bytes());
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
        }
        impl FieldKind for $t {
            const TYPE: FieldTypeStatic = FieldTypeStatic::Integer(<$t as Integer>::INT);
            crate::__records_itself!();
            #[inline(always)]
            fn size(&self) -> usize {
                <$t as Integer>::SIZE
            }
            #[inline(always)]
            fn write(&self, w: &mut RecordWriter<'_>) {
                Integer::put(*self, w);
            }
        }
    )*};
}

integers! {
    u8 => 8, false; u16 => 16, false; u32 => 32, false; u64 => 64, false; usize => 64, false;
    i8 => 8, true; i16 => 16, true; i32 => 32, true; i64 => 64, true; isize => 64, true;
}

impl FieldKind for bool {
    const TYPE: FieldTypeStatic = FieldTypeStatic::Bool;
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        1
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        w.put_u8(u8::from(*self));
    }
}

impl FieldKind for f32 {
    const TYPE: FieldTypeStatic = FieldTypeStatic::F32;
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        4
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        w.put_u32(self.to_bits());
    }
}

impl FieldKind for f64 {
    const TYPE: FieldTypeStatic = FieldTypeStatic::F64;
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        8
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        w.put_u64(self.to_bits());
    }
}

/// The bytes of `s` that a CTF string can hold: up to the first NUL.
#[inline(always)]
fn c_str_bytes(s: &str) -> &[u8] {
    let b = s.as_bytes();
    if b.len() <= 16 && !short_has_nul(b) {
        return b;
    }
    // `from_bytes_until_nul` searches a word at a time, not byte by byte, but as a call:
    // 4.3 % of a `bench:ev` loop's samples, for a 16-byte string the inline test covers.
    match std::ffi::CStr::from_bytes_until_nul(b) {
        Ok(c) => c.to_bytes(),
        Err(_) => b,
    }
}

/// Whether `b` (at most 16 bytes) holds a NUL byte, tested inline: two overlapping
/// 8-byte words, each with the classic test for a zero byte in a word.
#[inline(always)]
fn short_has_nul(b: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(LOW) & !w & HIGH != 0;
    let n = b.len();
    if n < 8 {
        return b.contains(&0);
    }
    let word = |at: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    has_zero(word(0)) || has_zero(word(n - 8))
}

/// A string as a string field records it: its bytes up to the first NUL, then a NUL.
/// Made only by [`FieldKind::recorded`] on a `&str`.
#[derive(Clone, Copy, Debug)]
pub struct CStrPrefix<'a>(&'a [u8]);

impl FieldKind for CStrPrefix<'_> {
    const TYPE: FieldTypeStatic = FieldTypeStatic::String;
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        self.0.len() + 1
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        w.put(self.0);
        w.put_u8(0);
    }
}

impl<'a> FieldKind for &'a str {
    const TYPE: FieldTypeStatic = FieldTypeStatic::String;
    type Recorded = CStrPrefix<'a>;
    #[inline(always)]
    fn recorded(self) -> CStrPrefix<'a> {
        CStrPrefix(c_str_bytes(self))
    }
    #[inline(always)]
    fn size(&self) -> usize {
        self.recorded().size()
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        self.recorded().write(w);
    }
}

/// Longest sequence recorded; longer slices are cut (the record would not fit a
/// sub-buffer anyway).
const MAX_SEQUENCE: usize = u32::MAX as usize;

impl<T: Integer> FieldKind for &[T] {
    const TYPE: FieldTypeStatic = FieldTypeStatic::Sequence { elem: T::INT };
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        4 + self.len().min(MAX_SEQUENCE) * T::SIZE
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        let items = &self[..self.len().min(MAX_SEQUENCE)];
        w.put_u32(items.len() as u32);
        write_ints(items, w);
    }
}

impl<T: Integer, const N: usize> FieldKind for [T; N] {
    const TYPE: FieldTypeStatic = FieldTypeStatic::Array {
        elem: T::INT,
        len: N as u32,
    };
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        N * T::SIZE
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        write_ints(self, w);
    }
}

#[inline(always)]
fn write_ints<T: Integer>(items: &[T], w: &mut RecordWriter<'_>) {
    for &i in items {
        i.put(w);
    }
}

/// Text recorded as LTTng-UST records `tracef` messages: a u32 length, then the bytes
/// as a sequence of UTF-8 characters (viewers show it as a string).
#[derive(Clone, Copy, Debug)]
pub struct Text<'a>(pub &'a [u8]);

impl FieldKind for Text<'_> {
    const TYPE: FieldTypeStatic = FieldTypeStatic::Sequence {
        elem: IntType::new(8, true, Base::Dec).text(),
    };
    crate::__records_itself!();
    #[inline(always)]
    fn size(&self) -> usize {
        4 + self.0.len().min(MAX_SEQUENCE)
    }
    #[inline(always)]
    fn write(&self, w: &mut RecordWriter<'_>) {
        let b = &self.0[..self.0.len().min(MAX_SEQUENCE)];
        w.put_u32(b.len() as u32);
        w.put(b);
    }
}

/// Builds an enumeration's field type from its labels.
pub const fn enum_type<T: Integer>(labels: &'static [(&'static str, i64)]) -> FieldTypeStatic {
    FieldTypeStatic::Enum {
        container: T::INT,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_field_ends_at_its_first_nul() {
        assert_eq!(c_str_bytes("payload-16chars!"), b"payload-16chars!");
        assert_eq!(c_str_bytes("ab\0cd\0"), b"ab");
        assert_eq!(c_str_bytes("\0tail"), b"");
        assert_eq!(c_str_bytes(""), b"");
        // Every length the inline test covers, with a NUL at every place and none.
        for n in 1..=17 {
            let clean = "abcdefghijklmnopq"[..n].to_string();
            assert_eq!(c_str_bytes(&clean), clean.as_bytes());
            for at in 0..n {
                let mut s = clean.clone().into_bytes();
                s[at] = 0;
                let s = String::from_utf8(s).unwrap();
                assert_eq!(c_str_bytes(&s), &clean.as_bytes()[..at], "{s:?}");
            }
        }
        // Bytes 0x80 and above (UTF-8) are not NULs.
        assert_eq!(c_str_bytes("é€ÿ€é"), "é€ÿ€é".as_bytes());
        // A NUL past the first 16 bytes (the word-wise search's first block).
        let long = format!("{}\0{}", "x".repeat(37), "y".repeat(5));
        assert_eq!(c_str_bytes(&long), "x".repeat(37).as_bytes());
        assert_eq!(FieldKind::size(&"ab\0cd"), 3);
        assert_eq!(FieldKind::size(&long.as_str()), 38);
        // What an event records: searched once, the same bytes.
        assert_eq!(FieldKind::recorded("ab\0cd").size(), 3);
        assert_eq!(FieldKind::recorded(long.as_str()).size(), 38);
        assert_eq!(FieldKind::recorded("").size(), 1);
    }
}
