//! `lttng view`: prints a trace like babeltrace2's default text output.
//!
//! One line per event, `[HH:MM:SS.nnnnnnnnn] (+S.nnnnnnnnn) HOST NAME: { ... }, ...`, in
//! local time (see [`crate::localtime`]). The body comes already formatted from
//! `TraceSet::text_items` (decoded straight into text, no values built); lines are gathered
//! in one large buffer written to stdout in big chunks.
//! Discarded-data warnings and read errors go to stderr in time order, stdout being flushed
//! first so that both interleave correctly. A closed stdout (`lttng view | head`) ends quietly.

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use ctf::reader::{Discarded, DiscardedKind, OpenError, TextItem, TraceInfo, TraceSet};

use crate::localtime::{write_frac, LocalTime, TimeWriter};

/// Exit status when some packet or stream could not be read.
pub const EXIT_CORRUPT: u8 = 1;
/// Exit status for usage errors and traces that cannot be opened at all.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot write the output: {0}")]
    Output(io::Error),
    #[error("cannot run the viewer {program:?}: {source}")]
    Viewer { program: String, source: io::Error },
}

/// Replaces this process with `program PATH` (`--viewer`). Returns only on failure.
pub fn exec_viewer(program: &str, path: &Path) -> ViewError {
    let mut words = program.split_whitespace();
    let Some(cmd) = words.next() else {
        return ViewError::Viewer {
            program: program.into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "empty program"),
        };
    };
    let source = Command::new(cmd).args(words).arg(path).exec();
    ViewError::Viewer {
        program: program.into(),
        source,
    }
}

/// Prints every event of the traces under `path`; returns the exit status.
pub fn view(path: &Path) -> Result<u8, ViewError> {
    // Absolute stream paths in warnings, as babeltrace2 prints them.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut set = TraceSet::open(&path)?;
    let traces: Vec<TraceInfo> = set.traces().to_vec();
    let stdout = io::stdout();
    let mut out = Output {
        buf: Vec::with_capacity(OUTPUT_BUFFER + 4096),
        w: stdout.lock(),
    };
    let mut printer = Printer {
        time: TimeWriter::new(LocalTime::from_env()),
        last_ns: None,
    };
    // One thread: events are decoded straight into text (no values built), which leaves
    // little for a second thread to take over (measured: it cost more than it gained).
    let mut status = 0;
    let mut items = set.text_items();
    while let Some(item) = items.next_item() {
        let r = match item {
            TextItem::Event(e) => {
                printer.event(&mut out.buf, e.timestamp_ns, e.body);
                if out.buf.len() >= OUTPUT_BUFFER {
                    out.flush()
                } else {
                    Ok(())
                }
            }
            TextItem::Discarded(d) => {
                let msg = printer.discarded(&path, &traces, &d);
                out.warn(&format!("WARNING: {msg}"))
            }
            TextItem::Error(e) => {
                status = EXIT_CORRUPT;
                out.warn(&format!("ERROR: {e}"))
            }
        };
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(status),
            Err(e) => return Err(ViewError::Output(e)),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(ViewError::Output(e)),
        _ => Ok(status),
    }
}

/// Bytes of text gathered before they are written to stdout.
const OUTPUT_BUFFER: usize = 1 << 18;

/// stdout with a buffer that lines are formatted into directly.
struct Output<W: Write> {
    buf: Vec<u8>,
    w: W,
}

impl<W: Write> Output<W> {
    fn flush(&mut self) -> io::Result<()> {
        let r = self.w.write_all(&self.buf).and_then(|()| self.w.flush());
        self.buf.clear();
        r
    }

    /// Writes a line to stderr after everything before it on stdout.
    fn warn(&mut self, msg: &str) -> io::Result<()> {
        self.flush()?;
        let _ = writeln!(io::stderr().lock(), "{msg}");
        Ok(())
    }
}

struct Printer {
    time: TimeWriter,
    last_ns: Option<i128>,
}

impl Printer {
    /// Appends `[HH:MM:SS.nnnnnnnnn] (+S.nnnnnnnnn) BODY\n`.
    #[inline]
    fn event(&mut self, line: &mut Vec<u8>, ns: i128, body: &[u8]) {
        line.push(b'[');
        self.time.write_time(line, ns);
        line.extend_from_slice(b"] (");
        match self.last_ns {
            None => line.extend_from_slice(b"+?.?????????"),
            Some(prev) => {
                let d = ns - prev;
                line.push(if d < 0 { b'-' } else { b'+' });
                const NS: u64 = 1_000_000_000;
                let d = d.unsigned_abs();
                let (secs, frac) = match u64::try_from(d) {
                    Ok(d) => (d / NS, (d % NS) as u32),
                    Err(_) => (
                        u64::try_from(d / u128::from(NS)).unwrap_or(u64::MAX),
                        (d % u128::from(NS)) as u32,
                    ),
                };
                let mut digits = [0u8; 20];
                let mut i = digits.len();
                let mut v = secs;
                loop {
                    i -= 1;
                    digits[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                    if v == 0 {
                        break;
                    }
                }
                line.extend_from_slice(&digits[i..]);
                write_frac(line, frac);
            }
        }
        self.last_ns = Some(ns);
        line.extend_from_slice(b") ");
        line.extend_from_slice(body);
        line.push(b'\n');
    }

    /// babeltrace2's "Tracer discarded ..." text, without the `WARNING: ` prefix.
    fn discarded(&self, root: &Path, traces: &[TraceInfo], d: &Discarded) -> String {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        let what = match d.kind {
            DiscardedKind::Events(n) => format!("discarded {n} event{}", plural(n)),
            DiscardedKind::Packets(n) => format!("discarded {n} packet{}", plural(n)),
            DiscardedKind::MaybeEvents => "may have discarded events".into(),
        };
        let time = |ns| {
            let mut v = Vec::new();
            self.time.local_time().write_time(&mut v, ns);
            String::from_utf8_lossy(&v).into_owned()
        };
        let trace = traces.get(d.trace);
        // babeltrace2 names a trace found below the opened directory `HOST/RELATIVE/PATH`.
        let name = trace
            .and_then(|t| {
                let host = t.metadata.hostname()?;
                Some(match t.path.strip_prefix(root) {
                    Ok(rel) if !rel.as_os_str().is_empty() => format!("{host}/{}", rel.display()),
                    _ => host.to_owned(),
                })
            })
            .or_else(|| trace.map(|t| t.path.display().to_string()))
            .unwrap_or_default();
        let uuid = trace
            .and_then(|t| t.metadata.uuid.as_deref())
            .map(|u| format!(" (UUID: {u})"))
            .unwrap_or_default();
        format!(
            "Tracer {what} between [{}] and [{}] in trace \"{name}\"{uuid} within stream \"{}\" (stream class ID: {}, stream ID: {}).",
            time(d.begin.ns),
            time(d.end.ns),
            d.stream_path.display(),
            d.stream_class_id,
            d.stream_id,
        )
    }
}
