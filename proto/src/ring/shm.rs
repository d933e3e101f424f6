//! Shared memory: sealed memfds, their mapping, and raw access to mapped bytes.
//!
//! # Safety
//!
//! This is the only module of `proto` with `unsafe` code. Its contract:
//!
//! - A [`Mapping`] owns a `MAP_SHARED` read-write mapping of exactly `len` bytes of a
//!   memfd that is sealed against shrinking (checked when the mapping is made), so every
//!   address in `[ptr, ptr + len)` stays valid until the mapping is dropped: no SIGBUS.
//! - Another process may write any byte of the mapping at any time. Nothing here
//!   creates a Rust reference to non-atomic shared bytes: counters are accessed through
//!   `&AtomicU64` (any bit pattern is a valid `u64`), bulk data is copied with
//!   `libc::memcpy`, whose result the caller treats as arbitrary bytes, or handed to
//!   the kernel by address (`writev`) to be written to a file as it is.
//! - Every offset is bounds- and alignment-checked before it is turned into a pointer;
//!   a bad offset is a programming error and panics, it is never taken from shared memory
//!   unchecked.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use memfd::{FileSeal, MemfdOptions};

/// Most chunks one `writev` of [`Mapping::write_all_chunks_to`] passes to the kernel
/// (below `IOV_MAX`).
const MAX_IOV: usize = 512;

/// Part of what [`Mapping::write_all_chunks_to`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes of this process.
    Private(&'a [u8]),
    /// A byte range of the mapping.
    Shared(std::ops::Range<usize>),
}

impl Chunk<'_> {
    fn len(&self) -> usize {
        match self {
            Chunk::Private(b) => b.len(),
            Chunk::Shared(r) => r.end - r.start,
        }
    }

    /// Drops the first `n` bytes (at most the chunk's length).
    fn advance(&mut self, n: usize) {
        match self {
            Chunk::Private(b) => *b = &b[n..],
            Chunk::Shared(r) => r.start += n,
        }
    }
}

/// The seals a ring-buffer memfd must carry, no more and no less.
pub const REQUIRED_SEALS: [FileSeal; 3] =
    [FileSeal::SealShrink, FileSeal::SealGrow, FileSeal::SealSeal];

/// Why shared memory could not be created, checked or mapped.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    #[error("cannot create a memfd for the ring buffer: {0}")]
    Create(#[source] std::io::Error),
    #[error("cannot size or seal the ring-buffer memfd: {0}")]
    Seal(#[source] std::io::Error),
    #[error("the buffer fd is not a sealable memfd: {0}")]
    NotMemfd(#[source] std::io::Error),
    #[error("the buffer memfd carries seals {found:?}; expected exactly shrink, grow and seal")]
    WrongSeals { found: Vec<String> },
    #[error("the buffer memfd is {found} bytes; expected {expected}")]
    WrongSize { found: u64, expected: u64 },
    #[error("cannot map the ring buffer: {0}")]
    Map(#[source] std::io::Error),
}

/// Creates a memfd of `size` bytes sealed with exactly [`REQUIRED_SEALS`].
pub fn create_sealed_memfd(name: &CStr, size: usize) -> Result<OwnedFd, ShmError> {
    let name = name
        .to_str()
        .map_err(|e| ShmError::Create(std::io::Error::other(e)))?;
    let mfd = MemfdOptions::default()
        .close_on_exec(true)
        .allow_sealing(true)
        .create(name)
        .map_err(|e| ShmError::Create(std::io::Error::other(e)))?;
    mfd.as_file().set_len(size as u64).map_err(ShmError::Seal)?;
    mfd.add_seals(&REQUIRED_SEALS)
        .map_err(|e| ShmError::Seal(std::io::Error::other(e)))?;
    Ok(OwnedFd::from(mfd.into_file()))
}

/// Checks that `fd` is a memfd with exactly the required seals and `expected` bytes.
pub fn check_sealed_memfd(fd: BorrowedFd<'_>, expected: u64) -> Result<(), ShmError> {
    let file = File::from(fd.try_clone_to_owned().map_err(ShmError::NotMemfd)?);
    let mfd = memfd::Memfd::try_from_file(file)
        .map_err(|_| ShmError::NotMemfd(std::io::Error::other("not a memfd")))?;
    let seals = mfd
        .seals()
        .map_err(|e| ShmError::NotMemfd(std::io::Error::other(e)))?;
    let required: std::collections::HashSet<FileSeal> = REQUIRED_SEALS.into_iter().collect();
    if seals != required {
        let mut found: Vec<String> = seals.iter().map(|s| format!("{s:?}")).collect();
        found.sort();
        return Err(ShmError::WrongSeals { found });
    }
    let len = mfd.as_file().metadata().map_err(ShmError::NotMemfd)?.len();
    if len != expected {
        return Err(ShmError::WrongSize {
            found: len,
            expected,
        });
    }
    Ok(())
}

/// A read-write shared mapping of a whole sealed memfd.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all access goes through atomics or
// memcpy, which are valid from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above: no method hands out a non-atomic reference into the mapping.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `fd` after checking that it is a memfd sealed as required and `len` bytes.
    pub fn map(fd: BorrowedFd<'_>, len: usize) -> Result<Mapping, ShmError> {
        check_sealed_memfd(fd, len as u64)?;
        // SAFETY: a fresh mapping chosen by the kernel (addr = null) overlaps nothing of
        // ours; the fd is valid for the duration of the call; the size was just checked
        // and the memfd cannot shrink (sealed), so the whole range stays backed.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(ShmError::Map(std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| ShmError::Map(std::io::Error::other("mmap returned null")))?;
        Ok(Mapping { ptr, len })
    }

    /// Maps a memfd this process owns.
    pub fn map_owned(fd: &OwnedFd, len: usize) -> Result<Mapping, ShmError> {
        Mapping::map(fd.as_fd(), len)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a mapping is never empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The atomic u64 at byte `offset` (8-aligned, in bounds).
    #[inline(always)]
    pub fn atomic(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= self.len,
            "bad atomic offset {offset}"
        );
        // SAFETY: in bounds and 8-aligned (mmap returns page-aligned memory), valid for
        // the lifetime of `self`; AtomicU64 accepts any bit pattern and concurrent
        // access from other processes is atomic access to the same location.
        unsafe { &*self.ptr.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    /// The atomic u32 at byte `offset` (4-aligned, in bounds).
    #[inline(always)]
    pub fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset.is_multiple_of(4) && offset + 4 <= self.len,
            "bad atomic offset {offset}"
        );
        // SAFETY: in bounds and 4-aligned (mmap returns page-aligned memory), valid for
        // the lifetime of `self`; AtomicU32 accepts any bit pattern and concurrent
        // access from other processes is atomic access to the same location.
        unsafe { &*self.ptr.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// Compares the 16 bytes at `offset` (16-aligned) with `current` and, if equal,
    /// replaces them with `new`, atomically. Returns the value found. Pairs are
    /// `(low u64, high u64)` as stored little-endian.
    #[cfg(all(target_arch = "x86_64", target_feature = "cmpxchg16b"))]
    #[inline(always)]
    pub fn cas_pair(&self, offset: usize, current: (u64, u64), new: (u64, u64)) -> (u64, u64) {
        assert!(
            offset.is_multiple_of(16) && offset + 16 <= self.len,
            "bad pair offset {offset}"
        );
        let pack = |(lo, hi): (u64, u64)| u128::from(lo) | (u128::from(hi) << 64);
        // SAFETY: in bounds and 16-aligned (checked; the mapping is page-aligned); the
        // location is only ever accessed atomically (this CAS, or 8-byte atomics on its
        // halves, which x86-64 keeps atomic with respect to it); the target feature is
        // enabled at compile time (cfg above).
        let found = unsafe {
            std::arch::x86_64::cmpxchg16b(
                self.ptr.as_ptr().add(offset).cast::<u128>(),
                pack(current),
                pack(new),
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
            )
        };
        (found as u64, (found >> 64) as u64)
    }

    /// Copies `dst.len()` bytes starting at `offset` out of shared memory.
    pub fn read_bytes(&self, offset: usize, dst: &mut [u8]) {
        assert!(offset.checked_add(dst.len()).is_some_and(|e| e <= self.len));
        // SAFETY: source range checked above; `dst` is exclusively ours. memcpy is an
        // opaque call: a concurrent writer can only make the copied bytes arbitrary,
        // which every caller is prepared for.
        unsafe {
            libc::memcpy(
                dst.as_mut_ptr().cast(),
                self.ptr.as_ptr().add(offset).cast(),
                dst.len(),
            );
        }
    }

    /// Copies `src` into shared memory at `offset`.
    pub fn write_bytes(&self, offset: usize, src: &[u8]) {
        assert!(offset.checked_add(src.len()).is_some_and(|e| e <= self.len));
        // SAFETY: destination range checked above and inside our mapping.
        unsafe {
            libc::memcpy(
                self.ptr.as_ptr().add(offset).cast(),
                src.as_ptr().cast(),
                src.len(),
            );
        }
    }

    /// Writes all of `chunks` to `fd`, however the kernel splits the write.
    pub fn write_all_chunks_to(
        &self,
        fd: BorrowedFd<'_>,
        mut chunks: Vec<Chunk<'_>>,
    ) -> std::io::Result<()> {
        let mut rest = &mut chunks[..];
        while !rest.is_empty() {
            let mut n = match self.write_chunks_to(fd, rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            while let Some(first) = rest.first_mut() {
                let len = first.len();
                if n < len {
                    first.advance(n);
                    break;
                }
                n -= len;
                rest = &mut rest[1..];
            }
        }
        Ok(())
    }

    /// Writes `chunks` to `fd` with one `writev`: private bytes, and ranges of the
    /// mapping straight from shared memory (no copy in this process, none at all with
    /// direct I/O). Returns how many bytes the kernel took (maybe fewer than asked;
    /// the caller continues).
    ///
    /// A shared range is written as it is while the kernel reads it; callers use it
    /// for sub-buffers that no writer touches until they are released.
    fn write_chunks_to(&self, fd: BorrowedFd<'_>, chunks: &[Chunk<'_>]) -> std::io::Result<usize> {
        let iov: Vec<libc::iovec> = chunks
            .iter()
            .take(MAX_IOV)
            .map(|c| match c {
                Chunk::Private(b) => libc::iovec {
                    iov_base: b.as_ptr().cast_mut().cast(),
                    iov_len: b.len(),
                },
                Chunk::Shared(r) => {
                    assert!(r.start <= r.end && r.end <= self.len);
                    libc::iovec {
                        // SAFETY: in bounds, checked above.
                        iov_base: unsafe { self.ptr.as_ptr().add(r.start) }.cast(),
                        iov_len: r.end - r.start,
                    }
                }
            })
            .collect();
        // SAFETY: every iovec points into a live borrowed slice or inside our mapping,
        // which stays mapped for the call (`self` is borrowed); the kernel only reads
        // them, and no Rust reference to the shared bytes exists.
        let n = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Sets `len` bytes at `offset` to zero.
    pub fn zero(&self, offset: usize, len: usize) {
        assert!(offset.checked_add(len).is_some_and(|e| e <= self.len));
        // SAFETY: destination range checked above and inside our mapping.
        unsafe {
            libc::memset(self.ptr.as_ptr().add(offset).cast(), 0, len);
        }
    }

    /// A cursor for writing one reserved record of `len` bytes at `offset`.
    ///
    /// The caller must hold the reservation for `[offset, offset + len)`: no other
    /// writer of this process touches those bytes until the record is committed.
    #[inline(always)]
    pub fn record(&self, offset: usize, len: usize) -> RecordWriter<'_> {
        assert!(offset.checked_add(len).is_some_and(|e| e <= self.len));
        RecordWriter {
            // SAFETY: in bounds, checked above.
            ptr: unsafe { self.ptr.as_ptr().add(offset) },
            remaining: len,
            _map: std::marker::PhantomData,
        }
    }
}

impl Mapping {
    /// Replaces the shared pages with private zero pages at the same address, so that
    /// the memfd's memory is freed once its other holders close it, while a writer
    /// still inside an event (it loaded the mapping before it was unbound) writes
    /// harmlessly into memory nobody reads. The address range stays valid.
    pub fn retire(&self) -> Result<(), ShmError> {
        // SAFETY: MAP_FIXED over exactly the range this Mapping owns replaces it in one
        // step; every access goes through raw pointers into that range, which stays
        // mapped (readable and writable), so no reference is invalidated.
        let p = unsafe {
            libc::mmap(
                self.ptr.as_ptr().cast(),
                self.len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(ShmError::Map(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; no reference into the mapping
        // outlives `self` (accessors borrow `self`).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Adds 1 to the eventfd `fd` without blocking; a full or broken eventfd is ignored
/// (the consumer also polls on a timer, so a lost wakeup only delays it).
pub fn wake_eventfd(fd: BorrowedFd<'_>) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live local to a borrowed, open fd.
    unsafe {
        libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8);
    }
}

/// `CLOCK_MONOTONIC_COARSE` in milliseconds (cheap; for ageing waiter claims).
pub fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts);
    }
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

/// The calling thread's id.
pub fn thread_id() -> u64 {
    // SAFETY: gettid has no preconditions.
    u64::from(unsafe { libc::gettid() } as u32)
}

/// Writes the bytes of one reserved record, front to back, never past its end.
pub struct RecordWriter<'a> {
    ptr: *mut u8,
    remaining: usize,
    _map: std::marker::PhantomData<&'a Mapping>,
}

impl RecordWriter<'_> {
    /// Appends `bytes`; panics if the record would overflow its reservation (a size
    /// computation bug in the caller, never a function of shared-memory contents).
    ///
    /// 8 to 16 bytes of a length known only at run time (a short string) are copied
    /// inline as two overlapping 8-byte words rather than by a call to `memcpy`.
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        assert!(n <= self.remaining, "record overflow");
        let (src, dst) = (bytes.as_ptr(), self.ptr);
        if (8..=16).contains(&n) {
            // SAFETY: both words lie inside `bytes` (8 <= n) and inside the reservation
            // (`dst..dst+n`, n <= remaining, Mapping::record contract); unaligned
            // accesses are allowed by read/write_unaligned.
            unsafe {
                let head = src.cast::<u64>().read_unaligned();
                let tail = src.add(n - 8).cast::<u64>().read_unaligned();
                dst.cast::<u64>().write_unaligned(head);
                dst.add(n - 8).cast::<u64>().write_unaligned(tail);
            }
        } else {
            // SAFETY: `dst..dst+remaining` is inside the mapping and reserved for us
            // (Mapping::record contract); n <= remaining was checked.
            unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
        }
        // SAFETY: n <= remaining, so the result stays inside the reservation (or one
        // past its end).
        self.ptr = unsafe { dst.add(n) };
        self.remaining -= n;
    }

    /// Appends one byte.
    #[inline(always)]
    pub fn put_u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    /// Appends a little-endian u16.
    #[inline(always)]
    pub fn put_u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    /// Appends a little-endian u32.
    #[inline(always)]
    pub fn put_u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    /// Appends a little-endian u64.
    #[inline(always)]
    pub fn put_u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    /// Bytes left in the reservation.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The rest of the reservation as a raw pointer and its length, for code outside
    /// Rust (the C interface) that writes it. Writing more than the length, or
    /// after the record is committed, is the caller's bug.
    pub fn into_raw(self) -> (*mut u8, usize) {
        (self.ptr, self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_holds_exactly_the_bytes_put_of_every_length() {
        let fd = create_sealed_memfd(c"t", 8192).unwrap();
        let m = Mapping::map_owned(&fd, 8192).unwrap();
        let src: Vec<u8> = (1..=40).collect();
        for n in 0..=20 {
            // A marker byte each side, at an odd offset: the copy is exact and unaligned.
            let at = 101;
            let mut w = m.record(at - 1, n + 2);
            w.put_u8(0xEE);
            w.put(&src[3..3 + n]);
            w.put_u8(0xEE);
            assert_eq!(w.remaining(), 0);
            let mut back = vec![0; n + 2];
            m.read_bytes(at - 1, &mut back);
            assert_eq!(back[0], 0xEE);
            assert_eq!(&back[1..=n], &src[3..3 + n], "{n} bytes");
            assert_eq!(back[n + 1], 0xEE);
        }
    }

    #[test]
    fn created_memfd_passes_the_check_and_maps() {
        let fd = create_sealed_memfd(c"t", 8192).unwrap();
        check_sealed_memfd(fd.as_fd(), 8192).unwrap();
        let m = Mapping::map_owned(&fd, 8192).unwrap();
        m.atomic(64).store(7, std::sync::atomic::Ordering::Relaxed);
        let mut b = [0u8; 8];
        m.read_bytes(64, &mut b);
        assert_eq!(u64::from_le_bytes(b), 7);
    }

    #[test]
    fn unsealed_or_wrongly_sized_memfds_are_refused() {
        let mfd = MemfdOptions::default()
            .allow_sealing(true)
            .create("u")
            .unwrap();
        mfd.as_file().set_len(8192).unwrap();
        let fd = OwnedFd::from(mfd.into_file());
        assert!(matches!(
            check_sealed_memfd(fd.as_fd(), 8192),
            Err(ShmError::WrongSeals { .. })
        ));
        assert!(Mapping::map(fd.as_fd(), 8192).is_err());

        let sealed = create_sealed_memfd(c"s", 8192).unwrap();
        assert!(matches!(
            check_sealed_memfd(sealed.as_fd(), 4096),
            Err(ShmError::WrongSize {
                found: 8192,
                expected: 4096
            })
        ));

        let file = tempfile_in_tmp();
        assert!(matches!(
            check_sealed_memfd(file.as_fd(), 0),
            Err(ShmError::NotMemfd(_))
        ));
    }

    #[test]
    fn a_sealed_memfd_cannot_be_truncated() {
        let fd = create_sealed_memfd(c"t", 8192).unwrap();
        let f = File::from(fd);
        let err = f.set_len(4096).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    }

    fn tempfile_in_tmp() -> File {
        let p = std::env::temp_dir().join(format!("proto-shm-test-{}", std::process::id()));
        let f = File::create(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        f
    }
}
