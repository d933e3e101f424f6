//! The current session, remembered between commands in `.lttngrc` (in `$LTTNG_HOME`,
//! else `$HOME`) as a `session=NAME` line, like LTTng.

use std::path::PathBuf;

fn rc_path() -> Option<PathBuf> {
    std::env::var_os("LTTNG_HOME")
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()))
        .map(|h| PathBuf::from(h).join(".lttngrc"))
}

/// The current session's name, if one was set.
pub fn get() -> Option<String> {
    let text = std::fs::read_to_string(rc_path()?).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("session="))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Makes `name` the current session.
pub fn set(name: &str) -> std::io::Result<()> {
    let Some(p) = rc_path() else {
        return Ok(());
    };
    std::fs::write(p, format!("session={name}\n"))
}

/// Forgets the current session (after it was destroyed).
pub fn clear() -> std::io::Result<()> {
    match rc_path() {
        Some(p) => match std::fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        None => Ok(()),
    }
}
