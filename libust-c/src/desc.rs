//! C event descriptions (`struct lttng_ust_rs_event` and its fields) checked and
//! converted to [`EventDesc`]s. What a provider declares reaches the metadata only
//! through [`EventDesc::validate`] (names are identifiers, labels are quoted).

use proto::event::{Base, EnumLabel, EventDesc, FieldDesc, FieldType, IntType, LogLevel};

/// Field kinds of `enum lttng_ust_rs_field_kind`.
pub mod kind {
    pub const INTEGER: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const STRING: u8 = 3;
    pub const ARRAY: u8 = 4;
    pub const SEQUENCE: u8 = 5;
    pub const ENUM: u8 = 6;
}

/// One field as the C description gives it, its strings already read.
#[derive(Clone, Debug)]
pub struct RawField {
    pub name: String,
    pub kind: u8,
    pub size: u8,
    pub signed: bool,
    pub base: u8,
    pub network: bool,
    pub text: bool,
    pub length_size: u8,
    pub length_signed: bool,
    pub length: u32,
    /// The enumeration's entries: label, start, end, automatic value.
    pub entries: Vec<(String, i64, i64, bool)>,
}

/// One event as the C description gives it.
#[derive(Clone, Debug)]
pub struct RawEvent {
    pub provider: String,
    pub name: String,
    pub loglevel: Option<i32>,
    pub model_emf_uri: Option<String>,
    pub fields: Vec<RawField>,
}

/// Why a C description was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CDescError {
    #[error("event {event}: field '{field}': {what}")]
    Field {
        event: String,
        field: String,
        what: &'static str,
    },
    #[error("event {0}: log level {1} is not one of LTTng's 0 (EMERG) to 14 (DEBUG)")]
    LogLevel(String, i32),
    #[error("event {0} is declared with provider '{1}', in the header of provider '{2}'")]
    Provider(String, String, String),
    #[error("{0}")]
    Invalid(#[from] proto::event::DescError),
}

fn int_type(event: &str, f: &RawField, size: u8, signed: bool) -> Result<IntType, CDescError> {
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(CDescError::Field {
            event: event.into(),
            field: f.name.clone(),
            what: "integers are 1, 2, 4 or 8 bytes",
        });
    }
    let base = if f.base == 16 { Base::Hex } else { Base::Dec };
    let mut t = IntType::new(size * 8, signed, base);
    if f.network {
        t = t.network();
    }
    Ok(t)
}

/// Converts and validates one event of provider `provider`.
pub fn convert(provider: &str, e: &RawEvent) -> Result<EventDesc, CDescError> {
    let full = format!("{}:{}", e.provider, e.name);
    if e.provider != provider {
        return Err(CDescError::Provider(
            full,
            e.provider.clone(),
            provider.into(),
        ));
    }
    let loglevel = match e.loglevel {
        None => LogLevel::DebugLine,
        Some(l) => u8::try_from(l)
            .ok()
            .and_then(|l| LogLevel::ALL.get(usize::from(l)).copied())
            .ok_or(CDescError::LogLevel(full.clone(), l))?,
    };
    let mut fields = Vec::with_capacity(e.fields.len());
    for f in &e.fields {
        let bad = |what| CDescError::Field {
            event: full.clone(),
            field: f.name.clone(),
            what,
        };
        let ty = match f.kind {
            kind::INTEGER => FieldType::Integer(int_type(&full, f, f.size, f.signed)?),
            kind::FLOAT => match f.size {
                4 => FieldType::F32,
                8 => FieldType::F64,
                _ => return Err(bad("floats are float or double (not long double)")),
            },
            kind::STRING => FieldType::String,
            kind::ARRAY | kind::SEQUENCE => {
                let mut elem = int_type(&full, f, f.size, f.signed)?;
                if f.text {
                    if f.size != 1 {
                        return Err(bad("text arrays and sequences hold 1-byte characters"));
                    }
                    elem = elem.text();
                }
                if f.kind == kind::ARRAY {
                    FieldType::Array {
                        elem,
                        len: f.length,
                    }
                } else {
                    if f.length_signed {
                        return Err(bad("a sequence's length type must be unsigned"));
                    }
                    let length = IntType::new(
                        int_type(&full, f, f.length_size, false)?.bits,
                        false,
                        Base::Dec,
                    );
                    FieldType::Sequence { elem, length }
                }
            }
            kind::ENUM => {
                let container = int_type(&full, f, f.size, f.signed)?;
                let mut labels = Vec::with_capacity(f.entries.len());
                // CTF's rule for a value left out: the previous entry's end plus one.
                let mut next: i64 = 0;
                for (label, start, end, auto) in &f.entries {
                    let (s, e) = if *auto { (next, next) } else { (*start, *end) };
                    labels.push(EnumLabel {
                        label: label.clone(),
                        start: s,
                        end: e,
                    });
                    next = e.wrapping_add(1);
                }
                FieldType::Enum { container, labels }
            }
            _ => return Err(bad("unknown field kind (built against another release?)")),
        };
        fields.push(FieldDesc {
            name: f.name.clone(),
            ty,
        });
    }
    let d = EventDesc {
        provider: e.provider.clone(),
        name: e.name.clone(),
        loglevel,
        model_emf_uri: e.model_emf_uri.clone(),
        fields,
    };
    d.validate()?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: u8, size: u8) -> RawField {
        RawField {
            name: name.into(),
            kind,
            size,
            signed: false,
            base: 10,
            network: false,
            text: false,
            length_size: 0,
            length_signed: false,
            length: 0,
            entries: vec![],
        }
    }

    fn event(fields: Vec<RawField>) -> RawEvent {
        RawEvent {
            provider: "p".into(),
            name: "e".into(),
            loglevel: None,
            model_emf_uri: None,
            fields,
        }
    }

    #[test]
    fn automatic_enum_values_follow_the_previous_entry() {
        let mut f = field("en", kind::ENUM, 4);
        f.entries = vec![
            ("A0".into(), 0, 0, true),
            ("A1".into(), 0, 0, true),
            ("TEN".into(), 10, 10, false),
            ("A11".into(), 0, 0, true),
            ("q\"uote".into(), 100, 100, false),
        ];
        let d = convert("p", &event(vec![f])).unwrap();
        let FieldType::Enum { labels, .. } = &d.fields[0].ty else {
            panic!("{d:?}")
        };
        let v: Vec<(i64, i64)> = labels.iter().map(|l| (l.start, l.end)).collect();
        assert_eq!(v, [(0, 0), (1, 1), (10, 10), (11, 11), (100, 100)]);
        assert_eq!(d.loglevel, LogLevel::DebugLine);
    }

    #[test]
    fn bad_descriptions_are_refused_with_the_reason() {
        let mut seq = field("s", kind::SEQUENCE, 1);
        seq.length_size = 4;
        seq.length_signed = true;
        let e = convert("p", &event(vec![seq])).unwrap_err();
        assert!(e.to_string().contains("must be unsigned"), "{e}");
        let e = convert("p", &event(vec![field("x", kind::FLOAT, 16)])).unwrap_err();
        assert!(e.to_string().contains("long double"), "{e}");
        let e = convert("p", &event(vec![field("x; }", kind::INTEGER, 4)])).unwrap_err();
        assert!(e.to_string().contains("not a valid identifier"), "{e}");
        let mut ev = event(vec![]);
        ev.loglevel = Some(15);
        assert!(matches!(convert("p", &ev), Err(CDescError::LogLevel(..))));
        assert!(matches!(
            convert("q", &event(vec![])),
            Err(CDescError::Provider(..))
        ));
        let many: Vec<RawField> = (0..200)
            .map(|i| field(&format!("f{i}"), kind::INTEGER, 4))
            .collect();
        assert!(convert("p", &event(many)).is_err());
    }
}
