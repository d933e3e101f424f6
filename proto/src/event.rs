//! Event class descriptions: what a tracepoint records and how its fields are typed.
//!
//! These owned, serializable types are the common language between `libust` (which
//! declares tracepoints statically), the metadata generator in `ctf`, and the session
//! daemon (which receives them from applications and must validate them: see
//! [`EventDesc::validate`]).

use serde::{Deserialize, Serialize};

/// The 15 LTTng log levels, most severe first (the numeric value is LTTng's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum LogLevel {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    DebugSystem = 7,
    DebugProgram = 8,
    DebugProcess = 9,
    DebugModule = 10,
    DebugUnit = 11,
    DebugFunction = 12,
    DebugLine = 13,
    Debug = 14,
}

impl LogLevel {
    /// Every level, in numeric order.
    pub const ALL: [LogLevel; 15] = [
        LogLevel::Emerg,
        LogLevel::Alert,
        LogLevel::Crit,
        LogLevel::Err,
        LogLevel::Warning,
        LogLevel::Notice,
        LogLevel::Info,
        LogLevel::DebugSystem,
        LogLevel::DebugProgram,
        LogLevel::DebugProcess,
        LogLevel::DebugModule,
        LogLevel::DebugUnit,
        LogLevel::DebugFunction,
        LogLevel::DebugLine,
        LogLevel::Debug,
    ];

    /// LTTng's name for the level (`TRACE_` prefix dropped), as `--loglevel` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Emerg => "EMERG",
            LogLevel::Alert => "ALERT",
            LogLevel::Crit => "CRIT",
            LogLevel::Err => "ERR",
            LogLevel::Warning => "WARNING",
            LogLevel::Notice => "NOTICE",
            LogLevel::Info => "INFO",
            LogLevel::DebugSystem => "DEBUG_SYSTEM",
            LogLevel::DebugProgram => "DEBUG_PROGRAM",
            LogLevel::DebugProcess => "DEBUG_PROCESS",
            LogLevel::DebugModule => "DEBUG_MODULE",
            LogLevel::DebugUnit => "DEBUG_UNIT",
            LogLevel::DebugFunction => "DEBUG_FUNCTION",
            LogLevel::DebugLine => "DEBUG_LINE",
            LogLevel::Debug => "DEBUG",
        }
    }

    /// Parses a level name (case-insensitive, with or without `TRACE_`) or number.
    pub fn parse(s: &str) -> Option<LogLevel> {
        let up = s.trim().to_ascii_uppercase();
        let up = up.strip_prefix("TRACE_").unwrap_or(&up);
        if let Ok(n) = up.parse::<u8>() {
            return LogLevel::ALL.get(usize::from(n)).copied();
        }
        LogLevel::ALL.into_iter().find(|l| l.name() == up)
    }
}

/// How an integer is displayed by viewers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Base {
    Dec,
    Hex,
    Oct,
    Bin,
}

impl Base {
    /// The TSDL `base` value.
    pub fn radix(self) -> u32 {
        match self {
            Base::Dec => 10,
            Base::Hex => 16,
            Base::Oct => 8,
            Base::Bin => 2,
        }
    }
}

/// A byte-aligned integer type of 8, 16, 32 or 64 bits, stored little-endian unless
/// `network` says big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IntType {
    pub bits: u8,
    pub signed: bool,
    pub base: Base,
    /// Stored big-endian (LTTng's `_network` fields: the program passes the value in
    /// network order and its bytes are recorded as they are).
    pub network: bool,
    /// UTF-8 text (8-bit elements of LTTng's `_text` arrays and sequences, which
    /// viewers show as a string).
    pub text: bool,
}

impl IntType {
    pub const fn new(bits: u8, signed: bool, base: Base) -> IntType {
        IntType {
            bits,
            signed,
            base,
            network: false,
            text: false,
        }
    }

    /// The same type stored in network byte order.
    pub const fn network(self) -> IntType {
        IntType {
            network: true,
            ..self
        }
    }

    /// The same type as UTF-8 text elements.
    pub const fn text(self) -> IntType {
        IntType { text: true, ..self }
    }

    /// Size in bytes.
    pub fn bytes(self) -> usize {
        usize::from(self.bits / 8)
    }
}

/// One label of an enumeration: `label = start ... end` (inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnumLabel {
    pub label: String,
    pub start: i64,
    pub end: i64,
}

/// The type of one payload field and its binary encoding in an event record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// An integer.
    Integer(IntType),
    /// A boolean, one byte (0 or 1), shown as an enumeration `false`/`true`.
    Bool,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
    /// A NUL-terminated UTF-8 string.
    String,
    /// `len` integers, no length prefix.
    Array { elem: IntType, len: u32 },
    /// An element count (an unsigned integer of type `length`, the field
    /// `_<name>_length` for viewers, as LTTng names it), then that many integers.
    Sequence { elem: IntType, length: IntType },
    /// An integer shown with the label of the range it falls in.
    Enum {
        container: IntType,
        labels: Vec<EnumLabel>,
    },
}

/// A named payload field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldDesc {
    pub name: String,
    pub ty: FieldType,
}

/// An event class: `provider:name`, its log level and its payload fields in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventDesc {
    pub provider: String,
    pub name: String,
    pub loglevel: LogLevel,
    /// LTTng's `model.emf.uri` attribute of the event class, when declared.
    pub model_emf_uri: Option<String>,
    pub fields: Vec<FieldDesc>,
}

/// Limits that keep a description safe to turn into TSDL.
pub mod limits {
    /// Longest provider or event name, in bytes (LTTng: 256 for the full name).
    pub const NAME_LEN: usize = 127;
    /// Longest field name, in bytes.
    pub const FIELD_NAME_LEN: usize = 127;
    /// Longest enumeration label, in bytes (any text but control characters).
    pub const LABEL_LEN: usize = 255;
    /// Longest `model.emf.uri`, in bytes.
    pub const URI_LEN: usize = 1024;
    /// Most fields per event.
    pub const FIELDS: usize = 128;
    /// Most labels per enumeration.
    pub const ENUM_LABELS: usize = 1024;
    /// Longest fixed array.
    pub const ARRAY_LEN: u32 = 65536;
}

/// Why an event description was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DescError {
    #[error("{what} '{name}' is not a valid identifier: use 1 to {max} characters among A-Z a-z 0-9 _ (not starting with a digit)")]
    BadIdentifier {
        what: &'static str,
        name: String,
        max: usize,
    },
    #[error("event '{0}' has too many fields (at most {max})", max = limits::FIELDS)]
    TooManyFields(String),
    #[error("field '{0}' appears twice in event '{1}'")]
    DuplicateField(String, String),
    #[error("field '{0}': integers must be 8, 16, 32 or 64 bits wide")]
    BadIntWidth(String),
    #[error("field '{0}': an array holds 1 to {max} elements", max = limits::ARRAY_LEN)]
    BadArrayLen(String),
    #[error("field '{0}': an enumeration needs 1 to {max} labels, each with start <= end", max = limits::ENUM_LABELS)]
    BadEnum(String),
    #[error("field '{0}': enumeration labels are 1 to {max} bytes of text without control characters", max = limits::LABEL_LEN)]
    BadLabel(String),
    #[error("field '{0}': a sequence's length must be an unsigned integer in decimal, native byte order")]
    BadSequenceLength(String),
    #[error("field '{0}': only 8-bit elements of arrays and sequences can be text")]
    BadText(String),
    #[error("event '{0}': its model.emf.uri must be 1 to {max} bytes of text without control characters", max = limits::URI_LEN)]
    BadUri(String),
}

/// True if `s` is 1 to `max` bytes with no control character: what a quoted TSDL
/// string may hold (quotes and backslashes are escaped when written).
pub fn is_plain_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

/// True if `s` is a safe TSDL identifier fragment: ASCII letters, digits and `_`,
/// not starting with a digit, at most `max` bytes.
pub fn is_identifier(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl EventDesc {
    /// The full event name, `provider:name`.
    pub fn full_name(&self) -> String {
        if self.provider.is_empty() {
            return self.name.clone();
        }
        format!("{}:{}", self.provider, self.name)
    }

    /// Checks every name and type against [`limits`]; nothing unchecked reaches TSDL.
    pub fn validate(&self) -> Result<(), DescError> {
        let ident = |what, name: &str, max| {
            if is_identifier(name, max) {
                Ok(())
            } else {
                Err(DescError::BadIdentifier {
                    what,
                    name: name.chars().take(200).collect(),
                    max,
                })
            }
        };
        // Kernel events have no provider (`sched_switch`); applications always have
        // one (the session daemon checks).
        if !self.provider.is_empty() {
            ident("provider", &self.provider, limits::NAME_LEN)?;
        }
        ident("event name", &self.name, limits::NAME_LEN)?;
        if let Some(uri) = &self.model_emf_uri {
            if !is_plain_text(uri, limits::URI_LEN) {
                return Err(DescError::BadUri(self.full_name()));
            }
        }
        if self.fields.len() > limits::FIELDS {
            return Err(DescError::TooManyFields(self.full_name()));
        }
        for (i, f) in self.fields.iter().enumerate() {
            ident("field", &f.name, limits::FIELD_NAME_LEN)?;
            if self.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(DescError::DuplicateField(f.name.clone(), self.full_name()));
            }
            let int_ok = |t: &IntType| matches!(t.bits, 8 | 16 | 32 | 64) && !t.text;
            let elem_ok = |t: &IntType| {
                if !matches!(t.bits, 8 | 16 | 32 | 64) {
                    Err(DescError::BadIntWidth(f.name.clone()))
                } else if t.text && t.bits != 8 {
                    Err(DescError::BadText(f.name.clone()))
                } else {
                    Ok(())
                }
            };
            match &f.ty {
                FieldType::Integer(t) if !int_ok(t) => {
                    return Err(DescError::BadIntWidth(f.name.clone()))
                }
                FieldType::Sequence { elem, length } => {
                    elem_ok(elem)?;
                    if !int_ok(length)
                        || length.signed
                        || length.network
                        || length.base != Base::Dec
                    {
                        return Err(DescError::BadSequenceLength(f.name.clone()));
                    }
                }
                FieldType::Array { elem, len } => {
                    elem_ok(elem)?;
                    if *len == 0 || *len > limits::ARRAY_LEN {
                        return Err(DescError::BadArrayLen(f.name.clone()));
                    }
                }
                FieldType::Enum { container, labels } => {
                    if !int_ok(container) {
                        return Err(DescError::BadIntWidth(f.name.clone()));
                    }
                    if labels.is_empty()
                        || labels.len() > limits::ENUM_LABELS
                        || labels.iter().any(|l| l.start > l.end)
                    {
                        return Err(DescError::BadEnum(f.name.clone()));
                    }
                    if labels
                        .iter()
                        .any(|l| !is_plain_text(&l.label, limits::LABEL_LEN))
                    {
                        return Err(DescError::BadLabel(f.name.clone()));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Matches `name` against an LTTng-style glob: `*` matches any run of characters,
/// `\*` a literal star.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    // Tokens: None is a star, Some(c) a literal character.
    let mut p: Vec<Option<char>> = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                p.push(Some('*'));
            }
            '*' => p.push(None),
            c => p.push(Some(c)),
        }
    }
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher that backtracks to the last star: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(None) => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(Some(c)) if *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(Option::is_none)
}

/// Per-event context fields a channel records after the event header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contexts {
    pub vpid: bool,
    pub vtid: bool,
    pub procname: bool,
}

impl Contexts {
    /// Bytes the enabled contexts add to each event record.
    pub fn record_size(&self) -> usize {
        4 * usize::from(self.vpid)
            + 4 * usize::from(self.vtid)
            + PROCNAME_LEN * usize::from(self.procname)
    }

    /// True if no context is enabled.
    pub fn is_empty(&self) -> bool {
        !(self.vpid || self.vtid || self.procname)
    }
}

/// Bytes of the `procname` context: a NUL-padded thread name (LTTng's 17).
pub const PROCNAME_LEN: usize = 17;

/// A context field of kernel events (`lttng add-context -k -t NAME`), with
/// LTTng-modules' name and type (`lttng-context-*.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KernelContext {
    Pid,
    Tid,
    Ppid,
    Procname,
    Prio,
    Vpid,
    Vtid,
    Vppid,
    Hostname,
    Preemptible,
    NeedReschedule,
}

/// Bytes of the kernel `hostname` context (LTTng's `__NEW_UTS_LEN + 1`).
pub const KERNEL_HOSTNAME_LEN: u32 = 65;

impl KernelContext {
    pub const ALL: [KernelContext; 11] = [
        KernelContext::Pid,
        KernelContext::Tid,
        KernelContext::Ppid,
        KernelContext::Procname,
        KernelContext::Prio,
        KernelContext::Vpid,
        KernelContext::Vtid,
        KernelContext::Vppid,
        KernelContext::Hostname,
        KernelContext::Preemptible,
        KernelContext::NeedReschedule,
    ];

    /// LTTng's name, as `lttng add-context -k -t` takes it.
    pub fn name(self) -> &'static str {
        match self {
            KernelContext::Pid => "pid",
            KernelContext::Tid => "tid",
            KernelContext::Ppid => "ppid",
            KernelContext::Procname => "procname",
            KernelContext::Prio => "prio",
            KernelContext::Vpid => "vpid",
            KernelContext::Vtid => "vtid",
            KernelContext::Vppid => "vppid",
            KernelContext::Hostname => "hostname",
            KernelContext::Preemptible => "preemptible",
            KernelContext::NeedReschedule => "need_reschedule",
        }
    }

    pub fn parse(s: &str) -> Option<KernelContext> {
        let s = if s == "need-reschedule" {
            "need_reschedule"
        } else {
            s
        };
        KernelContext::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The field's CTF type: `pid_t` and `int` ids, `char[16]` and `char[65]` text,
    /// `uint8_t` flags.
    pub fn field_type(self) -> FieldType {
        let text = |len| FieldType::Array {
            elem: IntType {
                text: true,
                ..IntType::new(8, true, Base::Dec)
            },
            len,
        };
        match self {
            KernelContext::Procname => text(16),
            KernelContext::Hostname => text(KERNEL_HOSTNAME_LEN),
            KernelContext::Preemptible | KernelContext::NeedReschedule => {
                FieldType::Integer(IntType::new(8, false, Base::Dec))
            }
            _ => FieldType::Integer(IntType::new(32, true, Base::Dec)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, fields: Vec<FieldDesc>) -> EventDesc {
        EventDesc {
            provider: "app".into(),
            name: name.into(),
            loglevel: LogLevel::Info,
            model_emf_uri: None,
            fields,
        }
    }

    #[test]
    fn loglevels_parse_by_name_and_number() {
        assert_eq!(LogLevel::parse("TRACE_INFO"), Some(LogLevel::Info));
        assert_eq!(LogLevel::parse("debug_line"), Some(LogLevel::DebugLine));
        assert_eq!(LogLevel::parse("14"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("15"), None);
        assert_eq!(LogLevel::parse("loud"), None);
    }

    #[test]
    fn tsdl_injection_in_names_is_refused() {
        let f = |n: &str| FieldDesc {
            name: n.into(),
            ty: FieldType::String,
        };
        assert!(ev("ok", vec![f("x")]).validate().is_ok());
        for bad in ["a;b", "x}; event {", "", "9x", "a b", "../x", "a\0b"] {
            assert!(ev(bad, vec![]).validate().is_err(), "{bad:?}");
            assert!(ev("ok", vec![f(bad)]).validate().is_err(), "{bad:?}");
        }
        assert!(ev("ok", vec![f("x"), f("x")]).validate().is_err());
    }

    #[test]
    fn globs_match_like_lttng() {
        assert!(glob_match("*", "a:b"));
        assert!(glob_match("myapp:*", "myapp:request"));
        assert!(!glob_match("myapp:*", "other:request"));
        assert!(glob_match("my*:re*st", "myapp:request"));
        assert!(glob_match("a:b", "a:b"));
        assert!(!glob_match("a:b", "a:bc"));
        assert!(glob_match(r"a:\*", "a:*"));
        assert!(!glob_match(r"a:\*", "a:x"));
    }
}
