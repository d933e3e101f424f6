//! The path every enabled event takes: pick the CPU's buffer in each channel the
//! tracepoint is bound to, record the event there.
//!
//! A tracepoint carries a *binding list*: the channels its events go to, each with the
//! event id that channel's metadata gives it (one channel per tracing session; several
//! sessions may record one event at once). Once a tracepoint's flag is set, [`record`]
//! loads the list (one acquire load), reads the CPU number once (the `cpu_id` of the
//! thread's rseq area, read in place; `sched_getcpu` where there is none), and hands
//! the event to each channel's ring buffer
//! writer, which reads the clock, reserves with one CAS, writes the header, the
//! contexts and the payload in place, and commits with one atomic add. No lock, no
//! allocation, no syscall (except the consumer wakeup when a sub-buffer completes).
//!
//! ## Replacing a binding list
//!
//! Lists are installed by one thread at a time (standalone start-up, the daemon
//! listener thread, or the single thread of a freshly forked child) with
//! [`bind`] / [`unbind_all`]: the new list is published with a release swap and the
//! flag is set after it (or cleared before the list is removed). A writer may still
//! be walking the old list, and nothing tells us when it is done, so old lists are
//! never freed: each change leaks the replaced lists (16 bytes per binding plus a
//! 16-byte header per tracepoint whose list actually changed; an identical list is
//! not replaced). Channels are leaked the same way: a writer that loaded a list may
//! still write into any channel it names.
//!
//! # Safety
//!
//! The `unsafe` blocks here call `sched_getcpu`, `gettid` and `prctl(PR_GET_NAME)`,
//! which have no memory-safety preconditions beyond a valid 16-byte buffer for the
//! name; dereference binding-list pointers, which are either null or come from
//! `Box::into_raw` and are never freed nor mutated after publication; and read glibc's
//! rseq variables and each thread's rseq area (see [`rseq`]).
#![allow(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use ctf::metadata::{Contexts, PROCNAME_LEN};
use proto::ring::shm::RecordWriter;
use proto::ring::writer::RingWriter;

use crate::clock;
use crate::tracepoint::{self, Tracepoint};

/// A channel's per-CPU writers and the contexts its events carry.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) writers: Box<[RingWriter]>,
    pub(crate) contexts: Contexts,
}

/// One channel a tracepoint's events go to, and their id there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound {
    pub(crate) channel: &'static Channel,
    pub(crate) event_id: u32,
}

impl PartialEq for Bound {
    fn eq(&self, other: &Bound) -> bool {
        std::ptr::eq(self.channel, other.channel) && self.event_id == other.event_id
    }
}

/// A tracepoint's binding list, published through `Tracepoint::bindings`: never
/// empty. One allocation of its own cache line holds the first binding, so that the
/// usual single-channel event reads one line no other thread writes (a list sharing a
/// line with, say, the consumer's counters costs a cache miss per event).
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct Bindings {
    first: Bound,
    rest: Box<[Bound]>,
}

impl Bindings {
    fn to_vec(&self) -> Vec<Bound> {
        let mut v = Vec::with_capacity(1 + self.rest.len());
        v.push(self.first);
        v.extend_from_slice(&self.rest);
        v
    }
}

static VPID: AtomicI32 = AtomicI32::new(0);

/// Set in a forked child (daemon mode) until its first event starts a new listener.
static RESTART_AFTER_FORK: AtomicBool = AtomicBool::new(false);

/// Records the process id for the `vpid` context and arranges for it (and for the
/// daemon connection) to be renewed in children of `fork`. Called once, before any
/// tracepoint is enabled.
pub(crate) fn init_process() {
    rseq::init();
    VPID.store(std::process::id() as i32, Ordering::Relaxed);
    crate::sys::at_fork_child(after_fork_in_child);
}

/// Leaks a channel: writers that loaded a binding list naming it may write into it at
/// any later time, so it lives until the process exits.
pub(crate) fn leak_channel(ch: Channel) -> &'static Channel {
    Box::leak(Box::new(ch))
}

/// Makes `tp` record into exactly the channels of `list` (duplicates removed); an
/// empty list disables it. Returns whether anything changed. One installer at a time
/// (see the module docs).
pub(crate) fn bind(tp: &Tracepoint, mut list: Vec<Bound>) -> bool {
    let mut unique: Vec<Bound> = Vec::with_capacity(list.len());
    for b in list.drain(..) {
        if !unique.contains(&b) {
            unique.push(b);
        }
    }
    if unique.is_empty() {
        let was = tp.set_enabled(false, Ordering::Relaxed);
        let old = tp.bindings.swap(std::ptr::null_mut(), Ordering::AcqRel);
        return was || !old.is_null();
    }
    if bound(tp) == unique && tp.is_enabled() {
        return false;
    }
    let first = unique.remove(0);
    let new = Box::into_raw(Box::new(Bindings {
        first,
        rest: unique.into_boxed_slice(),
    }));
    // The old list is leaked on purpose: a writer may still be reading it.
    tp.bindings.swap(new, Ordering::AcqRel);
    tp.set_enabled(true, Ordering::Release);
    true
}

/// Disables every tracepoint: flags cleared, binding lists removed (leaked). Only
/// atomic loads and stores: safe in a `fork` child handler.
pub(crate) fn unbind_all() {
    tracepoint::for_each(|tp| {
        tp.set_enabled(false, Ordering::Relaxed);
        tp.bindings.store(std::ptr::null_mut(), Ordering::Release);
    });
}

/// The channels `tp` records into now, with their event ids (for tests and checks).
pub(crate) fn bound(tp: &Tracepoint) -> Vec<Bound> {
    let p = tp.bindings.load(Ordering::Acquire);
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: non-null list pointers come from Box::into_raw in `bind` and are never
    // freed nor mutated.
    unsafe { &*p }.to_vec()
}

/// Records one event of `tp`, whose payload is `payload_len` bytes written by `write`
/// (once per bound channel).
#[inline(always)]
pub fn record(tp: &Tracepoint, payload_len: usize, write: impl Fn(&mut RecordWriter<'_>)) {
    let p = tp.bindings.load(Ordering::Acquire);
    if p.is_null() {
        no_bindings();
        return;
    }
    // SAFETY: non-null pointers in `Tracepoint::bindings` come from Box::into_raw in
    // `bind` and are never freed nor mutated.
    let list = unsafe { &*p };
    let cpu = current_cpu();
    // One call site for every channel: with two (first channel, further channels) the
    // compiler calls the event's body out of line (+5 ns per event on the benchmark).
    for b in std::iter::once(&list.first).chain(list.rest.iter()) {
        record_one(b, cpu, payload_len, &write);
    }
}

#[inline(always)]
fn record_one(b: &Bound, cpu: usize, payload_len: usize, write: &impl Fn(&mut RecordWriter<'_>)) {
    let ch = b.channel;
    // One buffer per possible CPU, so the index is in range; the fallback avoids a
    // division on the fast path.
    let w = match ch.writers.get(cpu) {
        Some(w) => w,
        None => &ch.writers[cpu % ch.writers.len()],
    };
    let ctx = ch.contexts;
    let len = ctx.record_size() + payload_len;
    let now = if proto::ring::writer::NEEDS_ORDERED_CLOCK {
        clock::now
    } else {
        clock::now_unordered
    };
    w.record(b.event_id, len, now, |r| {
        if !ctx.is_empty() {
            write_contexts(ctx, r);
        }
        write(r);
    });
}

/// An event being recorded by code outside Rust (the C interface), one bound channel
/// after another: [`begin_slot`] reserves the record in the first channel that has
/// room and gives the place of its payload; once the caller wrote `payload_len` bytes
/// there, [`next_slot`] commits it and reserves the same record in the next channel.
#[derive(Debug)]
#[repr(C)]
pub struct Slot {
    /// Where the payload goes: `payload_len` bytes to write.
    pub dst: *mut u8,
    /// The record to commit.
    pending: Option<(&'static RingWriter, proto::ring::writer::PendingCommit)>,
    /// The channels still to try after this one: empty in the common case of one.
    rest: &'static [Bound],
    cpu: usize,
    payload_len: usize,
}

impl Slot {
    /// An empty slot, to be filled by [`begin_slot`].
    pub const fn new() -> Slot {
        Slot {
            dst: std::ptr::null_mut(),
            pending: None,
            rest: &[],
            cpu: 0,
            payload_len: 0,
        }
    }
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

/// Starts recording one event of `tp` with a payload of `payload_len` bytes: true if
/// a record is reserved (write the payload at `slot.dst`, then call [`next_slot`]).
#[inline(always)]
pub fn begin_slot(tp: &Tracepoint, payload_len: usize, slot: &mut Slot) -> bool {
    let p = tp.bindings.load(Ordering::Acquire);
    if p.is_null() {
        no_bindings();
        return false;
    }
    // SAFETY: lists come from Box::into_raw in `bind` and are never freed nor mutated.
    let list: &'static Bindings = unsafe { &*p };
    slot.cpu = current_cpu();
    slot.payload_len = payload_len;
    slot.rest = &list.rest;
    reserve_in(slot, &list.first) || reserve_rest(slot)
}

/// Commits the record reserved in `slot` and reserves the same event in the next
/// bound channel: true if there is one with room (write the payload again).
#[inline(always)]
pub fn next_slot(slot: &mut Slot) -> bool {
    if let Some((w, pending)) = slot.pending.take() {
        w.end_record(pending);
    }
    !slot.rest.is_empty() && reserve_rest(slot)
}

/// Reserves the record in the first of `slot.rest` that has room, and takes the
/// channels tried off the list.
#[inline(never)]
fn reserve_rest(slot: &mut Slot) -> bool {
    while let Some((b, rest)) = slot.rest.split_first() {
        slot.rest = rest;
        if reserve_in(slot, b) {
            return true;
        }
    }
    false
}

#[inline(always)]
fn reserve_in(slot: &mut Slot, b: &Bound) -> bool {
    let ch = b.channel;
    let w = match ch.writers.get(slot.cpu) {
        Some(w) => w,
        None => &ch.writers[slot.cpu % ch.writers.len()],
    };
    let ctx = ch.contexts;
    let len = ctx.record_size() + slot.payload_len;
    let now = if proto::ring::writer::NEEDS_ORDERED_CLOCK {
        clock::now
    } else {
        clock::now_unordered
    };
    match w.begin_record(b.event_id, len, now) {
        Some((mut r, pending)) => {
            if !ctx.is_empty() {
                write_contexts(ctx, &mut r);
            }
            slot.dst = r.into_raw().0;
            slot.pending = Some((w, pending));
            true
        }
        None => false,
    }
}

/// An enabled tracepoint without a list: it was just disabled (a harmless race), or
/// this is the first event of a forked child in daemon mode, which starts the child's
/// own listener thread here rather than in the `fork` handler (see `crate::daemon`).
#[cold]
#[inline(never)]
fn no_bindings() {
    if RESTART_AFTER_FORK.load(Ordering::Relaxed)
        && RESTART_AFTER_FORK
            .compare_exchange(true, false, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        unbind_all();
        crate::daemon::start_after_fork();
    }
}

/// In a child of `fork`: the process id changed, and so did the id of the only thread.
/// In daemon mode the child is a new application: it must not write into its parent's
/// channels, and its parent's connection and listener thread are not its own. Only
/// async-signal-safe work here (atomic stores, `close`): every tracepoint loses its
/// list, and is left *enabled* so that the child's first event reaches
/// [`no_bindings`], which disables them all and starts the child's listener.
fn after_fork_in_child() {
    VPID.store(std::process::id() as i32, Ordering::Relaxed);
    VTID.with(|c| c.set(0));
    if crate::daemon::forget_connection_after_fork() {
        RESTART_AFTER_FORK.store(true, Ordering::Relaxed);
        tracepoint::for_each(|tp| {
            tp.bindings.store(std::ptr::null_mut(), Ordering::Release);
            tp.set_enabled(true, Ordering::Relaxed);
        });
    }
}

#[inline(always)]
fn current_cpu() -> usize {
    if let Some(c) = rseq::cpu() {
        return c as usize;
    }
    // SAFETY: sched_getcpu has no preconditions.
    let c = unsafe { libc::sched_getcpu() };
    if c < 0 {
        0
    } else {
        c as usize
    }
}

/// The CPU number from the thread's rseq area, read in place.
///
/// glibc (2.35 and later) registers an rseq area for every thread, in which the kernel
/// keeps `cpu_id` up to date, and `sched_getcpu` reads it; but as a call into libc that
/// costs about 3 ns here, against 0.3–0.5 ns for reading the field inline. The area's
/// place, an offset from the thread pointer, is published by glibc as `__rseq_offset`;
/// it is looked up once with `dlsym` (so that libust still loads with an older glibc)
/// and used only if `__rseq_size` says the area is registered and holds `cpu_id`. A
/// thread whose registration failed has a negative `cpu_id`: the caller then falls
/// back to `sched_getcpu`, as glibc does.
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod rseq {
    use std::sync::atomic::{AtomicIsize, Ordering};

    /// `__rseq_offset`, or [`NONE`] while unknown or unusable.
    static OFFSET: AtomicIsize = AtomicIsize::new(NONE);
    const NONE: isize = isize::MIN;
    /// Offset of `cpu_id` in `struct rseq` (after `u32 cpu_id_start`).
    const CPU_ID: isize = 4;

    /// Looks up glibc's rseq area; without it, [`cpu`] returns `None`.
    pub(super) fn init() {
        // SAFETY: dlsym with RTLD_DEFAULT and NUL-terminated names has no other
        // precondition; a non-null result is the address of the named glibc variable
        // (`unsigned int __rseq_size`, `ptrdiff_t __rseq_offset`), set once by glibc
        // before `main` and never changed after.
        let (size, offset) = unsafe {
            let size = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr());
            let offset = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr());
            if size.is_null() || offset.is_null() {
                return;
            }
            (*(size as *const u32), *(offset as *const isize))
        };
        if size as isize >= CPU_ID + 4 && offset != NONE {
            OFFSET.store(offset, Ordering::Relaxed);
        }
    }

    #[inline(always)]
    pub(super) fn cpu() -> Option<u32> {
        let offset = OFFSET.load(Ordering::Relaxed);
        if offset == NONE {
            return None;
        }
        let tp: *const u8;
        // SAFETY: on x86-64 Linux the first word of the thread control block, at
        // %fs:0, is the thread pointer itself; reading it has no side effect.
        unsafe {
            std::arch::asm!(
                "mov {}, qword ptr fs:[0]",
                out(reg) tp,
                options(nostack, readonly, preserves_flags, pure)
            );
        }
        // SAFETY: glibc registered the area at `tp + offset` for this thread (it
        // does so for every thread it starts, `__rseq_size` said so); `cpu_id` is an
        // aligned u32 inside it that the kernel rewrites at any time, hence the
        // volatile read.
        let cpu = unsafe { tp.offset(offset + CPU_ID).cast::<u32>().read_volatile() } as i32;
        u32::try_from(cpu).ok()
    }
}

/// Elsewhere, always `sched_getcpu`.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
mod rseq {
    pub(super) fn init() {}

    #[inline(always)]
    pub(super) fn cpu() -> Option<u32> {
        None
    }
}

thread_local! {
    static VTID: Cell<i32> = const { Cell::new(0) };
    static PROCNAME: Cell<Option<[u8; PROCNAME_LEN]>> = const { Cell::new(None) };
}

#[cold]
fn load_vtid() -> i32 {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    VTID.with(|c| c.set(tid));
    tid
}

#[cold]
fn load_procname() -> [u8; PROCNAME_LEN] {
    let mut name = [0u8; PROCNAME_LEN];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL included) into the buffer,
    // which holds 17.
    unsafe {
        libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr());
    }
    name[PROCNAME_LEN - 1] = 0;
    PROCNAME.with(|c| c.set(Some(name)));
    name
}

fn write_contexts(ctx: Contexts, b: &mut RecordWriter<'_>) {
    if ctx.vpid {
        b.put(&VPID.load(Ordering::Relaxed).to_le_bytes());
    }
    if ctx.vtid {
        let mut tid = VTID.with(Cell::get);
        if tid == 0 {
            tid = load_vtid();
        }
        b.put(&tid.to_le_bytes());
    }
    if ctx.procname {
        let name = PROCNAME.with(Cell::get).unwrap_or_else(load_procname);
        b.put(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread pinned to `cpu`.
    fn on_cpu<T: Send>(cpu: usize, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays inside
                // it for any cpu below CPU_SETSIZE, and sched_setaffinity reads it.
                unsafe {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(cpu, &mut set);
                    assert_eq!(
                        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set),
                        0,
                        "pin to cpu {cpu}"
                    );
                }
                f()
            })
            .join()
            .expect("pinned thread")
        })
    }

    #[test]
    fn the_cpu_number_is_the_one_sched_getcpu_gives() {
        rseq::init();
        // SAFETY: a zeroed cpu_set_t is a valid set for sched_getaffinity to fill, and
        // CPU_ISSET reads inside it for any cpu below CPU_SETSIZE.
        let allowed: Vec<usize> = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set),
                0
            );
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        };
        for cpu in allowed {
            // SAFETY: sched_getcpu has no preconditions.
            let (ours, libc_says) =
                on_cpu(cpu, || (current_cpu(), unsafe { libc::sched_getcpu() }));
            assert_eq!(libc_says, cpu as i32, "pinned thread on cpu {cpu}");
            assert_eq!(ours, cpu, "current_cpu on cpu {cpu}");
        }
        if cfg!(all(target_arch = "x86_64", target_env = "gnu")) {
            assert!(
                rseq::cpu().is_some(),
                "glibc registers an rseq area for each thread: read in place"
            );
        }
    }
}
