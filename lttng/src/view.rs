//! `lttng view`: prints a trace like babeltrace2's default text output.
//!
//! One line per event, `[HH:MM:SS.nnnnnnnnn] (+S.nnnnnnnnn) HOST NAME: { ... }, ...`, in
//! local time (see [`crate::localtime`]); the body comes from `ctf::reader::pretty`.
//! Discarded-data warnings and read errors go to stderr in time order, stdout being flushed
//! first so that both interleave correctly. A closed stdout (`lttng view | head`) ends quietly.

use std::io::{self, BufWriter, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use ctf::reader::{pretty, Discarded, DiscardedKind, Item, OpenError, TraceInfo, TraceSet};

use crate::localtime::LocalTime;

/// Items per batch handed from the decoding thread to the printing one.
const BATCH: usize = 512;
/// Batches in flight between the two threads.
const CHANNEL_BATCHES: usize = 8;

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
    let set = TraceSet::open(&path)?;
    let tz = LocalTime::from_env();
    let traces: Vec<TraceInfo> = set.traces().to_vec();
    let hosts: Vec<Option<String>> = traces
        .iter()
        .map(|t| t.metadata.hostname().map(str::to_owned))
        .collect();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut printer = Printer {
        tz,
        last_ns: None,
        line: Vec::with_capacity(512),
    };
    // Decoding runs on its own thread, printing on this one: batches of items go through a
    // bounded channel (memory stays bounded; a closed stdout stops the decoder too).
    // Printed batches go back to the decoder to be freed there: glibc frees across threads
    // are slow (arena lock contention), which cost more than the second thread gained.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(CHANNEL_BATCHES);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<Item>>();
    let decoder = std::thread::spawn(move || {
        let mut set = set;
        let mut batch = Vec::with_capacity(BATCH);
        for item in set.items() {
            if batch.is_empty() {
                while let Ok(printed) = done_rx.try_recv() {
                    drop(printed);
                }
            }
            batch.push(item);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.send(full).is_err() {
                    return;
                }
            }
        }
        let _ = tx.send(batch);
    });
    let mut status = 0;
    for batch in rx.iter() {
        for item in &batch {
            let r = match item {
                Item::Event(e) => {
                    let host = hosts.get(e.trace).and_then(Option::as_deref);
                    printer.event(&mut out, host, e)
                }
                Item::Discarded(d) => {
                    let msg = printer.discarded(&traces, d);
                    to_stderr(&mut out, &format!("WARNING: {msg}"))
                }
                Item::Error(e) => {
                    status = EXIT_CORRUPT;
                    to_stderr(&mut out, &format!("ERROR: {e}"))
                }
            };
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(status),
                Err(e) => return Err(ViewError::Output(e)),
            }
        }
        let _ = done_tx.send(batch);
    }
    // The decoder has sent everything; a panic there is a bug worth surfacing.
    if decoder.join().is_err() {
        return Err(ViewError::Output(io::Error::other(
            "the decoding thread panicked",
        )));
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(ViewError::Output(e)),
        _ => Ok(status),
    }
}

fn to_stderr(out: &mut impl Write, msg: &str) -> io::Result<()> {
    out.flush()?;
    let _ = writeln!(io::stderr().lock(), "{msg}");
    Ok(())
}

struct Printer {
    tz: LocalTime,
    last_ns: Option<i128>,
    line: Vec<u8>,
}

impl Printer {
    fn event(
        &mut self,
        out: &mut impl Write,
        host: Option<&str>,
        e: &ctf::reader::Event,
    ) -> io::Result<()> {
        let line = &mut self.line;
        line.clear();
        line.push(b'[');
        self.tz.write_time(line, e.timestamp_ns);
        line.extend_from_slice(b"] (");
        match self.last_ns {
            None => line.extend_from_slice(b"+?.?????????"),
            Some(prev) => {
                let d = e.timestamp_ns - prev;
                line.push(if d < 0 { b'-' } else { b'+' });
                let d = d.unsigned_abs();
                let secs = u64::try_from(d / 1_000_000_000).unwrap_or(u64::MAX);
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
                line.push(b'.');
                let mut frac = [b'0'; 9];
                let mut f = (d % 1_000_000_000) as u32;
                for c in frac.iter_mut().rev() {
                    *c = b'0' + (f % 10) as u8;
                    f /= 10;
                }
                line.extend_from_slice(&frac);
            }
        }
        self.last_ns = Some(e.timestamp_ns);
        line.extend_from_slice(b") ");
        pretty::write_event_body(line, host, e);
        line.push(b'\n');
        out.write_all(line)
    }

    /// babeltrace2's "Tracer discarded ..." text, without the `WARNING: ` prefix.
    fn discarded(&self, traces: &[TraceInfo], d: &Discarded) -> String {
        let what = match d.kind {
            DiscardedKind::Events(n) => format!("discarded {n} events"),
            DiscardedKind::Packets(n) => format!("discarded {n} packets"),
            DiscardedKind::MaybeEvents => "may have discarded events".into(),
        };
        let time = |ns| {
            let mut v = Vec::new();
            self.tz.write_time(&mut v, ns);
            String::from_utf8_lossy(&v).into_owned()
        };
        let trace = traces.get(d.trace);
        let name = trace
            .and_then(|t| t.metadata.hostname().map(str::to_owned))
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
