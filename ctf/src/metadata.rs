//! TSDL metadata generation for the traces this project writes.
//!
//! The text follows what LTTng-UST 2.13 writes (see `reference/ctf-ftrace.md` §1.8–1.9):
//! byte-aligned little-endian integers, the LTTng packet header and context, LTTng's
//! compact or large event header (declared with LTTng's exact text, which Trace Compass
//! recognizes), payload and context field names prefixed with `_`, and the `env` keys
//! that make babeltrace2 and Trace Compass see an LTTng trace.
//!
//! Inputs are checked: event descriptions must pass [`EventDesc::validate`] and every
//! string value is escaped, so nothing supplied by an application can change the
//! structure of the TSDL.

use std::fmt::Write as _;

use proto::event::{EventDesc, FieldDesc, FieldType, IntType};

/// The clock block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockDesc {
    /// TSDL name; `monotonic` makes babeltrace2 treat an LTTng trace's clock as absolute.
    pub name: String,
    /// Clock identity shared by every trace of one machine boot (the kernel's boot id).
    pub uuid: String,
    pub description: String,
    /// Ticks per second.
    pub freq: u64,
    /// Time of tick 0 since the Unix epoch: `offset_s` seconds plus `offset` ticks.
    pub offset_s: i64,
    pub offset: i64,
}

/// A value in the `env` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    Str(String),
    Int(i64),
}

pub use proto::event::{Contexts, PROCNAME_LEN};

/// One stream class (a channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamDesc {
    pub id: u32,
    pub header: EventHeader,
    pub contexts: Contexts,
    /// More context fields, after those of `contexts` (the kernel's `lttng
    /// add-context -k`).
    pub more_contexts: Vec<FieldDesc>,
}

/// The event header of a stream class: the layouts of
/// [`proto::ring::layout::event_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventHeader {
    /// `event_header_compact`: 5-bit id, 27-bit timestamp (the ring buffers).
    Compact,
    /// `event_header_large`: 16-bit id, 32-bit timestamp (kernel streams).
    Large,
}

/// One event class and where it is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventClass {
    pub id: u32,
    pub stream_id: u32,
    pub desc: EventDesc,
}

impl EventHeader {
    fn name(self) -> &'static str {
        match self {
            EventHeader::Compact => "compact",
            EventHeader::Large => "large",
        }
    }
}

/// Everything the metadata of one trace says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceDesc {
    pub uuid: [u8; 16],
    pub clock: ClockDesc,
    pub env: Vec<(String, EnvValue)>,
    pub streams: Vec<StreamDesc>,
    pub events: Vec<EventClass>,
}

/// Why metadata could not be generated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    #[error("event {0}: {1}")]
    Event(String, proto::event::DescError),
    #[error("env key '{0}' is not an identifier")]
    EnvKey(String),
    #[error("clock name '{0}' is not an identifier")]
    ClockName(String),
    #[error("event id {0} is used twice in stream {1}")]
    DuplicateId(u32, u32),
    #[error("event {0} names stream {1}, which is not declared")]
    UnknownStream(String, u32),
}

/// Formats a uuid as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn uuid_string(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses a textual uuid (as in `/proc/sys/kernel/random/boot_id`).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.trim().bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let h = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(h, 16).ok()?;
    }
    Some(out)
}

/// Quotes `s` as a TSDL string literal, escaping everything that could end it.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => q.push('?'),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// An integer type as LTTng writes it: ` byte_order = be;` only for network-order
/// fields (the trace is little-endian), `encoding = UTF8` only for text elements.
fn int_decl(t: IntType) -> String {
    format!(
        "integer {{ size = {}; align = 8; signed = {}; encoding = {}; base = {};{} }}",
        t.bits,
        u8::from(t.signed),
        if t.text { "UTF8" } else { "none" },
        t.base.radix(),
        if t.network { " byte_order = be;" } else { "" }
    )
}

fn field_decl(out: &mut String, indent: &str, name: &str, ty: &FieldType) {
    match ty {
        FieldType::Integer(t) => {
            let _ = writeln!(out, "{indent}{} _{name};", int_decl(*t));
        }
        FieldType::Bool => {
            let _ = writeln!(
                out,
                "{indent}enum : integer {{ size = 8; align = 8; signed = 0; encoding = none; base = 10; }} {{ \"false\" = 0, \"true\" = 1 }} _{name};"
            );
        }
        FieldType::F32 => {
            let _ = writeln!(
                out,
                "{indent}floating_point {{ exp_dig = 8; mant_dig = 24; byte_order = le; align = 8; }} _{name};"
            );
        }
        FieldType::F64 => {
            let _ = writeln!(
                out,
                "{indent}floating_point {{ exp_dig = 11; mant_dig = 53; byte_order = le; align = 8; }} _{name};"
            );
        }
        FieldType::String => {
            let _ = writeln!(out, "{indent}string _{name};");
        }
        FieldType::Array { elem, len } => {
            let _ = writeln!(out, "{indent}{} _{name}[{len}];", int_decl(*elem));
        }
        FieldType::Sequence { elem, length } => {
            let _ = writeln!(out, "{indent}{} __{name}_length;", int_decl(*length));
            let _ = writeln!(out, "{indent}{} _{name}[__{name}_length];", int_decl(*elem));
        }
        FieldType::Enum { container, labels } => {
            let mut body = String::new();
            for (i, l) in labels.iter().enumerate() {
                if i > 0 {
                    body.push_str(", ");
                }
                if l.start == l.end {
                    let _ = write!(body, "{} = {}", quote(&l.label), l.start);
                } else {
                    let _ = write!(body, "{} = {} ... {}", quote(&l.label), l.start, l.end);
                }
            }
            let _ = writeln!(
                out,
                "{indent}enum : {} {{ {body} }} _{name};",
                int_decl(*container)
            );
        }
    }
}

/// Generates the TSDL text of a trace.
pub fn generate(t: &TraceDesc) -> Result<String, MetadataError> {
    let is_ident = |s: &str| proto::event::is_identifier(s, 64);
    if !is_ident(&t.clock.name) {
        return Err(MetadataError::ClockName(t.clock.name.clone()));
    }
    let mut ids = std::collections::HashSet::new();
    for e in &t.events {
        let full = format!("{}:{}", e.desc.provider, e.desc.name);
        e.desc
            .validate()
            .map_err(|err| MetadataError::Event(full.clone(), err))?;
        if !t.streams.iter().any(|s| s.id == e.stream_id) {
            return Err(MetadataError::UnknownStream(full, e.stream_id));
        }
        if !ids.insert((e.stream_id, e.id)) {
            return Err(MetadataError::DuplicateId(e.id, e.stream_id));
        }
    }
    let clock = &t.clock.name;
    let mut m = String::with_capacity(4096 + 512 * t.events.len());
    m.push_str("/* CTF 1.8 */\n\n");
    for bits in [8, 16, 32, 64] {
        let _ = writeln!(
            m,
            "typealias integer {{ size = {bits}; align = 8; signed = false; }} := uint{bits}_t;"
        );
    }
    m.push_str("typealias integer { size = 5; align = 1; signed = false; } := uint5_t;\n");
    m.push_str("typealias integer { size = 27; align = 1; signed = false; } := uint27_t;\n\n");
    let _ = write!(
        m,
        "trace {{\n\tmajor = 1;\n\tminor = 8;\n\tuuid = \"{}\";\n\tbyte_order = le;\n\
         \tpacket.header := struct {{\n\t\tuint32_t magic;\n\t\tuint8_t  uuid[16];\n\
         \t\tuint32_t stream_id;\n\t\tuint64_t stream_instance_id;\n\t}};\n}};\n\n",
        uuid_string(&t.uuid)
    );
    m.push_str("env {\n");
    for (k, v) in &t.env {
        if !is_ident(k) {
            return Err(MetadataError::EnvKey(k.clone()));
        }
        match v {
            EnvValue::Str(s) => {
                let _ = writeln!(m, "\t{k} = {};", quote(s));
            }
            EnvValue::Int(i) => {
                let _ = writeln!(m, "\t{k} = {i};");
            }
        }
    }
    m.push_str("};\n\n");
    let _ = write!(
        m,
        "clock {{\n\tname = \"{clock}\";\n\tuuid = {};\n\tdescription = {};\n\tfreq = {};\n\
         \toffset_s = {};\n\toffset = {};\n}};\n\n",
        quote(&t.clock.uuid),
        quote(&t.clock.description),
        t.clock.freq,
        t.clock.offset_s,
        t.clock.offset
    );
    for bits in [27, 32, 64] {
        let align = if bits == 27 { 1 } else { 8 };
        let _ = writeln!(
            m,
            "typealias integer {{ size = {bits}; align = {align}; signed = false; map = clock.{clock}.value; }} := uint{bits}_clock_{clock}_t;"
        );
    }
    let _ = write!(
        m,
        "\nstruct packet_context {{\n\tuint64_clock_{clock}_t timestamp_begin;\n\
         \tuint64_clock_{clock}_t timestamp_end;\n\tuint64_t content_size;\n\
         \tuint64_t packet_size;\n\tuint64_t packet_seq_num;\n\tuint64_t events_discarded;\n\
         \tuint32_t cpu_id;\n}};\n\n"
    );
    use proto::ring::layout::event_header::{compact, large};
    for (header, tag, extended, ts_bits) in [
        (
            EventHeader::Compact,
            "uint5_t",
            compact::EXTENDED_ID,
            compact::COMPACT_TS_BITS,
        ),
        (
            EventHeader::Large,
            "uint16_t",
            u32::from(large::EXTENDED_ID),
            large::COMPACT_TS_BITS,
        ),
    ] {
        if !t.streams.iter().any(|s| s.header == header) {
            continue;
        }
        let _ = write!(
            m,
            "struct event_header_{} {{\n\
             \tenum : {tag} {{ compact = 0 ... {}, extended = {extended} }} id;\n\
             \tvariant <id> {{\n\
             \t\tstruct {{\n\t\t\tuint{ts_bits}_clock_{clock}_t timestamp;\n\t\t}} compact;\n\
             \t\tstruct {{\n\t\t\tuint32_t id;\n\t\t\tuint64_clock_{clock}_t timestamp;\n\t\t}} extended;\n\
             \t}} v;\n}} align(8);\n\n",
            header.name(),
            extended - 1
        );
    }
    for s in &t.streams {
        let _ = write!(
            m,
            "stream {{\n\tid = {};\n\tevent.header := struct event_header_{};\n\
             \tpacket.context := struct packet_context;\n",
            s.id,
            s.header.name()
        );
        if !s.contexts.is_empty() || !s.more_contexts.is_empty() {
            m.push_str("\tevent.context := struct {\n");
            if s.contexts.vpid {
                m.push_str("\t\tinteger { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _vpid;\n");
            }
            if s.contexts.vtid {
                m.push_str("\t\tinteger { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _vtid;\n");
            }
            if s.contexts.procname {
                let _ = writeln!(
                    m,
                    "\t\tinteger {{ size = 8; align = 8; signed = 1; encoding = UTF8; base = 10; }} _procname[{PROCNAME_LEN}];"
                );
            }
            for f in &s.more_contexts {
                field_decl(&mut m, "\t\t", &f.name, &f.ty);
            }
            m.push_str("\t};\n");
        }
        m.push_str("};\n\n");
    }
    for e in &t.events {
        let _ = write!(
            m,
            "event {{\n\tname = {};\n\tid = {};\n\tstream_id = {};\n\tloglevel = {};\n",
            quote(&e.desc.full_name()),
            e.id,
            e.stream_id,
            e.desc.loglevel as u8
        );
        if let Some(uri) = &e.desc.model_emf_uri {
            let _ = writeln!(m, "\tmodel.emf.uri = {};", quote(uri));
        }
        m.push_str("\tfields := struct {\n");
        for f in &e.desc.fields {
            field_decl(&mut m, "\t\t", &f.name, &f.ty);
        }
        m.push_str("\t};\n};\n\n");
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::event::{Base, FieldDesc, LogLevel};

    #[test]
    fn strings_cannot_escape_their_quotes() {
        assert_eq!(quote(r#"a"; } event { x"#), r#""a\"; } event { x""#);
        assert_eq!(quote("back\\slash"), r#""back\\slash""#);
        assert_eq!(quote("nul\0"), "\"nul?\"");
    }

    #[test]
    fn uuids_round_trip() {
        let u = parse_uuid("b25ffc96-a2d7-41fe-8d5c-3b4deee04516").unwrap();
        assert_eq!(uuid_string(&u), "b25ffc96-a2d7-41fe-8d5c-3b4deee04516");
        assert!(parse_uuid("nope").is_none());
    }

    #[test]
    fn unsafe_names_are_refused() {
        let mut t = TraceDesc {
            uuid: [1; 16],
            clock: ClockDesc {
                name: "monotonic".into(),
                uuid: "x".into(),
                description: "d".into(),
                freq: 1_000_000_000,
                offset_s: 0,
                offset: 0,
            },
            env: vec![("domain".into(), EnvValue::Str("ust".into()))],
            streams: vec![StreamDesc {
                id: 0,
                header: EventHeader::Compact,
                contexts: Contexts::default(),
                more_contexts: Vec::new(),
            }],
            events: vec![EventClass {
                id: 0,
                stream_id: 0,
                desc: EventDesc {
                    provider: "p".into(),
                    name: "e".into(),
                    loglevel: LogLevel::Info,
                    model_emf_uri: None,
                    fields: vec![FieldDesc {
                        name: "v".into(),
                        ty: FieldType::Integer(IntType::new(32, true, Base::Hex)),
                    }],
                },
            }],
        };
        let text = generate(&t).unwrap();
        assert!(text.starts_with("/* CTF 1.8 */"));
        assert!(text.contains("signed = 1; encoding = none; base = 16; } _v;"));
        t.events[0].desc.fields[0].name = "v; }; event {".into();
        assert!(matches!(generate(&t), Err(MetadataError::Event(..))));
        t.events[0].desc.fields[0].name = "v".into();
        t.env.push(("bad key".into(), EnvValue::Int(1)));
        assert_eq!(generate(&t), Err(MetadataError::EnvKey("bad key".into())));
    }
}
