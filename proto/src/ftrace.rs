//! The text formats tracefs describes its binary ring buffer with: an event's
//! `format` file and `events/header_page`. Their text comes from privd, which read
//! it from tracefs, but whoever decodes kernel pages (consumer-kernel) treats it as
//! untrusted input like the pages themselves: every number is bounded, every name
//! checked, and nothing here panics (fuzz target `ftrace_format`).

/// A uprobe event that privd defines on an entry point of the C library, recording
/// the path its caller passes to `open`/`openat`. The kernel's system call events
/// carry only the pointer, and this kernel has neither event probes nor kprobes to
/// read it; the consumer joins the path to the thread's next `openat` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathProbe {
    /// Event name, in [`PATH_PROBE_GROUP`].
    pub event: &'static str,
    /// The C library's symbol the probe sits on.
    pub symbol: &'static str,
    /// The register holding the path (x86-64 calling convention).
    pub register: &'static str,
}

/// The tracefs system of the path probes.
pub const PATH_PROBE_GROUP: &str = "lttng_rs_user";

/// The field of a path probe's record holding the path (`__data_loc char[]`).
pub const PATH_PROBE_FIELD: &str = "path";

/// The entry points whose path argument is recorded: glibc's `open`/`open64` (one
/// address), `openat`/`openat64`, and its internal `__open_nocancel` (`fopen` with
/// `"e"`, `opendir`, ...); every one of them makes an `openat` system call.
pub const PATH_PROBES: [PathProbe; 3] = [
    PathProbe {
        event: "lttng_rs_open_path",
        symbol: "open64",
        register: "%di",
    },
    PathProbe {
        event: "lttng_rs_openat_path",
        symbol: "openat64",
        register: "%si",
    },
    PathProbe {
        event: "lttng_rs_open_nocancel_path",
        symbol: "__open_nocancel",
        register: "%di",
    },
];

/// The dynamic loader makes its own `openat` system calls, through none of the C
/// library's functions: privd probes each of them in the loader itself
/// (`ld-linux-x86-64.so.2`, beside the C library), as events named this prefix and a
/// number, with the path's register at the probe.
pub const LOADER_PROBE_PREFIX: &str = "lttng_rs_ld_openat_path_";
/// Most loader probes defined (glibc 2.36's loader has three `openat` sites).
pub const MAX_LOADER_PROBES: usize = 8;

/// Whether `event` (a name in [`PATH_PROBE_GROUP`]) is a path probe, of the C library
/// or of the loader.
pub fn is_path_probe(event: &str) -> bool {
    PATH_PROBES.iter().any(|p| p.event == event)
        || event
            .strip_prefix(LOADER_PROBE_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < MAX_LOADER_PROBES)
}

/// Longest format text accepted.
pub const MAX_FORMAT_LEN: usize = 64 * 1024;
/// Most fields in one event.
pub const MAX_FIELDS: usize = 256;
/// Largest offset or size of a field (an event payload fits in a page).
pub const MAX_FIELD_BYTES: u32 = 1 << 16;

/// How a field's bytes are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A little-endian integer of `size` bytes (1, 2, 4 or 8).
    Integer { signed: bool },
    /// `T name[N]`: `len` elements of `size / len` bytes each.
    Array { len: u32, signed: bool },
    /// `char name[N]`: a NUL-padded string of `size` bytes.
    CharArray,
    /// `__data_loc char[] name`: a u32 whose low 16 bits are the string's offset from
    /// the payload start and high 16 bits its length.
    DataLocString,
    /// `__rel_loc char[] name`: the same, offset counted from the end of the field.
    RelLocString,
    /// `char name[]` of size 0: the rest of the payload.
    Rest,
}

/// One `field:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The declared C type, as written (for display only).
    pub c_type: String,
    pub offset: u32,
    pub size: u32,
    pub kind: FieldKind,
}

/// An event's `format` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFormat {
    pub name: String,
    pub id: u16,
    /// Fields in order, the common ones (`common_type`, ...) included.
    pub fields: Vec<Field>,
}

/// `events/header_page`: where the page timestamp, the commit word and the data are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLayout {
    pub timestamp_offset: u32,
    pub commit_offset: u32,
    pub commit_size: u32,
    pub data_offset: u32,
    pub data_size: u32,
}

impl PageLayout {
    /// The page size: data offset plus data size.
    pub fn page_size(&self) -> u32 {
        self.data_offset + self.data_size
    }
}

/// Why a format text was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("format text longer than {MAX_FORMAT_LEN} bytes")]
    TooLong,
    #[error("line {line}: {why}")]
    Line { line: usize, why: String },
    #[error("no {0} line")]
    Missing(&'static str),
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
}

/// Parses `key:value;` pairs of a field line (after `field:`).
fn field_parts(rest: &str) -> Option<(String, u32, u32, bool)> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, None);
    for (i, part) in rest.split(';').map(str::trim).enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            decl = Some(part.to_string());
            continue;
        }
        let (k, v) = part.split_once(':')?;
        let n: u32 = v.trim().parse().ok()?;
        match k.trim() {
            "offset" => offset = Some(n),
            "size" => size = Some(n),
            "signed" => signed = Some(n != 0),
            _ => {}
        }
    }
    Some((decl?, offset?, size?, signed.unwrap_or(false)))
}

/// True for a C identifier of at most 128 bytes.
fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits a declaration (`unsigned long args[6]`) into type, name and array length.
fn declaration(decl: &str) -> Option<(String, String, Option<Option<u32>>)> {
    let decl = decl.trim();
    let (c_type, name) = decl.rsplit_once(|c: char| c.is_whitespace())?;
    let (name, array) = match name.split_once('[') {
        Some((n, rest)) => {
            let inner = rest.strip_suffix(']')?;
            let len = if inner.is_empty() {
                None
            } else {
                Some(inner.parse::<u32>().ok()?)
            };
            (n, Some(len))
        }
        None => (name, None),
    };
    is_ident(name).then(|| (c_type.trim().to_string(), name.to_string(), array))
}

fn field(decl: &str, offset: u32, size: u32, signed: bool) -> Result<Field, String> {
    if offset > MAX_FIELD_BYTES || size > MAX_FIELD_BYTES {
        return Err(format!("offset {offset} or size {size} too large"));
    }
    let (c_type, name, array) =
        declaration(decl).ok_or_else(|| format!("cannot read the declaration '{decl}'"))?;
    let kind = if c_type.starts_with("__data_loc") {
        FieldKind::DataLocString
    } else if c_type.starts_with("__rel_loc") {
        FieldKind::RelLocString
    } else {
        match array {
            None => {
                if ![1, 2, 4, 8].contains(&size) {
                    return Err(format!("integer field '{name}' of {size} bytes"));
                }
                FieldKind::Integer { signed }
            }
            Some(None) if size == 0 => FieldKind::Rest,
            Some(None) => return Err(format!("'{name}[]' with a size")),
            Some(Some(len)) if c_type == "char" || c_type == "unsigned char" => {
                if len != size {
                    return Err(format!("'{name}[{len}]' of {size} bytes"));
                }
                FieldKind::CharArray
            }
            Some(Some(len)) => {
                if len == 0 || !size.is_multiple_of(len) || ![1, 2, 4, 8].contains(&(size / len)) {
                    return Err(format!("array '{name}[{len}]' of {size} bytes"));
                }
                FieldKind::Array { len, signed }
            }
        }
    };
    if matches!(kind, FieldKind::DataLocString | FieldKind::RelLocString) && size != 4 {
        return Err(format!("string locator '{name}' of {size} bytes"));
    }
    Ok(Field {
        name,
        c_type,
        offset,
        size,
        kind,
    })
}

/// Parses an event's `format` file.
pub fn parse_format(text: &str) -> Result<EventFormat, FormatError> {
    if text.len() > MAX_FORMAT_LEN {
        return Err(FormatError::TooLong);
    }
    let (mut name, mut id) = (None, None);
    let mut fields = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let bad = |why: String| FormatError::Line { line: i + 1, why };
        if let Some(n) = line.strip_prefix("name:") {
            let n = n.trim();
            if !is_ident(n) {
                return Err(bad(format!("'{}' is not an event name", n.escape_debug())));
            }
            name = Some(n.to_string());
        } else if let Some(v) = line.strip_prefix("ID:") {
            id =
                Some(v.trim().parse::<u16>().map_err(|_| {
                    bad(format!("'{}' is not an event id", v.trim().escape_debug()))
                })?);
        } else if let Some(rest) = line.strip_prefix("field:") {
            let (decl, offset, size, signed) = field_parts(rest)
                .ok_or_else(|| bad("expected field:DECL; offset:N; size:N; signed:N;".into()))?;
            if fields.len() >= MAX_FIELDS {
                return Err(FormatError::TooManyFields);
            }
            fields.push(field(&decl, offset, size, signed).map_err(bad)?);
        } else if line.starts_with("print fmt:") {
            break;
        }
    }
    Ok(EventFormat {
        name: name.ok_or(FormatError::Missing("name:"))?,
        id: id.ok_or(FormatError::Missing("ID:"))?,
        fields,
    })
}

/// Parses `events/header_page`.
pub fn parse_header_page(text: &str) -> Result<PageLayout, FormatError> {
    if text.len() > MAX_FORMAT_LEN {
        return Err(FormatError::TooLong);
    }
    let (mut ts, mut commit, mut data) = (None, None, None);
    for (i, raw) in text.lines().enumerate() {
        let Some(rest) = raw.trim().strip_prefix("field:") else {
            continue;
        };
        let (decl, offset, size, _) = field_parts(rest).ok_or_else(|| FormatError::Line {
            line: i + 1,
            why: "expected field:DECL; offset:N; size:N; signed:N;".into(),
        })?;
        if offset > MAX_FIELD_BYTES || size > MAX_FIELD_BYTES {
            return Err(FormatError::Line {
                line: i + 1,
                why: "offset or size too large".into(),
            });
        }
        let name = decl
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        match name {
            "timestamp" => ts = Some(offset),
            "commit" => commit = Some((offset, size)),
            "data" => data = Some((offset, size)),
            _ => {}
        }
    }
    let (commit_offset, commit_size) = commit.ok_or(FormatError::Missing("commit"))?;
    let (data_offset, data_size) = data.ok_or(FormatError::Missing("data"))?;
    if ![4, 8].contains(&commit_size) || data_offset < commit_offset + commit_size {
        return Err(FormatError::Line {
            line: 0,
            why: "commit must be 4 or 8 bytes, before the data".into(),
        });
    }
    Ok(PageLayout {
        timestamp_offset: ts.ok_or(FormatError::Missing("timestamp"))?,
        commit_offset,
        commit_size,
        data_offset,
        data_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats as this machine's kernel (6.18) prints them.
    const FORK: &str = "name: sched_process_fork\nID: 366\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n\nprint fmt: \"comm=%s pid=%d child_comm=%s child_pid=%d\", __get_str(parent_comm), REC->parent_pid, __get_str(child_comm), REC->child_pid\n";
    const ENTER: &str = "name: sys_enter\nID: 443\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n";
    const SWITCH_COMM: &str = "name: sched_switch\nID: 372\nformat:\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n";
    const HEADER_PAGE: &str = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";

    #[test]
    fn real_formats_parse_into_typed_fields() {
        let f = parse_format(FORK).unwrap();
        assert_eq!(
            (f.name.as_str(), f.id, f.fields.len()),
            ("sched_process_fork", 366, 8)
        );
        assert_eq!(f.fields[4].name, "parent_comm");
        assert_eq!(f.fields[4].kind, FieldKind::DataLocString);
        assert_eq!(f.fields[5].kind, FieldKind::Integer { signed: true });
        let e = parse_format(ENTER).unwrap();
        assert_eq!(
            e.fields[2].kind,
            FieldKind::Array {
                len: 6,
                signed: false
            }
        );
        let s = parse_format(SWITCH_COMM).unwrap();
        assert_eq!(s.fields[0].kind, FieldKind::CharArray);
        assert_eq!(s.fields[1].kind, FieldKind::Rest);
        let p = parse_header_page(HEADER_PAGE).unwrap();
        assert_eq!(
            (p.commit_offset, p.commit_size, p.data_offset, p.page_size()),
            (8, 8, 16, 4096)
        );
    }

    #[test]
    fn malformed_formats_are_refused_with_the_line() {
        for bad in [
            "ID: 1\n",
            "name: x\n",
            "name: x; rm\nID: 1\n",
            "name: x\nID: 70000\n",
            "name: x\nID: 1\nfield:int a;\toffset:0;\tsize:3;\tsigned:0;\n",
            "name: x\nID: 1\nfield:int a[0];\toffset:0;\tsize:4;\tsigned:0;\n",
            "name: x\nID: 1\nfield:int a[3];\toffset:0;\tsize:4;\tsigned:0;\n",
            "name: x\nID: 1\nfield:int ../a;\toffset:0;\tsize:4;\tsigned:0;\n",
            "name: x\nID: 1\nfield:int a;\toffset:99999999;\tsize:4;\tsigned:0;\n",
            "name: x\nID: 1\nfield:int a;\n",
            "name: x\nID: 1\nfield:__data_loc char[] s;\toffset:0;\tsize:8;\tsigned:0;\n",
        ] {
            assert!(parse_format(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_header_page("field: local_t commit;\toffset:8;\tsize:3;\tsigned:1;\n").is_err()
        );
        assert!(parse_header_page("").is_err());
        assert_eq!(
            parse_format(&"x".repeat(MAX_FORMAT_LEN + 1)),
            Err(FormatError::TooLong)
        );
    }
}
