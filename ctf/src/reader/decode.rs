//! Bit-level decoding of one packet's bytes along a [`Node`] plan.
//!
//! Positions are in bits from the packet start; alignment is counted from there (CTF 1.8
//! §4.1.2). Little-endian bit fields fill each byte from the least significant bit,
//! big-endian ones from the most significant bit. Every read is checked against `end` (the
//! packet's `content_size`), and a work budget bounds how many values a packet can produce,
//! so hostile lengths can neither overrun the buffer nor make decoding run away.
//!
//! Three walkers share the reading primitives and the checks: [`Decoder::decode`] builds
//! [`Value`]s, [`Decoder::skip`] only consumes (headers), and [`Decoder::write_text`] writes
//! babeltrace2's text directly (the fast path of `lttng view`), spending the work budget and
//! failing exactly like `decode`.

use super::plan::{IntDesc, Node, Roles};
use super::pretty;
use super::value::{Fields, Value};

/// Why an event (or a packet header) could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("a {bits}-bit field at bit {at} runs past the end of the content at bit {end}")]
    Overrun { at: u64, bits: u64, end: u64 },
    #[error("the string at bit {at} has no terminating nul byte before the end of the content")]
    UnterminatedString { at: u64 },
    #[error("variant tag value {value} selects no option")]
    BadVariantTag { value: i128 },
    #[error("sequence length {value} is negative")]
    NegativeLength { value: i64 },
    #[error("sequence or array of {len} elements at bit {at} cannot fit in the {left} bits left")]
    TooLong { len: u64, at: u64, left: u64 },
    #[error("more than {limit} values in one packet: metadata or data is hostile")]
    TooComplex { limit: u64 },
}

/// Mutable state carried across the events of a stream.
#[derive(Debug)]
pub(crate) struct DecodeState {
    /// Last value of every integer (see [`super::plan`]).
    pub(crate) slots: Vec<u64>,
    /// The stream's current full clock value.
    pub(crate) clock: u64,
    /// The event id of the event being decoded (last header `id`).
    pub(crate) event_id: Option<u64>,
    /// Values left before the packet counts as hostile.
    pub(crate) budget: u64,
    pub(crate) budget_limit: u64,
}

impl DecodeState {
    pub(crate) fn new(slot_count: usize) -> DecodeState {
        DecodeState {
            slots: vec![0; slot_count],
            clock: 0,
            event_id: None,
            budget: 0,
            budget_limit: 0,
        }
    }

    /// Resets the work budget for a packet of `bits` bits.
    pub(crate) fn start_packet(&mut self, bits: u64) {
        self.budget_limit = bits.saturating_mul(2).saturating_add(1 << 20);
        self.budget = self.budget_limit;
    }

    /// Updates the clock from an `n`-bit value, assuming at most one wrap (babeltrace2's rule).
    pub(crate) fn update_clock(&mut self, bits: u8, value: u64) {
        if bits >= 64 {
            self.clock = value;
            return;
        }
        let mask = (1u64 << bits) - 1;
        let mut clock = self.clock;
        if value < clock & mask {
            clock = clock.wrapping_add(1u64 << bits);
        }
        self.clock = (clock & !mask) | value;
    }
}

pub(crate) struct Decoder<'a> {
    pub(crate) buf: &'a [u8],
    /// Current position, in bits from the packet start.
    pub(crate) pos: u64,
    /// End of the readable content, in bits; never more than `buf.len() * 8`.
    pub(crate) end: u64,
    pub(crate) st: &'a mut DecodeState,
}

#[inline]
fn align_up(pos: u64, align: u32) -> u64 {
    let a = u64::from(align.max(1));
    (pos + a - 1) & !(a - 1)
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(buf: &'a [u8], end_bits: u64, st: &'a mut DecodeState) -> Decoder<'a> {
        let end = end_bits.min(buf.len() as u64 * 8);
        Decoder {
            buf,
            pos: 0,
            end,
            st,
        }
    }

    #[inline]
    fn spend(&mut self) -> Result<(), DecodeError> {
        if self.st.budget == 0 {
            return Err(DecodeError::TooComplex {
                limit: self.st.budget_limit,
            });
        }
        self.st.budget -= 1;
        Ok(())
    }

    /// Reads an unsigned `size`-bit value at the aligned position.
    #[inline]
    pub(crate) fn read_bits(&mut self, align: u32, size: u8, le: bool) -> Result<u64, DecodeError> {
        let pos = align_up(self.pos, align);
        let bits = u64::from(size);
        if pos + bits > self.end {
            return Err(DecodeError::Overrun {
                at: pos,
                bits,
                end: self.end,
            });
        }
        let start = (pos / 8) as usize;
        let shift = (pos % 8) as u32;
        let v = if shift == 0 && size & 7 == 0 {
            // Fixed-size loads for the common widths (no memcpy call).
            let b = &self.buf[start..start + usize::from(size / 8)];
            match (size, le) {
                (8, _) => u64::from(b[0]),
                (16, true) => u64::from(u16::from_le_bytes([b[0], b[1]])),
                (16, false) => u64::from(u16::from_be_bytes([b[0], b[1]])),
                (32, true) => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                (32, false) => u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                (64, true) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                (64, false) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                (_, true) => b
                    .iter()
                    .rev()
                    .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
                (_, false) => b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
            }
        } else {
            let nbytes = (shift as usize + usize::from(size)).div_ceil(8);
            let bytes = &self.buf[start..start + nbytes];
            let mask = if size == 64 {
                u64::MAX
            } else {
                (1u64 << size) - 1
            };
            if le {
                let x = bytes
                    .iter()
                    .rev()
                    .fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
                ((x >> shift) as u64) & mask
            } else {
                let x = bytes
                    .iter()
                    .fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
                let right = nbytes as u32 * 8 - shift - u32::from(size);
                ((x >> right) as u64) & mask
            }
        };
        self.pos = pos + bits;
        Ok(v)
    }

    #[inline]
    fn read_int(&mut self, d: &IntDesc, slot: u32, roles: Roles) -> Result<Value, DecodeError> {
        let v = self.read_int_raw(d, slot, roles)?;
        Ok(if d.signed {
            Value::Signed(v as i64, d.fmt)
        } else {
            Value::Unsigned(v, d.fmt)
        })
    }

    /// Reads an integer, updates its slot (and the clock or event id), and returns it
    /// sign-extended to 64 bits when signed.
    #[inline]
    fn read_int_raw(&mut self, d: &IntDesc, slot: u32, roles: Roles) -> Result<u64, DecodeError> {
        let raw = self.read_bits(d.align, d.size, d.le)?;
        if roles.clock {
            self.st.update_clock(d.size, raw);
        }
        let v = if d.signed && d.size < 64 {
            let s = 64 - u32::from(d.size);
            (((raw << s) as i64) >> s) as u64
        } else {
            raw
        };
        if let Some(s) = self.st.slots.get_mut(slot as usize) {
            *s = v;
        }
        if roles.event_id {
            self.st.event_id = Some(raw);
        }
        Ok(v)
    }

    fn read_string(&mut self) -> Result<String, DecodeError> {
        self.read_string_bytes().map(text)
    }

    /// The bytes of a nul-terminated string (without the nul).
    fn read_string_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let pos = align_up(self.pos, 8);
        if pos >= self.end {
            return Err(DecodeError::UnterminatedString { at: pos });
        }
        let start = (pos / 8) as usize;
        let end = (self.end / 8) as usize;
        let bytes = &self.buf[start..end];
        let len = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::UnterminatedString { at: pos })?;
        self.pos = pos + (len as u64 + 1) * 8;
        Ok(&bytes[..len])
    }

    /// `len` 8-bit characters as a string, cut at the first nul.
    fn read_text(&mut self, align: u32, len: u64) -> Result<String, DecodeError> {
        self.read_text_bytes(align, len).map(text)
    }

    /// `len` 8-bit characters, cut at the first nul.
    fn read_text_bytes(&mut self, align: u32, len: u64) -> Result<&'a [u8], DecodeError> {
        let pos = align_up(self.pos, align.max(8));
        let bits = len.saturating_mul(8);
        if pos.saturating_add(bits) > self.end {
            return Err(DecodeError::Overrun {
                at: pos,
                bits,
                end: self.end,
            });
        }
        let start = (pos / 8) as usize;
        let bytes = &self.buf[start..start + len as usize];
        let cut = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        self.pos = pos + bits;
        Ok(&bytes[..cut])
    }

    /// Decodes the fields of a struct node into a list (used for the top-level scopes).
    pub(crate) fn decode_fields(&mut self, node: &Node) -> Result<Fields, DecodeError> {
        match node {
            Node::Struct {
                align,
                names,
                fields,
            } => self.decode_struct(*align, names, fields),
            other => Ok(Fields::from_pairs([("", self.decode(other)?)])),
        }
    }

    /// Decodes the members of a struct, aligned to `align` bits.
    fn decode_struct(
        &mut self,
        align: u32,
        names: &std::sync::Arc<[std::sync::Arc<str>]>,
        fields: &[Node],
    ) -> Result<Fields, DecodeError> {
        self.pos = align_up(self.pos, align);
        let mut out = Vec::with_capacity(fields.len());
        for n in fields {
            out.push(self.decode(n)?);
        }
        Ok(Fields::new(names.clone(), out))
    }

    /// Decodes a node into a value.
    pub(crate) fn decode(&mut self, node: &Node) -> Result<Value, DecodeError> {
        self.spend()?;
        match node {
            Node::Int { d, slot, roles } => self.read_int(d, *slot, *roles),
            Node::Enum {
                d,
                slot,
                roles,
                map,
            } => {
                let v = self.read_int(d, *slot, *roles)?;
                let key: i128 = match v {
                    Value::Signed(s, _) => i128::from(s),
                    Value::Unsigned(u, _) => i128::from(u),
                    _ => 0,
                };
                let labels = map
                    .iter()
                    .filter(|(lo, hi, _)| *lo <= key && key <= *hi)
                    .map(|(_, _, l)| l.clone())
                    .collect();
                Ok(Value::Enum {
                    value: Box::new(v),
                    labels,
                })
            }
            Node::Float { align, double, le } => {
                Ok(Value::Float(self.read_float(*align, *double, *le)?))
            }
            Node::Str => Ok(Value::String(self.read_string()?)),
            Node::Struct {
                align,
                names,
                fields,
            } => Ok(Value::Struct(self.decode_struct(*align, names, fields)?)),
            Node::Variant {
                tag_slot,
                tag_signed,
                choices,
                options,
            } => {
                let (name, n) = self.select(*tag_slot, *tag_signed, choices, options)?;
                let value = self.decode(n)?;
                Ok(Value::Variant {
                    option: name.clone(),
                    value: Box::new(value),
                })
            }
            Node::Array { elem, len, text } => self.decode_array(elem, *len, *text),
            Node::Seq {
                elem,
                len_slot,
                len_signed,
                text,
            } => {
                let len = self.seq_len(*len_slot, *len_signed)?;
                self.decode_array(elem, len, *text)
            }
        }
    }

    /// Decodes a node without building its value: the data is checked and consumed, slots,
    /// clock and event id are updated (used for the packet and event headers).
    pub(crate) fn skip(&mut self, node: &Node) -> Result<(), DecodeError> {
        self.spend()?;
        match node {
            Node::Int { d, slot, roles } | Node::Enum { d, slot, roles, .. } => {
                self.read_int_raw(d, *slot, *roles)?;
            }
            Node::Float { align, double, le } => {
                self.read_float(*align, *double, *le)?;
            }
            Node::Str => {
                self.read_string_bytes()?;
            }
            Node::Struct { align, fields, .. } => {
                self.pos = align_up(self.pos, *align);
                for n in fields.iter() {
                    self.skip(n)?;
                }
            }
            Node::Variant {
                tag_slot,
                tag_signed,
                choices,
                options,
            } => {
                let (_, n) = self.select(*tag_slot, *tag_signed, choices, options)?;
                self.skip(n)?;
            }
            Node::Array { elem, len, text } => self.skip_array(elem, *len, *text)?,
            Node::Seq {
                elem,
                len_slot,
                len_signed,
                text,
            } => {
                let len = self.seq_len(*len_slot, *len_signed)?;
                self.skip_array(elem, len, *text)?;
            }
        }
        Ok(())
    }

    fn read_float(&mut self, align: u32, double: bool, le: bool) -> Result<f64, DecodeError> {
        let size = if double { 64 } else { 32 };
        let raw = self.read_bits(align, size, le)?;
        Ok(if double {
            f64::from_bits(raw)
        } else {
            f64::from(f32::from_bits(raw as u32))
        })
    }

    /// The option a variant's tag selects (the position is aligned for it).
    fn select<'n>(
        &mut self,
        tag_slot: u32,
        tag_signed: bool,
        choices: &[(i128, i128, u32)],
        options: &'n [(std::sync::Arc<str>, Node)],
    ) -> Result<&'n (std::sync::Arc<str>, Node), DecodeError> {
        let raw = self.st.slots.get(tag_slot as usize).copied().unwrap_or(0);
        let key = if tag_signed {
            i128::from(raw as i64)
        } else {
            i128::from(raw)
        };
        let (_, _, idx) = choices
            .iter()
            .find(|(lo, hi, _)| *lo <= key && key <= *hi)
            .ok_or(DecodeError::BadVariantTag { value: key })?;
        let option = options
            .get(*idx as usize)
            .ok_or(DecodeError::BadVariantTag { value: key })?;
        self.pos = align_up(self.pos, option.1.align());
        Ok(option)
    }

    /// A sequence's length, from its length field's slot.
    fn seq_len(&self, len_slot: u32, len_signed: bool) -> Result<u64, DecodeError> {
        let raw = self.st.slots.get(len_slot as usize).copied().unwrap_or(0);
        if len_signed && (raw as i64) < 0 {
            return Err(DecodeError::NegativeLength { value: raw as i64 });
        }
        Ok(raw)
    }

    /// Checks that `len` elements can fit in what is left of the content (and of the work
    /// budget), moves to the first one and returns the bits left.
    fn start_array(&mut self, elem: &Node, len: u64) -> Result<u64, DecodeError> {
        let at = align_up(self.pos, elem.align());
        let left = self.end.saturating_sub(at);
        let min = elem.min_bits();
        if len.saturating_mul(min) > left {
            return Err(DecodeError::TooLong { len, at, left });
        }
        if min == 0 && len > self.st.budget {
            return Err(DecodeError::TooComplex {
                limit: self.st.budget_limit,
            });
        }
        self.pos = at;
        Ok(left)
    }

    fn decode_array(&mut self, elem: &Node, len: u64, text: bool) -> Result<Value, DecodeError> {
        let left = self.start_array(elem, len)?;
        if text {
            return Ok(Value::String(self.read_text(elem.align(), len)?));
        }
        // `len * min <= left` bounds the allocation by the bytes left in the packet.
        let min = elem.min_bits();
        let cap = usize::try_from(len.min(left.max(1) / min.max(1))).unwrap_or(0);
        let mut out = Vec::with_capacity(cap);
        for _ in 0..len {
            out.push(self.decode(elem)?);
        }
        Ok(Value::Array(out))
    }

    fn skip_array(&mut self, elem: &Node, len: u64, text: bool) -> Result<(), DecodeError> {
        self.start_array(elem, len)?;
        if text {
            self.read_text_bytes(elem.align(), len)?;
            return Ok(());
        }
        for _ in 0..len {
            self.skip(elem)?;
        }
        Ok(())
    }
}

/// The text walker: decodes straight into babeltrace2's text, without building values.
///
/// It reads, checks and spends exactly as [`Decoder::decode_fields`] and
/// [`Decoder::decode`] do (same errors at the same places), and writes exactly what
/// [`pretty::write_value`] writes for the values those would build.
impl Decoder<'_> {
    /// Writes a top-level scope as `{ name = value, ... }`.
    pub(crate) fn write_fields(
        &mut self,
        node: &Node,
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        match node {
            Node::Struct {
                align,
                names,
                fields,
            } => {
                self.pos = align_up(self.pos, *align);
                self.write_struct_fields(names, fields, out)
            }
            other => {
                out.extend_from_slice(b"{  = ");
                self.write_text(other, out)?;
                out.extend_from_slice(b" }");
                Ok(())
            }
        }
    }

    fn write_struct_fields(
        &mut self,
        names: &[std::sync::Arc<str>],
        fields: &[Node],
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        out.push(b'{');
        for (i, n) in fields.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b" " } else { b", " });
            if let Some(name) = names.get(i) {
                out.extend_from_slice(name.as_bytes());
            }
            out.extend_from_slice(b" = ");
            self.write_text(n, out)?;
        }
        out.extend_from_slice(b" }");
        Ok(())
    }

    /// Decodes a node and writes its value as text (see [`pretty::write_value`]).
    pub(crate) fn write_text(&mut self, node: &Node, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        self.spend()?;
        match node {
            Node::Int { d, slot, roles } => {
                let v = self.read_int_raw(d, *slot, *roles)?;
                pretty::write_int(out, v, d.signed, d.fmt);
            }
            Node::Enum {
                d,
                slot,
                roles,
                map,
            } => {
                let v = self.read_int_raw(d, *slot, *roles)?;
                let key = if d.signed {
                    i128::from(v as i64)
                } else {
                    i128::from(v)
                };
                let labels = map
                    .iter()
                    .filter(|(lo, hi, _)| *lo <= key && key <= *hi)
                    .map(|(_, _, l)| &**l);
                out.extend_from_slice(b"( ");
                pretty::write_labels(out, labels);
                out.extend_from_slice(b" : container = ");
                pretty::write_int(out, v, d.signed, d.fmt);
                out.extend_from_slice(b" )");
            }
            Node::Float { align, double, le } => {
                pretty::write_g(out, self.read_float(*align, *double, *le)?);
            }
            Node::Str => {
                let bytes = self.read_string_bytes()?;
                pretty::write_escaped_bytes(out, bytes);
            }
            Node::Struct {
                align,
                names,
                fields,
            } => {
                self.pos = align_up(self.pos, *align);
                self.write_struct_fields(names, fields, out)?;
            }
            Node::Variant {
                tag_slot,
                tag_signed,
                choices,
                options,
            } => {
                let (_, n) = self.select(*tag_slot, *tag_signed, choices, options)?;
                out.extend_from_slice(b"{ ");
                self.write_text(n, out)?;
                out.extend_from_slice(b" }");
            }
            Node::Array { elem, len, text } => self.write_array(elem, *len, *text, out)?,
            Node::Seq {
                elem,
                len_slot,
                len_signed,
                text,
            } => {
                let len = self.seq_len(*len_slot, *len_signed)?;
                self.write_array(elem, len, *text, out)?;
            }
        }
        Ok(())
    }

    fn write_array(
        &mut self,
        elem: &Node,
        len: u64,
        text: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        self.start_array(elem, len)?;
        if text {
            let bytes = self.read_text_bytes(elem.align(), len)?;
            pretty::write_escaped_bytes(out, bytes);
            return Ok(());
        }
        if len == 0 {
            out.extend_from_slice(b"[ ]");
            return Ok(());
        }
        out.extend_from_slice(b"[ ");
        for i in 0..len {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.push(b'[');
            pretty::write_u64(out, i);
            out.extend_from_slice(b"] = ");
            self.write_text(elem, out)?;
        }
        out.extend_from_slice(b" ]");
        Ok(())
    }
}

/// Bytes as text; invalid UTF-8 sequences become U+FFFD.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(buf: &[u8], st: &mut DecodeState) -> Vec<u64> {
        let mut d = Decoder::new(buf, buf.len() as u64 * 8, st);
        vec![
            d.read_bits(1, 5, true).unwrap(),
            d.read_bits(1, 27, true).unwrap(),
        ]
    }

    #[test]
    fn little_endian_bit_fields_fill_from_the_lsb() {
        // The compact header word `id | ts27 << 5` with id = 1, ts = 0x5ABCDEF.
        let word: u32 = 1 | (0x5AB_CDEF << 5);
        let mut st = DecodeState::new(0);
        assert_eq!(dec(&word.to_le_bytes(), &mut st), vec![1, 0x5AB_CDEF]);
    }

    #[test]
    fn big_endian_bit_fields_fill_from_the_msb() {
        // id = 3 in the top 5 bits, then 27 bits.
        let word: u32 = (3 << 27) | 0x12_3456;
        let mut st = DecodeState::new(0);
        let bytes = word.to_be_bytes();
        let mut d = Decoder::new(&bytes, 32, &mut st);
        assert_eq!(d.read_bits(1, 5, false).unwrap(), 3);
        assert_eq!(d.read_bits(1, 27, false).unwrap(), 0x12_3456);
    }

    #[test]
    fn big_endian_integers_and_alignment_from_the_packet_start() {
        let buf = [0xAA, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
        let mut st = DecodeState::new(0);
        let mut d = Decoder::new(&buf, 64, &mut st);
        assert_eq!(d.read_bits(8, 8, false).unwrap(), 0xAA);
        assert_eq!(d.read_bits(32, 32, false).unwrap(), 0x1234_5678);
        assert_eq!(d.pos, 64);
    }

    #[test]
    fn reads_past_the_content_end_are_errors() {
        let mut st = DecodeState::new(0);
        let mut d = Decoder::new(&[1, 2, 3], 20, &mut st);
        assert_eq!(
            d.read_bits(8, 32, true),
            Err(DecodeError::Overrun {
                at: 0,
                bits: 32,
                end: 20
            })
        );
    }

    #[test]
    fn a_27_bit_timestamp_that_wraps_adds_one_period() {
        let mut st = DecodeState::new(0);
        st.clock = 428_774_070_954; // low 27 bits are 0x5e00_e4aa & mask
        let target: u64 = 428_825_640_965;
        st.update_clock(27, target & ((1 << 27) - 1));
        assert_eq!(st.clock, target);
        // No wrap: low bits only grow.
        st.update_clock(27, (target + 10) & ((1 << 27) - 1));
        assert_eq!(st.clock, target + 10);
        st.update_clock(64, 5);
        assert_eq!(st.clock, 5);
    }
}
