//! The writer thread: writes the packets the poll loop exchanged out of the rings to
//! their stream files, so that the loop goes on taking packets (and the traced threads
//! on recording) while a write waits for the disk.
//!
//! A drained discard-mode stream whose memfd has spare sub-buffers is read by
//! exchange (`RingReader::take_exchanging`): the loop points the packet's ring slot at
//! a spare, which frees the slot for the writers at once, and queues the packet's
//! sub-buffer here. This thread owns those streams' files; it writes each stream's
//! packets in the order they were queued, coalesced into vectored direct writes of up
//! to `proto::ring::stream_file::WRITE_BYTES`, straight from the memfd. Once a write returns, its
//! sub-buffers are spares again, and if the loop found none free it is woken through
//! an eventfd ([`Writer::spares_back`]). A stalled disk then costs spares, not ring
//! space; when every spare is on its way to disk, the packets wait in the ring as
//! they would without spares.
//!
//! The thread is started before the sandbox is entered, and `policy::enter` confines
//! it with the main thread (it reaches threads already running), so the consumer's
//! seccomp policy needs no thread creation. Until then it only waits for work.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use nix::sys::eventfd::{EfdFlags, EventFd};
use proto::ring::reader::Held;
use proto::ring::stream_file::{each_write, WRITE_BYTES};

use crate::sink::{report_write_error, LocalFile};

/// Most packets gathered from the queue before writing.
const GATHER_PACKETS: usize = 64;

/// A stream's counters, kept by the writer thread, read by `Stats`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) packets: AtomicU64,
    pub(crate) bytes: AtomicU64,
    /// Packets lost to write errors.
    pub(crate) unwritten: AtomicU64,
}

enum Job {
    /// The stream's file: its packets are written here from now on.
    Open {
        key: u64,
        file: LocalFile,
        counters: Arc<Counters>,
    },
    Write {
        key: u64,
        packets: Vec<Held>,
    },
    /// Write what is queued for the stream, then close its file.
    Close {
        key: u64,
    },
    /// Acknowledge once everything queued before is written.
    Sync(mpsc::Sender<()>),
}

/// What the loop and the thread share.
#[derive(Debug)]
struct Shared {
    /// Signalled when sub-buffers became spares while the loop waited for one.
    spares_back: OwnedFd,
    starved: AtomicBool,
}

/// The handle on the writer thread.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Writer {
    /// Creates the wakeup eventfd and starts the thread (before the sandbox).
    pub(crate) fn start() -> std::io::Result<Writer> {
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(std::io::Error::from)?;
        let shared = Arc::new(Shared {
            spares_back: efd.into(),
            starved: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("writer".into())
            .stack_size(256 << 10)
            .spawn(move || run(rx, &for_thread))?;
        Ok(Writer {
            jobs: Some(tx),
            thread: Some(thread),
            shared,
        })
    }

    /// The eventfd the loop polls for spares coming back (kept open by the sandbox).
    pub(crate) fn spares_back(&self) -> BorrowedFd<'_> {
        self.shared.spares_back.as_fd()
    }

    /// Its descriptor number, for the sandbox's list of descriptors to keep.
    pub(crate) fn raw_fds(&self) -> [RawFd; 1] {
        [self.shared.spares_back.as_raw_fd()]
    }

    /// Resets the eventfd after it woke the loop.
    pub(crate) fn clear_spares_back(&self) {
        let mut count = [0u8; 8];
        let _ = nix::unistd::read(self.shared.spares_back.as_raw_fd(), &mut count);
    }

    /// The loop found no spare: wake it when some come back. (Look again after
    /// calling this: a spare freed just before would wake nobody.)
    pub(crate) fn mark_starved(&self) {
        self.shared.starved.store(true, Ordering::SeqCst);
    }

    fn send(&self, job: Job) -> Result<(), Job> {
        match &self.jobs {
            Some(tx) => tx.send(job).map_err(|mpsc::SendError(j)| j),
            None => Err(job),
        }
    }

    /// Hands the stream's file to the thread.
    pub(crate) fn open(&self, key: u64, file: LocalFile, counters: Arc<Counters>) {
        let _ = self.send(Job::Open {
            key,
            file,
            counters,
        });
    }

    /// Queues packets of a stream opened with [`Self::open`]; returns false (and
    /// drops them, which frees their sub-buffers) if the thread is gone.
    pub(crate) fn write(&self, key: u64, packets: Vec<Held>) -> bool {
        packets.is_empty() || self.send(Job::Write { key, packets }).is_ok()
    }

    /// Writes what is queued for the stream, then closes its file.
    pub(crate) fn close(&self, key: u64) {
        let _ = self.send(Job::Close { key });
    }

    /// Waits until everything queued so far is written (or lost to a write error,
    /// counted).
    pub(crate) fn sync(&self) {
        let (ack, done) = mpsc::channel();
        if self.send(Job::Sync(ack)).is_ok() {
            let _ = done.recv();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written what it holds.
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One stream as the thread knows it.
struct Output {
    file: LocalFile,
    counters: Arc<Counters>,
    error_reported: bool,
}

fn run(jobs: mpsc::Receiver<Job>, shared: &Shared) {
    let mut files: HashMap<u64, Output> = HashMap::new();
    let mut queued: Vec<(u64, Held)> = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write { key, packets } => {
                    queued.extend(packets.into_iter().map(|p| (key, p)));
                    if queued.len() < GATHER_PACKETS {
                        next = jobs.try_recv().ok();
                    }
                }
                Job::Open {
                    key,
                    file,
                    counters,
                } => {
                    write_queued(&mut files, &mut queued, shared);
                    let out = Output {
                        file,
                        counters,
                        error_reported: false,
                    };
                    files.insert(key, out);
                }
                Job::Close { key } => {
                    write_queued(&mut files, &mut queued, shared);
                    files.remove(&key);
                }
                Job::Sync(ack) => {
                    write_queued(&mut files, &mut queued, shared);
                    let _ = ack.send(());
                }
            }
        }
        write_queued(&mut files, &mut queued, shared);
    }
    write_queued(&mut files, &mut queued, shared);
}

/// Writes the queued packets, each stream's in order, in writes of at most
/// [`WRITE_BYTES`], and frees each write's sub-buffers as soon as it returns.
fn write_queued(files: &mut HashMap<u64, Output>, queued: &mut Vec<(u64, Held)>, shared: &Shared) {
    each_write(
        queued,
        WRITE_BYTES,
        Held::len,
        |_, _| true,
        |key, write| {
            if let Some(out) = files.get_mut(&key) {
                write_to(key, out, &write);
            }
            drop(write); // the sub-buffers are spares again
            if shared.starved.swap(false, Ordering::SeqCst) {
                proto::ring::shm::wake_eventfd(shared.spares_back.as_fd());
            }
        },
    );
}

fn write_to(key: u64, out: &mut Output, packets: &[Held]) {
    let refs: Vec<&Held> = packets.iter().collect();
    let count = packets.len() as u64;
    let bytes: usize = packets.iter().map(Held::len).sum();
    match out.file.write_held(&refs) {
        Ok(()) => {
            out.counters.packets.fetch_add(count, Ordering::Relaxed);
            out.counters
                .bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
        Err(e) => {
            out.counters.unwritten.fetch_add(count, Ordering::Relaxed);
            report_write_error(&mut out.error_reported, key, &e);
        }
    }
}
