//! A callsite's event classes, and one record's values encoded for them.
//!
//! `tracing` tells a callsite's field names, not their types: a value's type is known
//! when it is recorded. So a callsite's first class is registered with libust (a
//! run-time tracepoint, as a C provider's) at its first record, typed by that record's
//! values. A later record whose values fit the class is encoded for it: an integer
//! into a wider or other-signed integer field when it fits, an integer into a float
//! field, anything into a string field (formatted). A record that does not fit (a
//! string where the class has an integer, a field the class lacks) gets a further
//! class, named as the first with `_2`, `_3`, ... ([`MAX_CLASSES`] in all), and
//! beyond that one in which every field is a string (`_text`), which any record fits.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use libust::Tracepoint;
use proto::event::{Base, EventDesc, FieldDesc, FieldType, IntType};
use tracing_core::field::{Field, Visit};
use tracing_core::Metadata;

use crate::names;

/// What a callsite's classes are named and described with.
#[derive(Debug)]
pub struct Site {
    pub provider: String,
    pub name: String,
    pub level: proto::event::LogLevel,
    pub uri: Option<String>,
    /// The names of the fields recorded, by index (a log record's callsite has more:
    /// `log.target`, ..., which its metadata already says).
    pub fields: Vec<&'static str>,
}

impl Site {
    /// A tracing callsite's.
    pub fn of(meta: &Metadata<'_>, fields: Vec<&'static str>) -> Site {
        let (provider, name) = names::event_name(meta);
        Site {
            provider,
            name,
            level: names::level(meta.level()),
            uri: names::uri(meta),
            fields,
        }
    }
}

/// Typed classes per callsite, the all-string class aside.
pub const MAX_CLASSES: usize = 8;
/// Most fields of a callsite (tracing's own limit on a value set).
pub const MAX_FIELDS: usize = 32;
/// Most values of a record: a span's ids before its fields.
const MAX_VALUES: usize = MAX_FIELDS + 2;

/// The type of one recorded value, as a field of a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Absent,
    I64,
    U64,
    F64,
    Bool,
    Str,
}

/// One recorded value; strings are byte ranges of the record's text buffer.
#[derive(Clone, Copy, Debug)]
enum Val {
    Absent,
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(u32, u32),
}

impl Val {
    fn kind(self) -> Kind {
        match self {
            Val::Absent => Kind::Absent,
            Val::I64(_) => Kind::I64,
            Val::U64(_) => Kind::U64,
            Val::F64(_) => Kind::F64,
            Val::Bool(_) => Kind::Bool,
            Val::Str(..) => Kind::Str,
        }
    }

    /// Whether a field of kind `k` can hold this value.
    fn fits(self, k: Kind) -> bool {
        match (self, k) {
            (v, k) if v.kind() == k => true,
            // A field not recorded this time is an empty string in a string field.
            (Val::Absent, Kind::Str) => true,
            (Val::Absent, _) | (_, Kind::Absent) => false,
            (Val::U64(x), Kind::I64) => i64::try_from(x).is_ok(),
            (Val::I64(x), Kind::U64) => x >= 0,
            (Val::I64(_) | Val::U64(_), Kind::F64) => true,
            (_, Kind::Str) => true,
            _ => false,
        }
    }
}

/// One record's values, by field index, and the text they refer to.
pub struct Values {
    vals: [Val; MAX_VALUES],
    text: String,
    /// Where the recorded fields start: after the ids [`Values::lead`] put first.
    offset: usize,
    /// Values past this index are all absent.
    len: usize,
}

impl Values {
    pub fn new() -> Values {
        Values {
            vals: [Val::Absent; MAX_VALUES],
            text: String::new(),
            offset: 0,
            len: 0,
        }
    }

    /// Forgets the previous record's values (keeping the buffer).
    pub fn clear(&mut self) {
        for v in &mut self.vals[..self.len] {
            *v = Val::Absent;
        }
        self.len = 0;
        self.text.clear();
        self.offset = 0;
    }

    /// Puts `ids` (span ids) before the fields recorded next.
    pub fn lead(&mut self, ids: &[u64]) {
        for (slot, &id) in self.vals.iter_mut().zip(ids) {
            *slot = Val::U64(id);
        }
        self.offset = ids.len();
        self.len = self.len.max(ids.len());
    }

    fn set(&mut self, field: &Field, v: Val) {
        let i = field.index() + self.offset;
        if let Some(slot) = self.vals.get_mut(i) {
            *slot = v;
            self.len = self.len.max(i + 1);
        }
    }

    /// Appends a value's text, kept up to its first NUL: a CTF string ends there, as
    /// LTTng-UST's copy does.
    fn push_text(&mut self, field: &Field, f: impl FnOnce(&mut String)) {
        let start = self.text.len();
        f(&mut self.text);
        let end = start + until_nul(self.text.as_bytes().get(start..).unwrap_or(&[]));
        self.set(field, Val::Str(start as u32, end as u32));
    }

    /// A recorded string's bytes (no NUL among them).
    #[inline]
    fn bytes(&self, a: u32, b: u32) -> &[u8] {
        self.text
            .as_bytes()
            .get(a as usize..b as usize)
            .unwrap_or(&[])
    }
}

impl Default for Values {
    fn default() -> Values {
        Values::new()
    }
}

impl Visit for Values {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Val::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, Val::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.set(field, Val::I64(v)),
            Err(_) => self.push_text(field, |t| {
                let _ = write!(t, "{value}");
            }),
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.set(field, Val::U64(v)),
            Err(_) => self.push_text(field, |t| {
                let _ = write!(t, "{value}");
            }),
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Val::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Val::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push_text(field, |t| t.push_str(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push_text(field, |t| {
            let _ = write!(t, "{value}");
        });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push_text(field, |t| {
            let _ = write!(t, "{value:?}");
        });
    }
}

/// The length of `b` up to its first NUL, eight bytes at a time: short strings, the
/// common case, are searched inline rather than by a call to memchr.
#[inline]
fn until_nul(b: &[u8]) -> usize {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        // A zero byte of x sets its high bit in this (and no lower byte is wrong).
        let zero = x.wrapping_sub(LOW) & !x & HIGH;
        if zero != 0 {
            return at + (zero.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(words.remainder().len())
}

thread_local! {
    /// Each thread's record buffers: the values and the encoded payload.
    static BUFFERS: RefCell<(Values, Vec<u8>)> = RefCell::new((Values::new(), Vec::new()));
}

/// Runs `f` with this thread's buffers. An event recorded while formatting another
/// one's value (a Debug impl that logs) gets buffers of its own.
fn with_buffers(f: impl FnOnce(&mut Values, &mut Vec<u8>)) {
    let mut f = Some(f);
    let _ = BUFFERS.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            let (values, payload) = &mut *b;
            if let Some(f) = f.take() {
                f(values, payload);
            }
        }
    });
    if let Some(f) = f {
        f(&mut Values::new(), &mut Vec::new());
    }
}

/// The fast path's visitor: encodes each value straight into the payload of one
/// class, as long as the values come in the class's field order with its exact
/// kinds; anything else (another kind, a field missing or out of order) and it gives
/// up, for the general path to record.
struct Direct<'a> {
    kinds: &'a [Kind],
    /// The index of the next field expected.
    next: usize,
    offset: usize,
    out: &'a mut Vec<u8>,
    ok: bool,
    /// The string being written met a NUL: it ends there.
    cut: bool,
}

impl<'a> Direct<'a> {
    fn new(kinds: &'a [Kind], ids: &[u64], out: &'a mut Vec<u8>) -> Direct<'a> {
        out.clear();
        let mut d = Direct {
            kinds,
            next: 0,
            offset: ids.len(),
            out,
            ok: true,
            cut: false,
        };
        for (i, &id) in ids.iter().enumerate() {
            if d.expect(i, Kind::U64) {
                d.out.extend_from_slice(&id.to_le_bytes());
            }
        }
        d
    }

    /// Moves past the class's fields that its first record did not have.
    #[inline]
    fn skip_absent(&mut self) {
        while self.kinds.get(self.next) == Some(&Kind::Absent) {
            self.next += 1;
        }
    }

    /// Whether field `i`, of kind `k`, is the one expected next (and moves past it).
    #[inline]
    fn expect(&mut self, i: usize, k: Kind) -> bool {
        self.skip_absent();
        if self.ok && i == self.next && self.kinds.get(i) == Some(&k) {
            self.next += 1;
            true
        } else {
            self.ok = false;
            false
        }
    }

    #[inline]
    fn field(&mut self, field: &Field, k: Kind) -> bool {
        self.expect(field.index() + self.offset, k)
    }

    /// Appends `s` to the string being written, up to its first NUL, after which
    /// the string ignores what follows. Searched before the copy, not in it: reading
    /// back bytes just stored stalls the store buffer.
    #[inline]
    fn put_str(&mut self, s: &str) {
        if !self.cut {
            let b = s.as_bytes();
            let n = until_nul(b);
            self.out.extend_from_slice(&b[..n]);
            self.cut = n < b.len();
        }
    }

    /// Ends the string being written, with its NUL.
    #[inline]
    fn end_string(&mut self) {
        self.out.push(0);
        self.cut = false;
    }

    /// Whether the record was encoded whole.
    fn finish(mut self) -> bool {
        self.skip_absent();
        self.ok && self.next == self.kinds.len()
    }
}

impl std::fmt::Write for Direct<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.put_str(s);
        Ok(())
    }
}

impl Visit for Direct<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.field(field, Kind::I64) {
            self.out.extend_from_slice(&value.to_le_bytes());
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.field(field, Kind::U64) {
            self.out.extend_from_slice(&value.to_le_bytes());
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.field(field, Kind::F64) {
            self.out.extend_from_slice(&value.to_bits().to_le_bytes());
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.field(field, Kind::Bool) {
            self.out.push(u8::from(value));
        }
    }
    fn record_i128(&mut self, _: &Field, _: i128) {
        self.ok = false;
    }
    fn record_u128(&mut self, _: &Field, _: u128) {
        self.ok = false;
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.field(field, Kind::Str) {
            self.put_str(value);
            self.end_string();
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.field(field, Kind::Str) {
            let _ = write!(self, "{value}");
            self.end_string();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.field(field, Kind::Str) {
            let _ = write!(self, "{value:?}");
            self.end_string();
        }
    }
}

/// One registered class of a callsite: the kind of each of its fields by index.
#[derive(Debug)]
pub struct Class {
    kinds: Vec<Kind>,
    pub tp: &'static Tracepoint,
}

impl Class {
    fn fits(&self, v: &Values) -> bool {
        Class::fits_kinds(&self.kinds, v)
    }

    /// Whether a class with fields of `kinds` can hold `v`.
    fn fits_kinds(kinds: &[Kind], v: &Values) -> bool {
        kinds
            .iter()
            .zip(v.vals.iter())
            .all(|(&k, &val)| (k == Kind::Absent && matches!(val, Val::Absent)) || val.fits(k))
    }
}

/// Encodes `v` (which fits `kinds`, see [`Class::fits`]) as a payload of that
/// class, into `out`.
fn encode(kinds: &[Kind], v: &Values, out: &mut Vec<u8>) {
    out.clear();
    for (&k, &val) in kinds.iter().zip(v.vals.iter()) {
        match (k, val) {
            (Kind::Absent, _) => {}
            (Kind::I64, Val::I64(x)) => out.extend_from_slice(&x.to_le_bytes()),
            (Kind::I64, Val::U64(x)) => out.extend_from_slice(&(x as i64).to_le_bytes()),
            (Kind::U64, Val::U64(x)) => out.extend_from_slice(&x.to_le_bytes()),
            (Kind::U64, Val::I64(x)) => out.extend_from_slice(&(x as u64).to_le_bytes()),
            (Kind::F64, Val::F64(x)) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
            (Kind::F64, Val::I64(x)) => out.extend_from_slice(&(x as f64).to_bits().to_le_bytes()),
            (Kind::F64, Val::U64(x)) => out.extend_from_slice(&(x as f64).to_bits().to_le_bytes()),
            (Kind::Bool, Val::Bool(b)) => out.push(u8::from(b)),
            (Kind::Str, Val::Str(a, b)) => {
                out.extend_from_slice(v.bytes(a, b));
                out.push(0);
            }
            (Kind::Str, val) => {
                // Formatted numbers and bools hold no NUL.
                let mut s = String::new();
                let _ = match val {
                    Val::I64(x) => write!(s, "{x}"),
                    Val::U64(x) => write!(s, "{x}"),
                    Val::F64(x) => write!(s, "{x}"),
                    Val::Bool(b) => write!(s, "{b}"),
                    Val::Absent | Val::Str(..) => Ok(()),
                };
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            // `fits` allows nothing else.
            _ => {}
        }
    }
}

/// A callsite and the classes registered for it so far.
pub struct Callsite {
    site: Site,
    first: OnceLock<Class>,
    more: Mutex<Vec<&'static Class>>,
    /// The same classes, read without the lock (by [`Callsite::wanted`], which runs
    /// while tracing holds its callsite registry: it must not wait on a registration).
    slots: [OnceLock<&'static Class>; MAX_CLASSES],
    /// Set once registration failed for good: the callsite is not traced.
    dead: OnceLock<()>,
}

impl Callsite {
    pub fn new(site: Site) -> Callsite {
        Callsite {
            site,
            first: OnceLock::new(),
            more: Mutex::new(Vec::new()),
            slots: std::array::from_fn(|_| OnceLock::new()),
            dead: OnceLock::new(),
        }
    }

    /// Whether a record of this callsite may be wanted: it has no class yet (the
    /// first record registers one), or one of its classes is enabled.
    pub fn wanted(&self) -> bool {
        if self.dead.get().is_some() {
            return false;
        }
        match self.first.get() {
            None => true,
            Some(c) if c.tp.is_enabled() => true,
            Some(_) => self
                .slots
                .iter()
                .map_while(OnceLock::get)
                .any(|c| c.tp.is_enabled()),
        }
    }

    /// Records one record of this callsite: `ids` (span ids), then the values `visit`
    /// hands to a visitor (called a second time when the fast path gives up).
    ///
    /// The fast path encodes the values as they are visited, in the layout of the
    /// callsite's first class, and copies the payload into the ring in one piece: it
    /// holds whenever the record has the first record's types, the common case. Any
    /// other record takes the general path, [`Values`] then the class it fits.
    pub fn record(&self, ids: &[u64], visit: impl Fn(&mut dyn Visit)) {
        with_buffers(|values, payload| {
            if let Some(c) = self.first.get() {
                if c.tp.is_enabled() {
                    let mut direct = Direct::new(&c.kinds, ids, payload);
                    visit(&mut direct);
                    if direct.finish() {
                        let bytes: &[u8] = payload;
                        libust::record(c.tp, bytes.len(), |w| w.put(bytes));
                        return;
                    }
                }
            }
            values.clear();
            values.lead(ids);
            visit(values);
            self.record_values(values, payload);
        });
    }

    /// Records `v` through the class it fits, registering one when none does.
    fn record_values(&self, v: &Values, payload: &mut Vec<u8>) {
        let Some(class) = self.class_for(v) else {
            return;
        };
        if !class.tp.is_enabled() {
            return;
        }
        encode(&class.kinds, v, payload);
        let bytes: &[u8] = payload;
        libust::record(class.tp, bytes.len(), |w| w.put(bytes));
    }

    fn class_for(&self, v: &Values) -> Option<&Class> {
        if let Some(c) = self.first.get() {
            if c.fits(v) {
                return Some(c);
            }
        } else {
            return self.register_first(v);
        }
        // The further classes, without the lock: a callsite whose types keep changing
        // takes it only to register one.
        if let Some(c) = self
            .slots
            .iter()
            .map_while(OnceLock::get)
            .find(|c| c.fits(v))
        {
            return Some(*c);
        }
        let mut more = self.more.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = more.iter().find(|c| c.fits(v)) {
            return Some(*c);
        }
        let n = more.len() + 2;
        let (kinds, suffix) = if n <= MAX_CLASSES {
            (self.kinds_of(v), n.to_string())
        } else {
            (vec![Kind::Str; self.site.fields.len()], "text".to_string())
        };
        if more.iter().any(|c| c.kinds == kinds) {
            return None;
        }
        let tp = self.register(&kinds, Some(&suffix))?;
        let c: &'static Class = Box::leak(Box::new(Class { kinds, tp }));
        if let Some(slot) = self.slots.get(more.len()) {
            let _ = slot.set(c);
        }
        more.push(c);
        c.fits(v).then_some(c)
    }

    fn register_first(&self, v: &Values) -> Option<&Class> {
        // Two threads may race to the first record: one registers, both use it.
        static REGISTERING: Mutex<()> = Mutex::new(());
        let _one = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
        let mut disabled = false;
        if self.first.get().is_none() {
            let kinds = self.kinds_of(v);
            let tp = self.register(&kinds, None)?;
            disabled = !tp.is_enabled();
            let _ = self.first.set(Class { kinds, tp });
        }
        drop(_one);
        if disabled {
            crate::rebuild_soon();
        }
        self.first.get().filter(|c| c.fits(v))
    }

    /// Registers a class of this callsite with `kinds`; on a name already taken by
    /// another description (another callsite at the same place), tries `_b`, `_c`, ....
    fn register(&self, kinds: &[Kind], suffix: Option<&str>) -> Option<&'static Tracepoint> {
        let mut last = None;
        for attempt in 0..8u8 {
            let mut s = suffix.map(str::to_string);
            if attempt > 0 {
                let extra = char::from(b'a' + attempt);
                s = Some(match s {
                    Some(s) => format!("{s}_{extra}"),
                    None => extra.to_string(),
                });
            }
            let desc = self.describe(kinds, s.as_deref());
            match libust::register_dynamic(vec![desc]) {
                Ok(tps) => return tps.into_iter().next(),
                Err(e @ libust::RegisterError::Conflict(_)) => last = Some(e),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        if self.dead.set(()).is_ok() {
            if let Some(e) = last {
                eprintln!(
                    "tracing-lttng: {}:{} ({}) is not traced: {e}",
                    self.site.provider,
                    self.site.name,
                    self.site.uri.as_deref().unwrap_or("?"),
                );
            }
        }
        None
    }

    fn kinds_of(&self, v: &Values) -> Vec<Kind> {
        let n = self.site.fields.len().min(MAX_VALUES);
        v.vals[..n].iter().map(|val| val.kind()).collect()
    }

    /// The event description of a class: the callsite's name and level, a field per
    /// present kind, named after the callsite's field (made unique).
    fn describe(&self, kinds: &[Kind], suffix: Option<&str>) -> EventDesc {
        let site = &self.site;
        let mut fields: Vec<FieldDesc> = Vec::new();
        for (field, &k) in site.fields.iter().zip(kinds) {
            let ty = match k {
                Kind::Absent => continue,
                Kind::I64 => FieldType::Integer(IntType::new(64, true, Base::Dec)),
                Kind::U64 => FieldType::Integer(IntType::new(64, false, Base::Dec)),
                Kind::F64 => FieldType::F64,
                Kind::Bool => FieldType::Bool,
                Kind::Str => FieldType::String,
            };
            let base = names::field(field);
            let mut fname = base.clone();
            let mut n = 2;
            while fields.iter().any(|f| f.name == fname) {
                fname = format!("{base}_{n}");
                n += 1;
            }
            fields.push(FieldDesc { name: fname, ty });
        }
        EventDesc {
            provider: site.provider.clone(),
            name: names::with_suffix(&site.name, suffix),
            loglevel: site.level,
            model_emf_uri: site.uri.clone(),
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_core::callsite::DefaultCallsite;
    use tracing_core::field::{FieldSet, Value};
    use tracing_core::{identify_callsite, Level};

    static CALLSITE: DefaultCallsite = DefaultCallsite::new(&META);
    static META: Metadata<'static> = Metadata::new(
        "test",
        "test",
        Level::INFO,
        None,
        None,
        None,
        FieldSet::new(&["n", "s", "m", "f"], identify_callsite!(&CALLSITE)),
        tracing_core::metadata::Kind::EVENT,
    );

    /// Visits one record of `n`, `s`, `m` (a Debug value) and `f` with both paths.
    fn both(kinds: &[Kind], ids: &[u64], n: &dyn Value, s: &str, m: &dyn Value) -> [Vec<u8>; 2] {
        let fields = META.fields();
        let [fnn, fs, fm, ff] = ["n", "s", "m", "f"].map(|x| fields.field(x).unwrap());
        let f = 0.5f64;
        let values = [
            (&fnn, Some(n)),
            (&fs, Some(&s as &dyn Value)),
            (&fm, Some(m)),
            (&ff, Some(&f as &dyn Value)),
        ];
        let set = fields.value_set(&values);
        let mut direct = Vec::new();
        let mut d = Direct::new(kinds, ids, &mut direct);
        set.record(&mut d);
        if !d.finish() {
            direct.clear();
        }
        let mut v = Values::new();
        v.lead(ids);
        set.record(&mut v);
        let mut general = Vec::new();
        if Class::fits_kinds(kinds, &v) {
            encode(kinds, &v, &mut general);
        }
        [direct, general]
    }

    #[test]
    fn the_fast_path_encodes_what_the_general_path_does() {
        use Kind::*;
        let kinds = [U64, U64, Str, Str, F64];
        let long = "a string longer than thirty-two bytes, with a NUL\0 inside";
        for s in ["", "short", "sixteen chars...", "nul\0after", long, "\0"] {
            let msg = format_args!("m {}", 7);
            let [direct, general] = both(&kinds, &[9], &3u64, s, &msg);
            assert!(!direct.is_empty(), "{s:?}: the fast path gave up");
            assert_eq!(direct, general, "{s:?}");
            let cut = s.find('\0').unwrap_or(s.len());
            let mut want = [9u64.to_le_bytes(), 3u64.to_le_bytes()].concat();
            want.extend_from_slice(&s.as_bytes()[..cut]);
            want.extend_from_slice(b"\0m 7\0");
            want.extend_from_slice(&0.5f64.to_bits().to_le_bytes());
            assert_eq!(direct, want, "{s:?}");
        }
    }

    #[test]
    fn the_fast_path_gives_up_on_another_kind_and_the_general_path_converts() {
        use Kind::*;
        // A signed value where the class has an unsigned field; a field the class
        // lacks; a class with a field this record lacks.
        let [direct, general] = both(&[U64, Str, Str, F64], &[], &3i64, "x", &"m");
        assert!(direct.is_empty());
        assert_eq!(general[..8], 3u64.to_le_bytes());
        let [direct, _] = both(&[U64, Absent, Str, F64], &[], &3u64, "x", &"m");
        assert!(direct.is_empty());
        let [direct, _] = both(&[U64, Str, Str, F64, Bool], &[], &3u64, "x", &"m");
        assert!(direct.is_empty());
    }

    #[test]
    fn nul_search_finds_the_first_nul_at_every_position() {
        for len in 0..40 {
            for at in 0..=len {
                let mut b = vec![b'x'; len];
                if at < len {
                    b[at] = 0;
                    if at + 1 < len {
                        b[at + 1] = 0x80; // a byte that fools a naive word test
                    }
                }
                assert_eq!(until_nul(&b), at, "len {len}, NUL at {at}");
            }
        }
    }
}
