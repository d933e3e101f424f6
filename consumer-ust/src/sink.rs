//! Where packets go: [`PacketSink`], and its one implementation, [`LocalFile`], a
//! stream file on the local disk.
//!
//! A stream file is a sequence of whole packets. Every packet is a whole number of
//! pages (`proto::ring::layout::PACKET_ALIGN`), so a file that is not a sequence of
//! whole packets was cut by a failed write or a crash: [`LocalFile::append`] cuts such
//! a tail off before appending, and a failed write is cut back to where it started.
//!
//! One vectored write per batch of packets, with direct I/O (`O_DIRECT`) where the file
//! system takes it (packets and the consumer's buffer are page-aligned): at a few GB/s
//! the page cache costs more CPU per byte than the producers can spare, and the
//! writeback it defers competes with them later anyway. Where direct I/O is refused
//! (EINVAL: tmpfs, some FUSE file systems) the file is written through the page cache.
//! `LTTNG_CONSUMER_DIRECT_IO=0` turns direct I/O off.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{IoSlice, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use proto::ring::reader::{Held, InPlace, RingReader};
use proto::ring::stream_file::{whole_packets, write_all_vectored};

/// Why packets could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    #[error("cannot create the directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the stream file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the stream file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Says that stream `key` loses packets to write errors, once per stream (`reported`
/// remembers): further losses are only counted.
pub(crate) fn report_write_error(reported: &mut bool, key: u64, e: &SinkError) {
    if !std::mem::replace(reported, true) {
        eprintln!(
            "lttng-consumerd-ust: stream {key}: {e}; its packets are dropped and counted \
             in lost_packets until writes succeed again (free some space)"
        );
    }
}

/// The destination of one stream's packets.
pub(crate) trait PacketSink {
    /// Appends `packets`, each one whole packet, in order. On failure none of them is
    /// kept: the sink still ends with its last whole packet.
    fn write_packets(&mut self, packets: &[IoSlice<'_>]) -> Result<(), SinkError>;

    /// Appends packets taken in place from `reader`'s ring, each with its checked
    /// first page (see `RingReader::take_in_place`), with the same guarantee.
    fn write_from_ring(
        &mut self,
        reader: &RingReader,
        packets: &[(&[u8], &InPlace)],
    ) -> Result<(), SinkError>;

    /// Closes the sink; everything written before is in place.
    fn close(self: Box<Self>);
}

/// A stream file, opened for appending.
#[derive(Debug)]
pub(crate) struct LocalFile {
    path: PathBuf,
    file: File,
    /// Length of the file: where the next packet starts.
    len: u64,
    /// `packet_seq_num` of the file's last packet, if it has one.
    last_seq: Option<u64>,
}

impl LocalFile {
    /// Opens `dir/name` for appending (creating `dir` and the file as needed): a
    /// restarted consumer continues the file of its predecessor, after cutting off a
    /// packet it left unfinished.
    pub(crate) fn append(dir: &Path, name: &str) -> Result<LocalFile, SinkError> {
        LocalFile::open(dir, name, false)
    }

    /// Creates `dir/name` afresh (snapshots), replacing a file of that name.
    pub(crate) fn create(dir: &Path, name: &str) -> Result<LocalFile, SinkError> {
        LocalFile::open(dir, name, true)
    }

    fn open(dir: &Path, name: &str, truncate: bool) -> Result<LocalFile, SinkError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|source| SinkError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        let path = dir.join(name);
        let open_err = |source| SinkError::Open {
            path: path.clone(),
            source,
        };
        // Readable too: the packet walk below reads the headers.
        let file = OpenOptions::new()
            .read(true)
            .append(!truncate)
            .write(truncate)
            .create(true)
            .truncate(truncate)
            .mode(0o640)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(open_err)?;
        let found = file.metadata().map_err(open_err)?.len();
        let whole = whole_packets(&file, found, None);
        let (len, last_seq) = (whole.len, whole.last.map(|l| l.seq));
        if len != found {
            eprintln!(
                "lttng-consumerd-ust: {}: cutting off {} bytes of an unfinished packet",
                path.display(),
                found - len
            );
            file.set_len(len).map_err(open_err)?;
        }
        // The walk above read unaligned headers; writes go through a second, direct
        // descriptor when the file system allows it.
        let file = match direct_io().then(|| reopen_direct(&path, len)) {
            Some(Ok(direct)) => direct,
            _ => file,
        };
        Ok(LocalFile {
            path,
            file,
            len,
            last_seq,
        })
    }

    /// `packet_seq_num` of the last whole packet in the file when it was opened.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }
}

/// Whether stream files are written with direct I/O (`LTTNG_CONSUMER_DIRECT_IO`,
/// default on).
fn direct_io() -> bool {
    std::env::var("LTTNG_CONSUMER_DIRECT_IO").map_or(true, |v| v != "0")
}

/// Opens `path` again for direct writes at offset `len` (its end).
fn reopen_direct(path: &Path, len: u64) -> std::io::Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_DIRECT)
        .open(path)?;
    f.seek(SeekFrom::Start(len))?;
    Ok(f)
}

impl LocalFile {
    /// Falls back to the page cache for this file (direct I/O refused a write).
    fn buffered(&mut self) -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&self.path)?;
        f.seek(SeekFrom::Start(self.len))?;
        self.file = f;
        Ok(())
    }
}

impl LocalFile {
    /// Appends `total` bytes of whole packets with `write`.
    fn append_with(
        &mut self,
        total: u64,
        mut write: impl FnMut(&mut File) -> std::io::Result<()>,
    ) -> Result<(), SinkError> {
        let mut result = write(&mut self.file);
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
            // A direct write this file system refuses (it wrote nothing): go on
            // through the page cache.
            let _ = self.file.set_len(self.len);
            result = self.buffered().and_then(|()| write(&mut self.file));
        }
        match result {
            Ok(()) => {
                self.len += total;
                Ok(())
            }
            Err(source) => {
                // A full disk may have taken part of the batch: cut it off, so that the
                // file stays a sequence of whole packets (appends continue at its end).
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::Start(self.len));
                Err(SinkError::Write {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }
}

impl LocalFile {
    /// Appends packets exchanged out of one ring (see `RingReader::take_exchanging`),
    /// with the same guarantee as [`PacketSink::write_packets`].
    pub(crate) fn write_held(&mut self, packets: &[&Held]) -> Result<(), SinkError> {
        let total: u64 = packets.iter().map(|p| p.len() as u64).sum();
        self.append_with(total, |f| Held::write_all(f.as_fd(), packets))
    }
}

impl PacketSink for LocalFile {
    fn write_packets(&mut self, packets: &[IoSlice<'_>]) -> Result<(), SinkError> {
        let total: u64 = packets.iter().map(|p| p.len() as u64).sum();
        self.append_with(total, |f| write_all_vectored(f, packets))
    }

    fn write_from_ring(
        &mut self,
        reader: &RingReader,
        packets: &[(&[u8], &InPlace)],
    ) -> Result<(), SinkError> {
        let total: u64 = packets.iter().map(|(_, p)| p.len() as u64).sum();
        self.append_with(total, |f| reader.write_in_place(f.as_fd(), packets))
    }

    fn close(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proto::ring::layout::{self, packet};

    use super::*;

    fn packet(pages: u64, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; (pages * 4096) as usize];
        p[..4].copy_from_slice(&layout::CTF_MAGIC.to_le_bytes());
        p[packet::PACKET_SIZE..packet::PACKET_SIZE + 8]
            .copy_from_slice(&(pages * 4096 * 8).to_le_bytes());
        p
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("consumer-ust-sink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn appending_continues_a_file_after_cutting_off_an_unfinished_packet() {
        let dir = temp_dir("append");
        let (a, b, c) = (packet(1, 1), packet(2, 2), packet(1, 3));
        let mut f = LocalFile::append(&dir.join("x/y"), "s_0").unwrap();
        f.write_packets(&[IoSlice::new(&a), IoSlice::new(&b)])
            .unwrap();
        drop(f);
        // A predecessor died in the middle of writing `c`.
        let path = dir.join("x/y/s_0");
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&c[..3000]).unwrap();
        drop(raw);

        let mut f = LocalFile::append(&dir.join("x/y"), "s_0").unwrap();
        f.write_packets(&[IoSlice::new(&c)]).unwrap();
        Box::new(f).close();
        assert!(std::fs::read(&path).unwrap() == [a, b, c].concat());

        // A snapshot file starts afresh.
        let mut f = LocalFile::create(&dir.join("x/y"), "s_0").unwrap();
        let d = packet(1, 4);
        f.write_packets(&[IoSlice::new(&d)]).unwrap();
        assert!(std::fs::read(&path).unwrap() == d);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_is_reported_and_leaves_whole_packets() {
        // /dev/full fails every write with ENOSPC, like a full disk.
        let mut f = LocalFile {
            path: "/dev/full".into(),
            file: OpenOptions::new().write(true).open("/dev/full").unwrap(),
            len: 0,
            last_seq: None,
        };
        let p = packet(1, 1);
        match f.write_packets(&[IoSlice::new(&p)]) {
            Err(SinkError::Write { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::ENOSPC))
            }
            other => panic!("expected a write error, got {other:?}"),
        }
        assert_eq!(f.len, 0);
    }
}
