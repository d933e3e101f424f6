//! How a `tracing` callsite is named and levelled as an LTTng event.
//!
//! - provider: the first segment of the target (the crate, for the default target, the
//!   module path): `myapp::net` gives `myapp`;
//! - event name: the other segments of the target, then the callsite's own name, joined
//!   by `_`. An event without a `name:` of its own (tracing names it `event FILE:LINE`)
//!   is named by its line: `info!` at line 42 of `myapp::net` is `myapp:net_line_42`,
//!   `info!(name: "accepted", ...)` is `myapp:net_accepted`;
//! - every character that is not an ASCII letter, digit or `_` becomes `_`, a leading
//!   digit gets a `_` before it, and names are cut to LTTng's length limit;
//! - log levels: ERROR is LTTng's `ERR`, WARN `WARNING`, INFO `INFO`, DEBUG
//!   `DEBUG_LINE` and TRACE `DEBUG`, so `--loglevel` keeps tracing's order
//!   (`--loglevel INFO` selects ERROR, WARN and INFO; `--loglevel DEBUG_LINE` all but
//!   TRACE);
//! - the class's `model.emf.uri` is `FILE:LINE` where the callsite has them.

use proto::event::{limits, LogLevel};
use tracing_core::{Level, Metadata};

/// LTTng's log level for a tracing level.
pub fn level(l: &Level) -> LogLevel {
    match *l {
        Level::ERROR => LogLevel::Err,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::DebugLine,
        _ => LogLevel::Debug,
    }
}

/// `s` as an identifier: other characters become `_`, a leading digit gets one.
pub fn identifier(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in s.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    if out.is_empty() {
        out.push('_');
    }
    // ASCII only: any byte index is a character boundary.
    out.truncate(limits::NAME_LEN);
    out
}

/// The provider and the event name of a callsite (see the module docs).
pub fn event_name(meta: &Metadata<'_>) -> (String, String) {
    let mut segments = meta.target().split("::").filter(|s| !s.is_empty());
    let provider = identifier(segments.next().unwrap_or("rust"));
    let mut parts: Vec<String> = segments.map(identifier).collect();
    let own = meta.name();
    match meta.line() {
        Some(line) if own.starts_with("event ") || own == "log event" => {
            parts.push(format!("line_{line}"))
        }
        _ => parts.push(identifier(own)),
    }
    // Each part is an identifier or `line_N`: the name starts with neither a digit nor
    // a separator.
    (provider, fit(parts.join("_")))
}

/// `name` with `_SUFFIX` (`new`, `enter`, ... for spans, `2`, `3`, ... for a
/// callsite's further classes), within the length limit.
pub fn with_suffix(name: &str, suffix: Option<&str>) -> String {
    match suffix {
        None => name.to_string(),
        Some(s) => {
            let s: String = s
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            fit(format!("{name}_{s}"))
        }
    }
}

/// Cuts a long name at the start, which keeps the end that tells callsites apart
/// (their own name, the line, the suffix), and marks the cut with `_`.
fn fit(name: String) -> String {
    if name.len() <= limits::NAME_LEN {
        return name;
    }
    let cut = name.len() - (limits::NAME_LEN - 1);
    format!("_{}", &name[cut..])
}

/// The class's `model.emf.uri`: `FILE:LINE`, or the file alone, without control
/// characters and within the limit.
pub fn uri(meta: &Metadata<'_>) -> Option<String> {
    let file = meta.file()?;
    let mut u: String = file.chars().filter(|c| !c.is_control()).collect();
    if let Some(line) = meta.line() {
        u.push_str(&format!(":{line}"));
    }
    while u.len() > limits::URI_LEN {
        u.pop();
    }
    Some(u)
}

/// A field name as a CTF field name (see [`identifier`]), for the field names tracing
/// allows (`a.b`, `r#type`, ...).
pub fn field(name: &str) -> String {
    let mut f = identifier(name.strip_prefix("r#").unwrap_or(name));
    f.truncate(limits::FIELD_NAME_LEN);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_keep_letters_digits_and_underscores_only() {
        assert_eq!(identifier("my-app"), "my_app");
        assert_eq!(identifier("2fast"), "_2fast");
        assert_eq!(identifier(""), "_");
        assert_eq!(identifier("é"), "_");
        assert_eq!(field("r#type"), "type");
        assert_eq!(field("conn.id"), "conn_id");
        assert_eq!(identifier(&"x".repeat(300)).len(), limits::NAME_LEN);
    }

    #[test]
    fn levels_keep_tracings_order() {
        let order: Vec<u32> = [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ]
        .iter()
        .map(|l| level(l) as u32)
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }
}
