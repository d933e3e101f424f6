//! One CPU of a kernel session: reads whole ftrace pages from its `trace_pipe_raw`
//! (non-blocking), encodes their records with the session's schema, and appends CTF
//! packets to its stream file. Lost events (flagged on a page) close the packet in
//! progress and raise the stream's `events_discarded`, so readers report them between
//! the packets.
//!
//! A consumer restarted after its predecessor died finds the stream file begun: it
//! keeps the complete packets, cuts a packet left half-written, and goes on from the
//! last one's sequence number plus two, so that readers report the packet the dead
//! consumer may have been writing as discarded (what it had read from the kernel is
//! gone with it); its discard count and time carry on.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path};
use std::sync::Arc;

use ctf::kernel::{Encoded, KernelSchema, SessionState};
use proto::ftrace::PageLayout;
use proto::ring::layout;
use proto::ring::stream_file::{whole_packets, WholePackets};
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
    #[error("{0} holds packets of another trace: give the session an output of its own")]
    Foreign(String),
}

/// Where a stream file left by an earlier consumer ends cleanly (see
/// [`whole_packets`]). A file that does not start as a packet of this trace (magic,
/// uuid), even one too short to hold a header, is not ours to cut: an error.
fn resume(
    file: &File,
    file_len: u64,
    uuid: &[u8; 16],
    path: &str,
) -> Result<WholePackets, StreamError> {
    use std::os::unix::fs::FileExt;
    let mut ours = layout::CTF_MAGIC.to_le_bytes().to_vec();
    ours.extend_from_slice(uuid);
    let mut head = vec![
        0u8;
        ours.len()
            .min(usize::try_from(file_len).unwrap_or(usize::MAX))
    ];
    if file.read_exact_at(&mut head, 0).is_err() || head[..] != ours[..head.len()] {
        return Err(StreamError::Foreign(path.into()));
    }
    Ok(whole_packets(file, file_len, Some(uuid)))
}

/// Pages moved per `splice` (the default pipe holds 16).
const SPLICE_PAGES: usize = 16;

/// A CPU's stream.
pub struct KernelStream {
    pub spec: KernelStreamSpec,
    pipe: File,
    /// A pipe that whole pages are spliced into, many per call (`None`: read them one
    /// by one, as `read` hands them out).
    splice: Option<(File, OwnedFd)>,
    /// Pages just read from that pipe.
    batch: Vec<u8>,
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
            .read(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| StreamError::Create {
                path: path_s.clone(),
                source,
            })?;
        let create = |source| StreamError::Create {
            path: path_s.clone(),
            source,
        };
        let file_len = out.metadata().map_err(create)?.len();
        let mut resumed = WholePackets::default();
        if file_len > 0 {
            resumed = resume(&out, file_len, &spec.uuid, &path_s)?;
            if resumed.len < file_len {
                out.set_len(resumed.len).map_err(create)?;
            }
            eprintln!(
                "lttng-consumerd-kernel: {path_s}: resuming after {} byte(s) of complete packets{}",
                resumed.len,
                if resumed.len < file_len {
                    format!(
                        " (cut {} byte(s) of an unfinished one)",
                        file_len - resumed.len
                    )
                } else {
                    String::new()
                }
            );
        }
        let (seq, discarded, last_ts) = match resumed.last {
            Some(l) => (l.seq.saturating_add(2), l.events_discarded, l.timestamp_end),
            None if file_len > 0 => (1, 0, 0),
            None => (0, 0, 0),
        };
        let splice = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .ok()
            .map(|(r, w)| (File::from(r), w));
        Ok(KernelStream {
            spec,
            pipe: File::from(pipe),
            splice,
            batch: Vec::new(),
            out,
            out_path: path_s,
            page: vec![0u8; layout.page_size() as usize],
            encoded: Vec::new(),
            layout,
            schema,
            packet: None,
            seq,
            discarded,
            last_ts,
            events: 0,
            bad_records: 0,
            pages: 0,
            bytes: 0,
            write_error: false,
        })
    }

    /// Reads every page available now (at most `max_pages`) and writes the packets they
    /// fill; `state` is the session's shared encoder state. Returns how many pages were read.
    pub fn drain(&mut self, max_pages: usize, state: &mut SessionState) -> usize {
        let mut n = self.drain_whole_pages(max_pages, state);
        // What splice leaves: a page the kernel is still filling (read hands it out).
        while n < max_pages {
            match self.pipe.read(&mut self.page) {
                Ok(0) => break,
                Ok(len) => {
                    n += 1;
                    self.pages += 1;
                    let page = std::mem::take(&mut self.page);
                    self.page_in(&page[..len], state);
                    self.page = page;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break, // EAGAIN: empty for now.
            }
        }
        n
    }

    /// Moves the full pages available now (at most `max_pages`) through the stream's
    /// pipe, [`SPLICE_PAGES`] per call instead of one `read` each, and decodes them.
    /// A splice that fails for another reason than an empty buffer turns it off for
    /// good (pages are then read one by one). Returns how many pages it took.
    fn drain_whole_pages(&mut self, max_pages: usize, state: &mut SessionState) -> usize {
        use nix::fcntl::{splice, SpliceFFlags};
        use std::io::Read as _;
        let page = self.layout.page_size() as usize;
        let mut n = 0;
        while n < max_pages {
            let Some((from_pipe, into_pipe)) = &mut self.splice else {
                break;
            };
            let want = (max_pages - n).min(SPLICE_PAGES) * page;
            let moved = match splice(
                &self.pipe,
                None,
                &*into_pipe,
                None,
                want,
                SpliceFFlags::SPLICE_F_NONBLOCK,
            ) {
                Ok(0) | Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => break,
                Ok(len) => len,
                Err(_) => {
                    self.splice = None;
                    break;
                }
            };
            self.batch.resize(moved, 0);
            if from_pipe.read_exact(&mut self.batch).is_err() {
                // The pipe is ours and holds what was just spliced: cannot happen,
                // but never loop on it.
                self.splice = None;
                self.bad_records += 1;
                break;
            }
            let batch = std::mem::take(&mut self.batch);
            for p in batch.chunks(page) {
                n += 1;
                self.pages += 1;
                self.page_in(p, state);
            }
            self.batch = batch;
        }
        n
    }

    /// Decodes one page into the packet in progress: no allocation per record (each
    /// is encoded into a reused buffer, then copied into the packet).
    fn page_in(&mut self, page: &[u8], state: &mut SessionState) {
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
            let id = match schema.encode(r.payload, r.ts, state, &mut encoded) {
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
    pub fn statedump(
        &mut self,
        ts: u64,
        first: bool,
        last: bool,
        processes: &[ProcessState],
        state: &SessionState,
    ) {
        let ids = self.schema.statedump;
        let ts = ts.max(self.last_ts);
        self.last_ts = ts;
        let no_thread = self.schema.no_thread_context(state);
        let mut buf = Vec::with_capacity(64);
        if first {
            self.packet
                .get_or_insert_with(|| PacketBuilder::new(ts))
                .event(ids.start, ts, &no_thread);
            self.events += 1;
        }
        for p in processes {
            buf.clear();
            self.schema.encode_process_state(p, state, &mut buf);
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
    pub fn flush(&mut self, state: &mut SessionState) {
        while self.drain(1024, state) > 0 {}
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proto::ring::layout::packet;

    use super::*;

    const UUID: [u8; 16] = [5; 16];

    fn packet(seq: u64, discarded: u64, ts: u64) -> Vec<u8> {
        let mut p = PacketBuilder::new(ts);
        p.event(0, ts, &[1, 2, 3, 4]);
        p.finish(ts + 10, seq, discarded, Identity { uuid: UUID, cpu: 0 })
    }

    fn file_with(parts: &[&[u8]]) -> (tempfile_path::Tmp, File, u64) {
        let tmp = tempfile_path::Tmp::new();
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&tmp.0)
            .unwrap();
        for p in parts {
            f.write_all(p).unwrap();
        }
        let len = f.metadata().unwrap().len();
        (tmp, f, len)
    }

    /// A file path removed on drop (no extra crate for one test).
    mod tempfile_path {
        pub struct Tmp(pub std::path::PathBuf);
        impl Tmp {
            pub fn new() -> Tmp {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                Tmp(std::env::temp_dir().join(format!(
                    "ck-resume-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                )))
            }
        }
        impl Drop for Tmp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn a_begun_stream_file_resumes_after_its_last_complete_packet() {
        let (a, b) = (packet(0, 0, 100), packet(1, 7, 200));
        let half = &packet(2, 7, 300)[..1000];
        let (_t, f, len) = file_with(&[&a, &b, half]);
        let r = resume(&f, len, &UUID, "x").unwrap();
        assert_eq!(r.len, (a.len() + b.len()) as u64);
        assert_eq!(
            r.last,
            Some(proto::ring::stream_file::LastPacket {
                seq: 1,
                events_discarded: 7,
                timestamp_end: 210
            })
        );
        // Only complete packets: nothing to cut.
        let (_t, f, len) = file_with(&[&a, &b]);
        assert_eq!(resume(&f, len, &UUID, "x").unwrap().len, len);
        // A header cut short, or garbage: the packets before it are kept.
        let (_t, f, len) = file_with(&[&a, &[0xC1, 0x1F]]);
        assert_eq!(resume(&f, len, &UUID, "x").unwrap().len, a.len() as u64);
        let mut lying = packet(1, 0, 200);
        lying[packet::PACKET_SIZE..packet::PACKET_SIZE + 8]
            .copy_from_slice(&u64::MAX.to_le_bytes());
        let (_t, f, len) = file_with(&[&a, &lying]);
        assert_eq!(resume(&f, len, &UUID, "x").unwrap().len, a.len() as u64);
    }

    #[test]
    fn a_file_of_another_trace_is_not_cut() {
        let a = packet(0, 0, 100);
        let (_t, f, len) = file_with(&[&a]);
        assert!(matches!(
            resume(&f, len, &[6; 16], "x"),
            Err(StreamError::Foreign(_))
        ));
        let (_t, f, len) = file_with(&[b"not a trace at all, just some bytes of something"]);
        assert!(matches!(
            resume(&f, len, &UUID, "x"),
            Err(StreamError::Foreign(_))
        ));
    }
}
