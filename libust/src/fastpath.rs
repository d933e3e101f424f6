//! The path every enabled event takes: pick the CPU's buffer, record the event.
//!
//! Once a tracepoint's flag is set, [`record`] loads the active channel (one atomic
//! load), reads the CPU number (`sched_getcpu`, served from the rseq area by glibc),
//! and hands the event to the ring buffer writer, which reads the clock, reserves with
//! one CAS, writes the header, the contexts and the payload in place, and commits with
//! one atomic add. No lock, no allocation, no syscall (except the consumer wakeup when
//! a sub-buffer completes).
//!
//! # Safety
//!
//! The `unsafe` blocks here call `sched_getcpu`, `gettid` and `prctl(PR_GET_NAME)`,
//! which have no memory-safety preconditions beyond a valid 16-byte buffer for the
//! name; and dereference the active-channel pointer, which points to a leaked `Box`
//! that is never freed.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

use ctf::metadata::{Contexts, PROCNAME_LEN};
use proto::ring::shm::RecordWriter;
use proto::ring::writer::RingWriter;

use crate::clock;
use crate::tracepoint::Tracepoint;

/// A channel's per-CPU writers and the contexts its events carry.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) writers: Box<[RingWriter]>,
    pub(crate) contexts: Contexts,
}

static ACTIVE: AtomicPtr<Channel> = AtomicPtr::new(std::ptr::null_mut());
static VPID: AtomicI32 = AtomicI32::new(0);

/// Installs the channel events go to. It is leaked: writers may still hold it after
/// tracing stops, so it lives until the process exits.
pub(crate) fn activate(ch: Channel) -> &'static Channel {
    VPID.store(std::process::id() as i32, Ordering::Relaxed);
    crate::sys::at_fork_child(after_fork_in_child);
    let leaked: &'static mut Channel = Box::leak(Box::new(ch));
    ACTIVE.store(leaked, Ordering::Release);
    leaked
}

/// Records one event of `tp`, whose payload is `payload_len` bytes written by `write`.
#[inline(always)]
pub fn record(tp: &Tracepoint, payload_len: usize, write: impl FnOnce(&mut RecordWriter<'_>)) {
    let p = ACTIVE.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: non-null pointers in ACTIVE come from Box::leak in `activate` and are
    // never freed or mutated.
    let ch = unsafe { &*p };
    let cpu = current_cpu();
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
    w.record(tp.id(), len, now, |b| {
        if !ctx.is_empty() {
            write_contexts(ctx, b);
        }
        write(b);
    });
}

/// In a child of `fork`: the process id changed, and so did the id of the only thread.
fn after_fork_in_child() {
    VPID.store(std::process::id() as i32, Ordering::Relaxed);
    VTID.with(|c| c.set(0));
}

#[inline(always)]
fn current_cpu() -> usize {
    // SAFETY: sched_getcpu has no preconditions.
    let c = unsafe { libc::sched_getcpu() };
    if c < 0 {
        0
    } else {
        c as usize
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
