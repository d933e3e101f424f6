//! TSDL (CTF 1.8 metadata) parser: metadata bytes → [`Metadata`].
//!
//! Steps: [`metadata_text`] turns packetized metadata (magic 0x75D11D57) into text,
//! [`super::lexer`] tokenizes it, and [`Parser`] builds the declarations into an AST of
//! [`Ty`] nodes plus the `trace`, `env`, `clock`, `stream` and `event` blocks. Type trees are
//! later compiled into decode plans by [`super::plan`].
//!
//! Only the subset written by LTTng-UST 2.13, LTTng-modules and our own writer is supported.
//! The input is untrusted: nesting depth, node counts and sizes are bounded, and every
//! problem is a [`MetadataError`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::lexer::{tokenize, Tok, Token};

/// Deepest nesting of type declarations (struct in struct in variant ...).
pub(crate) const MAX_DEPTH: u32 = 32;
/// Most type nodes (integers, structs, fields, enum labels...) one metadata may declare.
const MAX_NODES: usize = 1 << 20;
/// Largest metadata accepted, in bytes.
pub(crate) const MAX_METADATA_BYTES: usize = 256 << 20;

const METADATA_PACKET_MAGIC: u32 = 0x75D1_1D57;
const METADATA_PACKET_HEADER_BYTES: usize = 37;

/// Why the metadata of a trace could not be parsed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MetadataError {
    #[error("metadata line {line}: {message}")]
    Syntax { line: u32, message: String },
    #[error("metadata line {line}: types nested deeper than {limit} levels")]
    TooDeep { line: u32, limit: u32 },
    #[error("metadata too large: {what} exceeds {limit}")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("metadata packet at offset {offset}: {message}")]
    Packet { offset: usize, message: String },
    #[error("metadata is not valid utf-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("invalid metadata: {0}")]
    Invalid(String),
}

/// Byte order of a trace or of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

/// A value of the `env` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Int(i64),
    Str(String),
}

impl EnvValue {
    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            EnvValue::Str(s) => Some(s),
            EnvValue::Int(_) => None,
        }
    }
}

impl std::fmt::Display for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::Int(v) => write!(f, "{v}"),
            EnvValue::Str(s) => f.write_str(s),
        }
    }
}

/// A `clock` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub name: String,
    pub uuid: Option<String>,
    pub description: Option<String>,
    /// Hz, never 0.
    pub freq: u64,
    pub precision: u64,
    /// Seconds since the Unix epoch at clock value 0 (normalised: `0 <= offset < freq`).
    pub offset_s: i64,
    /// Cycles added to `offset_s` (normalised into `0..freq`).
    pub offset: i64,
    pub absolute: bool,
}

impl Clock {
    /// The default clock babeltrace2 makes up when a trace declares none: 1 GHz, origin 0.
    pub fn default_clock() -> Clock {
        Clock {
            name: "default".into(),
            uuid: None,
            description: None,
            freq: 1_000_000_000,
            precision: 0,
            offset_s: 0,
            offset: 0,
            absolute: false,
        }
    }

    /// Nanoseconds since the Unix epoch of a clock value, computed as babeltrace2 does
    /// (`bt_util_ns_from_origin_inline`): seconds offset, plus the cycles offset and the value
    /// each converted on their own in `double` arithmetic and truncated (which differs from
    /// the exact quotient by 1 ns now and then), summed here in 128 bits (no overflow).
    #[inline]
    pub fn ns_from_origin(&self, value: u64) -> i128 {
        let offset = match u64::try_from(self.offset) {
            Ok(o) => i128::from(ns_from_value(self.freq, o)),
            // Not produced by the parser (offsets are normalised into 0..freq).
            Err(_) => i128::from(self.offset) * 1_000_000_000 / i128::from(self.freq.max(1)),
        };
        i128::from(self.offset_s) * 1_000_000_000
            + offset
            + i128::from(ns_from_value(self.freq, value))
    }
}

/// babeltrace2's `bt_util_ns_from_value`: `value` cycles at `freq` Hz in ns, through `double`.
#[inline]
fn ns_from_value(freq: u64, value: u64) -> u64 {
    if freq == 1_000_000_000 {
        return value;
    }
    let ns = (1e9 * value as f64) / freq.max(1) as f64;
    if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// An `event` block (the types stay private; they are compiled into decode plans).
#[derive(Debug, Clone)]
pub struct EventClass {
    pub name: String,
    pub id: u64,
    pub stream_id: u64,
    pub loglevel: Option<i64>,
    pub model_emf_uri: Option<String>,
    pub(crate) context: Option<Ty>,
    pub(crate) fields: Option<Ty>,
}

/// A `stream` block.
#[derive(Debug, Clone)]
pub struct StreamClass {
    pub id: u64,
    pub(crate) event_header: Option<Ty>,
    pub(crate) packet_context: Option<Ty>,
    pub(crate) event_context: Option<Ty>,
}

/// The parsed metadata of one trace.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub major: u64,
    pub minor: u64,
    /// The trace uuid, as written (`6ecbb290-8639-...`).
    pub uuid: Option<String>,
    pub byte_order: ByteOrder,
    pub env: BTreeMap<String, EnvValue>,
    pub clocks: Vec<Clock>,
    pub streams: Vec<StreamClass>,
    pub events: Vec<EventClass>,
    pub(crate) packet_header: Option<Ty>,
}

impl Metadata {
    /// Parses metadata bytes, text or packetized.
    pub fn parse(bytes: &[u8]) -> Result<Metadata, MetadataError> {
        let text = metadata_text(bytes)?;
        parse_text(&text)
    }

    /// `env.hostname`, when it is a string.
    pub fn hostname(&self) -> Option<&str> {
        self.env.get("hostname").and_then(EnvValue::as_str)
    }
}

// ---------------------------------------------------------------------------------------------
// AST

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AstOrder {
    Native,
    Fixed(ByteOrder),
}

#[derive(Debug, Clone)]
pub(crate) struct IntTy {
    pub(crate) size: u32,
    pub(crate) align: u32,
    pub(crate) signed: bool,
    pub(crate) order: AstOrder,
    pub(crate) base: u8,
    pub(crate) utf8: bool,
    pub(crate) map: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct FloatTy {
    pub(crate) exp_dig: u32,
    pub(crate) mant_dig: u32,
    pub(crate) order: AstOrder,
    pub(crate) align: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct EnumTy {
    pub(crate) container: IntTy,
    /// `(label, first, last)`, inclusive.
    pub(crate) entries: Vec<(Arc<str>, i128, i128)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) ty: Ty,
}

#[derive(Debug, Clone)]
pub(crate) struct StructTy {
    pub(crate) fields: Vec<Field>,
    pub(crate) align: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct VariantTy {
    pub(crate) tag: Option<String>,
    pub(crate) options: Vec<Field>,
}

#[derive(Debug, Clone)]
pub(crate) enum Ty {
    Int(Arc<IntTy>),
    Float(Arc<FloatTy>),
    Str,
    Enum(Arc<EnumTy>),
    Struct(Arc<StructTy>),
    Variant(Arc<VariantTy>),
    /// Fixed-length array.
    Array(Arc<Ty>, u64),
    /// Sequence; the length is the integer at this path.
    Seq(Arc<Ty>, String),
}

// ---------------------------------------------------------------------------------------------
// Metadata bytes → text

/// Returns the TSDL text of text or packetized metadata.
pub(crate) fn metadata_text(bytes: &[u8]) -> Result<String, MetadataError> {
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLarge {
            what: "metadata size",
            limit: MAX_METADATA_BYTES as u64,
        });
    }
    let packetized = bytes.len() >= 4 && {
        let m = [bytes[0], bytes[1], bytes[2], bytes[3]];
        u32::from_le_bytes(m) == METADATA_PACKET_MAGIC
            || u32::from_be_bytes(m) == METADATA_PACKET_MAGIC
    };
    let text_bytes = if packetized {
        depacketize(bytes)?
    } else {
        bytes.to_vec()
    };
    String::from_utf8(text_bytes).map_err(|e| MetadataError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

fn depacketize(bytes: &[u8]) -> Result<Vec<u8>, MetadataError> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let err = |message: String| MetadataError::Packet { offset, message };
        let Some(h) = bytes.get(offset..offset + METADATA_PACKET_HEADER_BYTES) else {
            return Err(err(format!(
                "truncated header: {} bytes left, {METADATA_PACKET_HEADER_BYTES} needed",
                bytes.len() - offset
            )));
        };
        let word = |at: usize| [h[at], h[at + 1], h[at + 2], h[at + 3]];
        let u32_at = if u32::from_le_bytes(word(0)) == METADATA_PACKET_MAGIC {
            |w: [u8; 4]| u32::from_le_bytes(w)
        } else if u32::from_be_bytes(word(0)) == METADATA_PACKET_MAGIC {
            |w: [u8; 4]| u32::from_be_bytes(w)
        } else {
            return Err(err(format!(
                "bad magic 0x{:08x} (expected 0x{METADATA_PACKET_MAGIC:08x})",
                u32::from_le_bytes(word(0))
            )));
        };
        let content_bits = u64::from(u32_at(word(24)));
        let packet_bits = u64::from(u32_at(word(28)));
        if h[32] != 0 || h[33] != 0 || h[34] != 0 {
            return Err(err(
                "compressed, encrypted or checksummed metadata is not supported".into(),
            ));
        }
        if content_bits % 8 != 0 || packet_bits % 8 != 0 {
            return Err(err(format!(
                "content_size {content_bits} or packet_size {packet_bits} bits is not a multiple of 8"
            )));
        }
        if content_bits > packet_bits {
            return Err(err(format!(
                "content_size {content_bits} bits exceeds packet_size {packet_bits} bits"
            )));
        }
        let header_bits = (METADATA_PACKET_HEADER_BYTES * 8) as u64;
        if content_bits < header_bits {
            return Err(err(format!(
                "content_size {content_bits} bits is smaller than the {header_bits}-bit header"
            )));
        }
        let packet_len = usize::try_from(packet_bits / 8).unwrap_or(usize::MAX);
        let content_len = usize::try_from(content_bits / 8).unwrap_or(usize::MAX);
        if packet_len > bytes.len() - offset {
            return Err(err(format!(
                "packet_size {packet_bits} bits goes beyond the end of the file ({} bytes left)",
                bytes.len() - offset
            )));
        }
        out.extend_from_slice(&bytes[offset + METADATA_PACKET_HEADER_BYTES..offset + content_len]);
        offset += packet_len;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Value of a block attribute.
#[derive(Debug, Clone)]
enum Attr {
    Int(i128),
    Str(String),
    /// An identifier or dotted path (`le`, `true`, `clock.monotonic.value`).
    Ident(String),
    Type(Ty),
}

type Block = Vec<(String, Attr, u32)>;

pub(crate) fn parse_text(text: &str) -> Result<Metadata, MetadataError> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        depth: 0,
        nodes: 0,
        aliases: HashMap::new(),
        structs: HashMap::new(),
        enums: HashMap::new(),
        variants: HashMap::new(),
    };
    let mut trace: Option<Block> = None;
    let mut env = BTreeMap::new();
    let mut clocks = Vec::new();
    let mut streams = Vec::new();
    let mut events = Vec::new();
    while p.pos < toks.len() {
        let line = p.line();
        let Some(Tok::Ident(word)) = p.peek().cloned() else {
            return Err(p.syntax("expected a declaration or a block"));
        };
        match word.as_str() {
            "typealias" | "typedef" => p.alias_declaration()?,
            "trace" | "env" | "clock" | "stream" | "event" | "callsite"
                if p.peek_at(1) == Some(&Tok::Punct("{")) =>
            {
                p.pos += 2;
                let block = p.block()?;
                p.expect(";")?;
                match word.as_str() {
                    "trace" => {
                        if trace.is_some() {
                            return Err(MetadataError::Syntax {
                                line,
                                message: "duplicate trace block".into(),
                            });
                        }
                        trace = Some(block);
                    }
                    "env" => build_env(&block, &mut env),
                    "clock" => clocks.push(build_clock(&block, line)?),
                    "stream" => streams.push(build_stream(block)?),
                    "event" => events.push(build_event(block, line)?),
                    _ => {} // callsite: informational only
                }
            }
            _ => {
                // A type declaration (`struct name {...};`, `enum name : t {...};`).
                p.type_spec(false)?;
                p.expect(";")?;
            }
        }
    }
    let trace = trace.ok_or_else(|| MetadataError::Invalid("no trace block".into()))?;
    let mut md = Metadata {
        major: 0,
        minor: 0,
        uuid: None,
        byte_order: ByteOrder::Little,
        env,
        clocks,
        streams,
        events,
        packet_header: None,
    };
    let mut saw_order = false;
    for (key, attr, line) in trace {
        match (key.as_str(), attr) {
            ("major", Attr::Int(v)) => md.major = u64::try_from(v).unwrap_or(0),
            ("minor", Attr::Int(v)) => md.minor = u64::try_from(v).unwrap_or(0),
            ("uuid", Attr::Str(s)) => md.uuid = Some(s),
            ("byte_order", Attr::Ident(o)) => {
                md.byte_order = match o.as_str() {
                    "le" | "little" => ByteOrder::Little,
                    "be" | "big" | "network" => ByteOrder::Big,
                    _ => {
                        return Err(MetadataError::Syntax {
                            line,
                            message: format!("invalid trace byte_order {o:?}"),
                        })
                    }
                };
                saw_order = true;
            }
            ("packet.header", Attr::Type(t)) => md.packet_header = Some(t),
            _ => {}
        }
    }
    if !saw_order {
        return Err(MetadataError::Invalid(
            "trace block has no byte_order".into(),
        ));
    }
    if md.major != 1 {
        return Err(MetadataError::Invalid(format!(
            "unsupported CTF version {}.{} (only 1.x is read)",
            md.major, md.minor
        )));
    }
    Ok(md)
}

fn attr_u64(attr: &Attr, key: &str, line: u32) -> Result<u64, MetadataError> {
    match attr {
        Attr::Int(v) => u64::try_from(*v).map_err(|_| MetadataError::Syntax {
            line,
            message: format!("{key} must be a non-negative integer"),
        }),
        _ => Err(MetadataError::Syntax {
            line,
            message: format!("{key} must be an integer"),
        }),
    }
}

fn attr_i64(attr: &Attr, key: &str, line: u32) -> Result<i64, MetadataError> {
    match attr {
        Attr::Int(v) => i64::try_from(*v).map_err(|_| MetadataError::Syntax {
            line,
            message: format!("{key} is out of range"),
        }),
        _ => Err(MetadataError::Syntax {
            line,
            message: format!("{key} must be an integer"),
        }),
    }
}

fn attr_string(attr: Attr) -> Option<String> {
    match attr {
        Attr::Str(s) | Attr::Ident(s) => Some(s),
        _ => None,
    }
}

fn attr_bool(attr: &Attr) -> Option<bool> {
    match attr {
        Attr::Int(v) => Some(*v != 0),
        Attr::Ident(s) | Attr::Str(s) => match s.as_str() {
            "true" | "TRUE" => Some(true),
            "false" | "FALSE" => Some(false),
            _ => None,
        },
        Attr::Type(_) => None,
    }
}

fn build_env(block: &Block, env: &mut BTreeMap<String, EnvValue>) {
    for (key, attr, _) in block {
        let v = match attr {
            Attr::Int(v) => EnvValue::Int(i64::try_from(*v).unwrap_or(i64::MAX)),
            Attr::Str(s) | Attr::Ident(s) => EnvValue::Str(s.clone()),
            Attr::Type(_) => continue,
        };
        env.insert(key.clone(), v);
    }
}

fn build_clock(block: &Block, line: u32) -> Result<Clock, MetadataError> {
    let mut c = Clock::default_clock();
    let mut named = false;
    for (key, attr, l) in block.iter().cloned() {
        match key.as_str() {
            "name" => {
                c.name = attr_string(attr).unwrap_or_default();
                named = true;
            }
            "uuid" => c.uuid = attr_string(attr),
            "description" => c.description = attr_string(attr),
            "freq" => c.freq = attr_u64(&attr, "clock freq", l)?,
            "precision" => c.precision = attr_u64(&attr, "clock precision", l)?,
            "offset_s" => c.offset_s = attr_i64(&attr, "clock offset_s", l)?,
            "offset" => c.offset = attr_i64(&attr, "clock offset", l)?,
            "absolute" => c.absolute = attr_bool(&attr).unwrap_or(false),
            _ => {}
        }
    }
    if !named {
        return Err(MetadataError::Syntax {
            line,
            message: "clock block has no name".into(),
        });
    }
    if c.freq == 0 {
        return Err(MetadataError::Syntax {
            line,
            message: format!("clock {:?} has a frequency of 0", c.name),
        });
    }
    // Normalise like babeltrace2: 0 <= offset < freq.
    let freq = i128::from(c.freq);
    let total_s = i128::from(c.offset_s) + i128::from(c.offset).div_euclid(freq);
    c.offset_s = i64::try_from(total_s).map_err(|_| MetadataError::Syntax {
        line,
        message: "clock offset is out of range".into(),
    })?;
    c.offset = i64::try_from(i128::from(c.offset).rem_euclid(freq)).unwrap_or(0);
    Ok(c)
}

fn build_stream(block: Block) -> Result<StreamClass, MetadataError> {
    let mut s = StreamClass {
        id: 0,
        event_header: None,
        packet_context: None,
        event_context: None,
    };
    for (key, attr, line) in block {
        match (key.as_str(), attr) {
            ("id", a) => s.id = attr_u64(&a, "stream id", line)?,
            ("event.header", Attr::Type(t)) => s.event_header = Some(t),
            ("packet.context", Attr::Type(t)) => s.packet_context = Some(t),
            ("event.context", Attr::Type(t)) => s.event_context = Some(t),
            _ => {}
        }
    }
    Ok(s)
}

fn build_event(block: Block, line: u32) -> Result<EventClass, MetadataError> {
    let mut e = EventClass {
        name: String::new(),
        id: 0,
        stream_id: 0,
        loglevel: None,
        model_emf_uri: None,
        context: None,
        fields: None,
    };
    let mut named = false;
    for (key, attr, l) in block {
        match (key.as_str(), attr) {
            ("name", a) => {
                e.name = attr_string(a).unwrap_or_default();
                named = true;
            }
            ("id", a) => e.id = attr_u64(&a, "event id", l)?,
            ("stream_id", a) => e.stream_id = attr_u64(&a, "event stream_id", l)?,
            ("loglevel", a) => e.loglevel = Some(attr_i64(&a, "event loglevel", l)?),
            ("model.emf.uri", a) => e.model_emf_uri = attr_string(a),
            ("context", Attr::Type(t)) => e.context = Some(t),
            ("fields", Attr::Type(t)) => e.fields = Some(t),
            _ => {}
        }
    }
    if !named {
        return Err(MetadataError::Syntax {
            line,
            message: "event block has no name".into(),
        });
    }
    Ok(e)
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    depth: u32,
    nodes: usize,
    aliases: HashMap<String, Ty>,
    structs: HashMap<String, Ty>,
    enums: HashMap<String, Ty>,
    variants: HashMap<String, Arc<VariantTy>>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    fn line(&self) -> u32 {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.line)
    }

    fn syntax(&self, message: &str) -> MetadataError {
        let found = match self.peek() {
            None => "end of metadata".to_string(),
            Some(Tok::Ident(s)) => format!("{s:?}"),
            Some(Tok::Int(v)) => v.to_string(),
            Some(Tok::Str(s)) => format!("string {s:?}"),
            Some(Tok::Punct(p)) => format!("'{p}'"),
        };
        MetadataError::Syntax {
            line: self.line(),
            message: format!("{message}, found {found}"),
        }
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), MetadataError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.syntax(&format!("expected '{p}'")))
        }
    }

    fn ident(&mut self) -> Result<String, MetadataError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.syntax("expected an identifier")),
        }
    }

    fn count_node(&mut self) -> Result<(), MetadataError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(MetadataError::TooLarge {
                what: "number of declarations",
                limit: MAX_NODES as u64,
            });
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), MetadataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(MetadataError::TooDeep {
                line: self.line(),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    /// A signed integer constant.
    fn int_const(&mut self) -> Result<i128, MetadataError> {
        let neg = self.eat("-");
        if !neg {
            self.eat("+");
        }
        match self.peek() {
            Some(Tok::Int(v)) => {
                let v = i128::from(*v);
                self.pos += 1;
                Ok(if neg { -v } else { v })
            }
            _ => Err(self.syntax("expected an integer")),
        }
    }

    /// `typealias T := name;` or `typedef T name;`
    fn alias_declaration(&mut self) -> Result<(), MetadataError> {
        let kw = self.ident()?;
        if kw == "typealias" {
            let ty = self.type_spec(false)?;
            self.expect(":=")?;
            let mut name = self.ident()?;
            while let Some(Tok::Ident(more)) = self.peek() {
                name.push(' ');
                name.push_str(more);
                self.pos += 1;
            }
            self.expect(";")?;
            self.aliases.insert(name, ty);
        } else {
            let ty = self.type_spec(true)?;
            loop {
                let (name, ty) = self.declarator(ty.clone())?;
                self.aliases.insert(name, ty);
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(";")?;
        }
        Ok(())
    }

    /// `key = value;` and `key := type;` entries up to the closing `}`.
    fn block(&mut self) -> Result<Block, MetadataError> {
        let mut out = Vec::new();
        loop {
            if self.eat("}") {
                return Ok(out);
            }
            if matches!(self.peek(), Some(Tok::Ident(s)) if s == "typealias" || s == "typedef") {
                self.alias_declaration()?;
                continue;
            }
            let line = self.line();
            let mut key = self.ident()?;
            while self.eat(".") {
                key.push('.');
                key.push_str(&self.ident()?);
            }
            let attr = if self.eat(":=") {
                Attr::Type(self.type_spec(false)?)
            } else {
                self.expect("=")?;
                match self.peek().cloned() {
                    Some(Tok::Str(s)) => {
                        self.pos += 1;
                        Attr::Str(s)
                    }
                    Some(Tok::Ident(_)) => {
                        let mut s = self.ident()?;
                        while self.eat(".") {
                            s.push('.');
                            s.push_str(&self.ident()?);
                        }
                        Attr::Ident(s)
                    }
                    _ => Attr::Int(self.int_const()?),
                }
            };
            self.expect(";")?;
            self.count_node()?;
            out.push((key, attr, line));
        }
    }

    /// A type specifier. With `declarator_follows`, a trailing identifier before `;`, `[`
    /// or `,` is left for the declarator (`unsigned long _ip;`).
    fn type_spec(&mut self, declarator_follows: bool) -> Result<Ty, MetadataError> {
        self.enter()?;
        self.count_node()?;
        let r = self.type_spec_inner(declarator_follows);
        self.depth -= 1;
        r
    }

    fn type_spec_inner(&mut self, declarator_follows: bool) -> Result<Ty, MetadataError> {
        let line = self.line();
        let Some(Tok::Ident(word)) = self.peek().cloned() else {
            return Err(self.syntax("expected a type"));
        };
        match word.as_str() {
            "integer" => {
                self.pos += 1;
                self.expect("{")?;
                let block = self.block()?;
                Ok(Ty::Int(Arc::new(build_int(&block, line)?)))
            }
            "floating_point" => {
                self.pos += 1;
                self.expect("{")?;
                let block = self.block()?;
                Ok(Ty::Float(Arc::new(build_float(&block, line)?)))
            }
            "string" => {
                self.pos += 1;
                if self.eat("{") {
                    self.block()?;
                }
                Ok(Ty::Str)
            }
            "struct" => {
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(_)) => Some(self.ident()?),
                    _ => None,
                };
                if self.eat("{") {
                    let fields = self.fields_until_close()?;
                    let mut align = 1;
                    if matches!(self.peek(), Some(Tok::Ident(s)) if s == "align") {
                        self.pos += 1;
                        self.expect("(")?;
                        align = alignment(self.int_const()?, line)?;
                        self.expect(")")?;
                    }
                    let ty = Ty::Struct(Arc::new(StructTy { fields, align }));
                    if let Some(name) = name {
                        self.structs.insert(name, ty.clone());
                    }
                    Ok(ty)
                } else {
                    let name = name.ok_or_else(|| self.syntax("expected a struct name or '{'"))?;
                    self.structs
                        .get(&name)
                        .cloned()
                        .ok_or(MetadataError::Syntax {
                            line,
                            message: format!("unknown struct {name:?}"),
                        })
                }
            }
            "enum" => {
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(_)) => Some(self.ident()?),
                    _ => None,
                };
                let container = if self.eat(":") {
                    Some(self.type_spec(false)?)
                } else {
                    None
                };
                if !self.eat("{") {
                    let name = name.ok_or_else(|| self.syntax("expected an enum name or '{'"))?;
                    return self.enums.get(&name).cloned().ok_or(MetadataError::Syntax {
                        line,
                        message: format!("unknown enum {name:?}"),
                    });
                }
                let container = match container.or_else(|| self.aliases.get("int").cloned()) {
                    Some(Ty::Int(i)) => (*i).clone(),
                    Some(_) => {
                        return Err(MetadataError::Syntax {
                            line,
                            message: "enum container type is not an integer".into(),
                        })
                    }
                    None => {
                        return Err(MetadataError::Syntax {
                            line,
                            message: "enum has no container type and no int alias exists".into(),
                        })
                    }
                };
                let entries = self.enum_entries()?;
                let ty = Ty::Enum(Arc::new(EnumTy { container, entries }));
                if let Some(name) = name {
                    self.enums.insert(name, ty.clone());
                }
                Ok(ty)
            }
            "variant" => {
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(_)) => Some(self.ident()?),
                    _ => None,
                };
                let tag = if self.eat("<") {
                    let mut path = self.ident()?;
                    while self.eat(".") {
                        path.push('.');
                        path.push_str(&self.ident()?);
                    }
                    self.expect(">")?;
                    Some(path)
                } else {
                    None
                };
                if self.eat("{") {
                    let options = self.fields_until_close()?;
                    let v = Arc::new(VariantTy { tag, options });
                    if let Some(name) = name {
                        self.variants.insert(name, v.clone());
                    }
                    Ok(Ty::Variant(v))
                } else {
                    let name = name.ok_or_else(|| self.syntax("expected a variant name or '{'"))?;
                    let v = self.variants.get(&name).ok_or(MetadataError::Syntax {
                        line,
                        message: format!("unknown variant {name:?}"),
                    })?;
                    Ok(Ty::Variant(Arc::new(VariantTy {
                        tag: tag.or_else(|| v.tag.clone()),
                        options: v.options.clone(),
                    })))
                }
            }
            _ => {
                let mut n = 0;
                while let Some(Tok::Ident(_)) = self.peek_at(n) {
                    n += 1;
                }
                let after = self.peek_at(n);
                let leave_one = declarator_follows
                    && n >= 2
                    && matches!(
                        after,
                        Some(Tok::Punct(";")) | Some(Tok::Punct("[")) | Some(Tok::Punct(","))
                    );
                let take = if leave_one { n - 1 } else { n };
                let mut name = String::new();
                for i in 0..take {
                    if let Some(Tok::Ident(s)) = self.peek_at(i) {
                        if i > 0 {
                            name.push(' ');
                        }
                        name.push_str(s);
                    }
                }
                self.pos += take;
                self.aliases
                    .get(&name)
                    .cloned()
                    .ok_or(MetadataError::Syntax {
                        line,
                        message: format!("unknown type {name:?}"),
                    })
            }
        }
    }

    /// `name`, `name[N]`, `name[len_field]`, `name[2][3]`.
    fn declarator(&mut self, ty: Ty) -> Result<(String, Ty), MetadataError> {
        let name = self.ident()?;
        let mut dims = Vec::new();
        while self.eat("[") {
            let dim = match self.peek().cloned() {
                Some(Tok::Int(n)) => {
                    self.pos += 1;
                    Ok(n)
                }
                Some(Tok::Ident(_)) => {
                    let mut path = self.ident()?;
                    while self.eat(".") {
                        path.push('.');
                        path.push_str(&self.ident()?);
                    }
                    Err(path)
                }
                _ => return Err(self.syntax("expected an array length")),
            };
            self.expect("]")?;
            self.count_node()?;
            dims.push(dim);
            if dims.len() > MAX_DEPTH as usize {
                return Err(MetadataError::TooDeep {
                    line: self.line(),
                    limit: MAX_DEPTH,
                });
            }
        }
        // `T x[2][3]` is an array of 2 arrays of 3: wrap from the innermost dimension.
        let mut ty = ty;
        for dim in dims.into_iter().rev() {
            ty = match dim {
                Ok(n) => Ty::Array(Arc::new(ty), n),
                Err(path) => Ty::Seq(Arc::new(ty), path),
            };
        }
        Ok((name, ty))
    }

    fn fields_until_close(&mut self) -> Result<Vec<Field>, MetadataError> {
        let mut fields: Vec<Field> = Vec::new();
        loop {
            if self.eat("}") {
                return Ok(fields);
            }
            if matches!(self.peek(), Some(Tok::Ident(s)) if s == "typealias" || s == "typedef") {
                self.alias_declaration()?;
                continue;
            }
            let ty = self.type_spec(true)?;
            if self.eat(";") {
                continue; // a nested named type declaration with no field
            }
            loop {
                let line = self.line();
                let (name, ty) = self.declarator(ty.clone())?;
                if fields.iter().any(|f| f.name == name) {
                    return Err(MetadataError::Syntax {
                        line,
                        message: format!("duplicate field {name:?}"),
                    });
                }
                fields.push(Field { name, ty });
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(";")?;
        }
    }

    fn enum_entries(&mut self) -> Result<Vec<(Arc<str>, i128, i128)>, MetadataError> {
        let mut entries = Vec::new();
        let mut next: i128 = 0;
        loop {
            if self.eat("}") {
                return Ok(entries);
            }
            let label: Arc<str> = match self.peek().cloned() {
                Some(Tok::Str(s)) | Some(Tok::Ident(s)) => {
                    self.pos += 1;
                    s.into()
                }
                _ => return Err(self.syntax("expected an enum label")),
            };
            let (lo, hi) = if self.eat("=") {
                let lo = self.int_const()?;
                let hi = if self.eat("...") {
                    self.int_const()?
                } else {
                    lo
                };
                (lo, hi)
            } else {
                (next, next)
            };
            if hi < lo {
                return Err(MetadataError::Syntax {
                    line: self.line(),
                    message: format!("enum range {lo} ... {hi} of {label:?} is reversed"),
                });
            }
            next = hi + 1;
            self.count_node()?;
            entries.push((label, lo, hi));
            if !self.eat(",") {
                self.expect("}")?;
                return Ok(entries);
            }
        }
    }
}

fn alignment(v: i128, line: u32) -> Result<u32, MetadataError> {
    match u32::try_from(v) {
        Ok(a) if a.is_power_of_two() && a <= 1 << 16 => Ok(a),
        _ => Err(MetadataError::Syntax {
            line,
            message: format!("invalid alignment {v} (must be a power of two up to 65536)"),
        }),
    }
}

fn byte_order(attr: &Attr, line: u32) -> Result<AstOrder, MetadataError> {
    match attr {
        Attr::Ident(s) => match s.as_str() {
            "native" => Ok(AstOrder::Native),
            "le" | "little" => Ok(AstOrder::Fixed(ByteOrder::Little)),
            "be" | "big" | "network" => Ok(AstOrder::Fixed(ByteOrder::Big)),
            _ => Err(MetadataError::Syntax {
                line,
                message: format!("invalid byte_order {s:?}"),
            }),
        },
        _ => Err(MetadataError::Syntax {
            line,
            message: "byte_order must be le, be, native or network".into(),
        }),
    }
}

fn build_int(block: &Block, line: u32) -> Result<IntTy, MetadataError> {
    let mut size = None;
    let mut align = None;
    let mut t = IntTy {
        size: 0,
        align: 0,
        signed: false,
        order: AstOrder::Native,
        base: 10,
        utf8: false,
        map: None,
    };
    for (key, attr, l) in block {
        let l = *l;
        match key.as_str() {
            "size" => size = Some(attr_u64(attr, "integer size", l)?),
            "align" => align = Some(alignment(i128::from(attr_u64(attr, "align", l)?), l)?),
            "signed" => {
                t.signed = attr_bool(attr).ok_or(MetadataError::Syntax {
                    line: l,
                    message: "signed must be true or false".into(),
                })?
            }
            "byte_order" => t.order = byte_order(attr, l)?,
            "base" => {
                t.base = match attr {
                    Attr::Int(2) => 2,
                    Attr::Int(8) => 8,
                    Attr::Int(10) => 10,
                    Attr::Int(16) => 16,
                    Attr::Ident(s) => match s.as_str() {
                        "decimal" | "dec" | "d" | "i" | "u" => 10,
                        "hexadecimal" | "hex" | "x" | "X" | "p" => 16,
                        "octal" | "oct" | "o" => 8,
                        "binary" | "b" => 2,
                        _ => 0,
                    },
                    _ => 0,
                };
                if t.base == 0 {
                    return Err(MetadataError::Syntax {
                        line: l,
                        message: "invalid integer base".into(),
                    });
                }
            }
            "encoding" => {
                t.utf8 =
                    matches!(attr, Attr::Ident(s) if s == "UTF8" || s == "ASCII" || s == "utf8")
            }
            "map" => {
                if let Attr::Ident(s) = attr {
                    let parts: Vec<&str> = s.split('.').collect();
                    if parts.len() == 3 && parts[0] == "clock" && parts[2] == "value" {
                        t.map = Some(parts[1].to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let size = size.ok_or(MetadataError::Syntax {
        line,
        message: "integer has no size".into(),
    })?;
    if !(1..=64).contains(&size) {
        return Err(MetadataError::Syntax {
            line,
            message: format!("integer size {size} is not in 1..64"),
        });
    }
    t.size = size as u32;
    t.align = align.unwrap_or(if size % 8 == 0 { 8 } else { 1 });
    Ok(t)
}

fn build_float(block: &Block, line: u32) -> Result<FloatTy, MetadataError> {
    let mut f = FloatTy {
        exp_dig: 0,
        mant_dig: 0,
        order: AstOrder::Native,
        align: 8,
    };
    for (key, attr, l) in block {
        match key.as_str() {
            "exp_dig" => f.exp_dig = attr_u64(attr, "exp_dig", *l)?.min(1 << 16) as u32,
            "mant_dig" => f.mant_dig = attr_u64(attr, "mant_dig", *l)?.min(1 << 16) as u32,
            "byte_order" => f.order = byte_order(attr, *l)?,
            "align" => f.align = alignment(i128::from(attr_u64(attr, "align", *l)?), *l)?,
            _ => {}
        }
    }
    match (f.exp_dig, f.mant_dig) {
        (8, 24) | (11, 53) => Ok(f),
        (e, m) => Err(MetadataError::Syntax {
            line,
            message: format!(
                "unsupported floating_point exp_dig = {e}, mant_dig = {m} (only 8/24 and 11/53)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_labels_ranges_and_implicit_values() {
        let md = parse_text(
            "/* CTF 1.8 */ typealias integer { size = 8; } := u8;
             trace { major = 1; minor = 8; byte_order = be; };
             enum e : u8 { A, \"B c\" = 5, D, E = -3 ... -1, F };",
        )
        .unwrap();
        assert_eq!(md.byte_order, ByteOrder::Big);
        let p = parse_text(
            "typealias integer { size = 8; } := u8; trace { major = 1; minor = 8; byte_order = le; };
             enum e : u8 { A, \"B c\" = 5, D, E = -3 ... -1, F };
             event { name = x; fields := struct { enum e f; }; };",
        )
        .unwrap();
        let Some(Ty::Struct(s)) = &p.events[0].fields else {
            panic!("fields")
        };
        let Ty::Enum(e) = &s.fields[0].ty else {
            panic!("enum")
        };
        let got: Vec<(&str, i128, i128)> =
            e.entries.iter().map(|(l, a, b)| (&**l, *a, *b)).collect();
        assert_eq!(
            got,
            vec![
                ("A", 0, 0),
                ("B c", 5, 5),
                ("D", 6, 6),
                ("E", -3, -1),
                ("F", 0, 0)
            ]
        );
    }

    #[test]
    fn multi_word_aliases_and_multi_dimensional_arrays() {
        let md = parse_text(
            "typealias integer { size = 64; } := unsigned long;
             trace { major = 1; minor = 8; byte_order = le; };
             event { name = x; fields := struct { unsigned long _ip; unsigned long m[2][3]; }; };",
        )
        .unwrap();
        let Some(Ty::Struct(s)) = &md.events[0].fields else {
            panic!()
        };
        assert_eq!(s.fields[0].name, "_ip");
        let Ty::Array(inner, 2) = &s.fields[1].ty else {
            panic!("outer array")
        };
        assert!(matches!(&**inner, Ty::Array(_, 3)));
    }

    #[test]
    fn errors_carry_a_line_and_say_what_is_wrong() {
        let e = parse_text(
            "trace {\n major = 1;\n byte_order = le;\n packet.header := struct { foo x; };\n};",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "metadata line 4: unknown type \"foo\"");
        let e = parse_text("clock { name = c; freq = 0; };").unwrap_err();
        assert!(e.to_string().contains("frequency of 0"), "{e}");
        assert_eq!(
            parse_text("env { a = 1; };").unwrap_err(),
            MetadataError::Invalid("no trace block".into())
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut text =
            String::from("trace { major = 1; minor = 8; byte_order = le; packet.header := ");
        for _ in 0..100_000 {
            text.push_str("struct { ");
        }
        let e = parse_text(&text).unwrap_err();
        assert!(matches!(e, MetadataError::TooDeep { .. }), "{e}");
    }

    #[test]
    fn clock_values_convert_through_doubles_like_babeltrace2() {
        let c = Clock {
            freq: 2_596_139_807,
            offset_s: 1_795_692_975,
            offset: 1_907_931_943,
            ..Clock::default_clock()
        };
        let base = 1_795_692_975_000_000_000i128 + 734_911_092;
        // The exact quotients are ...520 and ...922: babeltrace2 prints these.
        assert_eq!(
            c.ns_from_origin(3_000_000_005_358),
            base + 1_155_561_806_521
        );
        assert_eq!(
            c.ns_from_origin(1_152_921_504_606_859_321),
            base + 444_090_684_753_657_856
        );
        let ghz = Clock::default_clock();
        assert_eq!(ghz.ns_from_origin(u64::MAX), i128::from(u64::MAX));
        let slow = Clock {
            freq: 1,
            ..Clock::default_clock()
        };
        assert_eq!(slow.ns_from_origin(u64::MAX), i128::from(u64::MAX));
    }

    #[test]
    fn clock_offsets_are_normalised_and_converted() {
        let md = parse_text(
            "trace { major = 1; minor = 8; byte_order = le; };
             clock { name = tsc; freq = 2596140066; offset = 5192280133; };",
        )
        .unwrap();
        let c = &md.clocks[0];
        assert_eq!((c.offset_s, c.offset), (2, 1));
        // 2596140066 cycles = 1 s exactly.
        assert_eq!(c.ns_from_origin(2_596_140_066), 3_000_000_000);
    }
}
