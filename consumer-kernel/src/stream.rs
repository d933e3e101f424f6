//! One CPU of a kernel session: reads whole ftrace pages from its `trace_pipe_raw`
//! (non-blocking), encodes their records with the session's schema, and appends CTF
//! packets to its stream file. Lost events (flagged on a page) close the packet in
//! progress and raise the stream's `events_discarded`, so readers report them between
//! the packets.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path};
use std::sync::Arc;

use ctf::kernel::{Encoded, KernelSchema, PathHints};
use proto::ftrace::PageLayout;
use proto::wire::consumer::{KernelStreamSpec, ProcessState, StreamStats};

use crate::packet::{Identity, PacketBuilder, TARGET_PACKET};
use proto::ftrace_page::{Missed, PageRecords};

/// Why a stream could not be set up or written.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("stream path '{0}' would leave the session output")]
    Path(String),
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A CPU's stream.
pub struct KernelStream {
    pub spec: KernelStreamSpec,
    pipe: File,
    out: File,
    out_path: String,
    layout: PageLayout,
    schema: Arc<KernelSchema>,
    packet: Option<PacketBuilder>,
    seq: u64,
    discarded: u64,
    last_ts: u64,
    page: Vec<u8>,
    /// One record's CTF encoding, reused.
    encoded: Vec<u8>,
    pub events: u64,
    pub bad_records: u64,
    pub pages: u64,
    pub bytes: u64,
    write_error: bool,
}

fn check_path(spec: &KernelStreamSpec) -> Result<(), StreamError> {
    let ok_dir = Path::new(&spec.trace_dir)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let ok_file = proto::wire::check_name("stream file", &spec.file, 128).is_ok();
    if ok_dir && ok_file && Path::new(&spec.output).is_absolute() {
        Ok(())
    } else {
        Err(StreamError::Path(format!(
            "{}/{}",
            spec.trace_dir, spec.file
        )))
    }
}

impl KernelStream {
    pub fn new(
        spec: KernelStreamSpec,
        pipe: OwnedFd,
        layout: PageLayout,
        schema: Arc<KernelSchema>,
    ) -> Result<KernelStream, StreamError> {
        check_path(&spec)?;
        let dir = Path::new(&spec.output).join(&spec.trace_dir);
        let path = dir.join(&spec.file);
        let path_s = path.display().to_string();
        // Kernel traces show every process of the machine: the owner's eyes only.
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| StreamError::Create {
                path: dir.display().to_string(),
                source,
            })?;
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| StreamError::Create {
                path: path_s.clone(),
                source,
            })?;
        Ok(KernelStream {
            spec,
            pipe: File::from(pipe),
            out,
            out_path: path_s,
            page: vec![0u8; layout.page_size() as usize],
            encoded: Vec::new(),
            layout,
            schema,
            packet: None,
            seq: 0,
            discarded: 0,
            last_ts: 0,
            events: 0,
            bad_records: 0,
            pages: 0,
            bytes: 0,
            write_error: false,
        })
    }

    /// Reads every page available now (at most `max_pages`) and writes the packets they
    /// fill; `paths` is the session's path-probe state. Returns how many pages were read.
    pub fn drain(&mut self, max_pages: usize, paths: &mut PathHints) -> usize {
        let mut n = 0;
        while n < max_pages {
            match self.pipe.read(&mut self.page) {
                Ok(0) => break,
                Ok(len) => {
                    n += 1;
                    self.pages += 1;
                    let page = std::mem::take(&mut self.page);
                    self.page_in(&page[..len], paths);
                    self.page = page;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break, // EAGAIN: empty for now.
            }
        }
        n
    }

    /// Decodes one page into the packet in progress: no allocation per record (each
    /// is encoded into a reused buffer, then copied into the packet).
    fn page_in(&mut self, page: &[u8], paths: &mut PathHints) {
        let records = match PageRecords::new(page, &self.layout) {
            Ok(r) => r,
            Err(_) => {
                self.bad_records += 1;
                return;
            }
        };
        if let Some(m) = records.info().missed {
            // Lost before this page: close what we have, count them, go on.
            self.close_packet();
            self.discarded = self.discarded.saturating_add(match m {
                Missed::Count(c) => c,
                Missed::Unknown => 1,
            });
        }
        let schema = self.schema.clone();
        let mut encoded = std::mem::take(&mut self.encoded);
        for r in records {
            let Ok(r) = r else {
                // A malformed record ends its page (the records before it are kept).
                self.bad_records += 1;
                break;
            };
            encoded.clear();
            let id = match schema.encode(r.payload, r.ts, paths, &mut encoded) {
                Some(Encoded::Event(id)) => id,
                Some(Encoded::Absorbed) => continue,
                None => {
                    self.bad_records += 1;
                    continue;
                }
            };
            let ts = r.ts.max(self.last_ts);
            self.last_ts = ts;
            let p = self.packet.get_or_insert_with(|| PacketBuilder::new(ts));
            p.event(id, ts, &encoded);
            self.events += 1;
            if p.len() >= TARGET_PACKET {
                self.close_packet();
            }
        }
        self.encoded = encoded;
    }

    /// Appends LTTng's statedump events at `ts` (before any page is read: tracing has
    /// not started): `lttng_statedump_start` with the `first` part, one
    /// `lttng_statedump_process_state` per thread, and `lttng_statedump_end` with the
    /// `last` part, which also closes the packet.
    pub fn statedump(&mut self, ts: u64, first: bool, last: bool, processes: &[ProcessState]) {
        let ids = self.schema.statedump;
        let ts = ts.max(self.last_ts);
        self.last_ts = ts;
        let no_thread = 0i32.to_le_bytes();
        let mut buf = Vec::with_capacity(64);
        if first {
            self.packet
                .get_or_insert_with(|| PacketBuilder::new(ts))
                .event(ids.start, ts, &no_thread);
            self.events += 1;
        }
        for p in processes {
            buf.clear();
            KernelSchema::encode_process_state(p, &mut buf);
            let packet = self.packet.get_or_insert_with(|| PacketBuilder::new(ts));
            packet.event(ids.process_state, ts, &buf);
            self.events += 1;
            if packet.len() >= TARGET_PACKET {
                self.close_packet();
            }
        }
        if last {
            self.packet
                .get_or_insert_with(|| PacketBuilder::new(ts))
                .event(ids.end, ts, &no_thread);
            self.events += 1;
            self.close_packet();
        }
    }

    /// Writes the packet in progress, if it has events (or if discards must be
    /// reported).
    pub fn close_packet(&mut self) {
        let Some(p) = self.packet.take() else {
            return;
        };
        if p.is_empty() {
            return;
        }
        let bytes = p.finish(
            self.last_ts,
            self.seq,
            self.discarded,
            Identity {
                uuid: self.spec.uuid,
                cpu: self.spec.cpu,
            },
        );
        self.seq += 1;
        match self.out.write_all(&bytes) {
            Ok(()) => self.bytes += bytes.len() as u64,
            Err(e) => {
                if !std::mem::replace(&mut self.write_error, true) {
                    eprintln!(
                        "lttng-consumerd-kernel: {}",
                        StreamError::Write {
                            path: self.out_path.clone(),
                            source: e,
                        }
                    );
                }
            }
        }
    }

    /// Writes out what is left: every page still readable, then the open packet.
    pub fn flush(&mut self, paths: &mut PathHints) {
        while self.drain(1024, paths) > 0 {}
        self.close_packet();
    }

    /// The `trace_pipe_raw` descriptor (to poll: it becomes readable when the kernel
    /// buffer is half full, `buffer_percent`).
    pub fn pipe(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.pipe)
    }

    pub fn stats(&self) -> StreamStats {
        StreamStats {
            key: self.spec.key,
            discarded: self.discarded,
            lost_packets: self.bad_records,
            packets: self.seq,
            bytes: self.bytes,
        }
    }
}
