//! System call records (`raw_syscalls:sys_enter` `{id, args[6]}` and `sys_exit`
//! `{id, ret}`) as LTTng-modules' per-call events, with the fields of
//! [`crate::syscalls`]: `syscall_entry_read: { fd, count }`, then
//! `syscall_exit_read: { ret, buf }`.
//!
//! The exit record carries no arguments: the output arguments of an exit event come
//! from the same thread's entry, which [`Entries`] keeps until the exit (an exit whose
//! entry is not in the trace, as for a call entered before tracing started, has them
//! 0). Numbers LTTng-modules does not know are `syscall_entry_unknown` `{id, args}` and
//! `syscall_exit_unknown` `{id, ret, args}`; 32-bit programs' calls are
//! `compat_syscall_entry_<name>` `{args}` and `compat_syscall_exit_<name>` `{ret}`
//! with the i386 names.

use std::collections::HashMap;

use proto::event::{Base, EventDesc, FieldDesc, FieldType, IntType};
use proto::ftrace::{Field as FtraceField, FieldKind};

use super::{desc, int, put_str, read_int};
use crate::syscalls::{self, Call, Src, Ty};

/// Most threads whose system call entry is kept for its exit (past it the table
/// starts afresh: a bound on memory whatever the pages say).
pub(super) const MAX_ENTRIES: usize = 1 << 16;

/// `open`'s and `openat`'s numbers (x86-64): their file name comes from the path
/// probes.
const NR_OPEN: i64 = 2;
const NR_OPENAT: i64 = 257;

/// The last system call entered by each thread, when and with which argument words,
/// for the output arguments of its exit event.
///
/// The consumer reads each CPU's pages in turn, so a thread that migrated during a
/// call may have its exit read before its entry: that exit has its output arguments
/// 0, and the entry, read later, is older than the thread's last exit and is dropped
/// rather than joined to a later exit.
#[derive(Debug, Default)]
pub struct Entries {
    by_tid: HashMap<i32, Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    entry: Option<(i64, u64, [u64; 6])>,
    last_exit: u64,
}

impl Entries {
    fn put(&mut self, tid: i32, nr: i64, ts: u64, args: [u64; 6]) {
        if self.by_tid.len() >= MAX_ENTRIES && !self.by_tid.contains_key(&tid) {
            self.by_tid.clear();
        }
        let kept = self.by_tid.entry(tid).or_default();
        if ts >= kept.last_exit {
            kept.entry = Some((nr, ts, args));
        }
    }

    /// The arguments thread `tid` entered call `nr` with before `ts`, used up.
    fn take(&mut self, tid: i32, nr: i64, ts: u64) -> [u64; 6] {
        if self.by_tid.len() >= MAX_ENTRIES && !self.by_tid.contains_key(&tid) {
            self.by_tid.clear();
        }
        let kept = self.by_tid.entry(tid).or_default();
        kept.last_exit = kept.last_exit.max(ts);
        match kept.entry.take() {
            Some((n, at, args)) if n == nr && at <= ts => args,
            _ => [0; 6],
        }
    }

    /// Threads with an entry or an exit kept.
    pub fn pending(&self) -> usize {
        self.by_tid.len()
    }
}

/// The CTF type of a table type.
fn field_type(t: Ty) -> FieldType {
    match t {
        Ty::Int {
            bits,
            signed,
            hex,
            network,
        } => FieldType::Integer(IntType {
            network,
            ..IntType::new(bits, signed, if hex { Base::Hex } else { Base::Dec })
        }),
        Ty::Str => FieldType::String,
        Ty::Array { bits, signed, len } => FieldType::Array {
            elem: int(bits.into(), signed),
            len,
        },
        Ty::NetSeq { bits, length_bits } => FieldType::Sequence {
            elem: IntType {
                network: true,
                ..int(bits.into(), false)
            },
            length: int(length_bits.into(), false),
        },
    }
}

fn field(name: &str, ty: FieldType) -> FieldDesc {
    FieldDesc {
        name: name.into(),
        ty,
    }
}

/// The six argument words, as LTTng's `unknown` events record them.
fn args_field() -> FieldDesc {
    field(
        "args",
        FieldType::Array {
            elem: int(64, false),
            len: 6,
        },
    )
}

/// The class ids of the entry or the exit events of every system call.
#[derive(Clone, Debug)]
pub(super) struct Classes {
    /// Class of each call of [`syscalls::native_calls`], by index.
    native: Vec<u32>,
    native_unknown: u32,
    /// Class of each i386 number, if named.
    compat: Vec<Option<u32>>,
    compat_unknown: u32,
}

impl Classes {
    /// The entry (`enter`) or exit classes, each pushed through `push`.
    pub(super) fn new(enter: bool, mut push: impl FnMut(EventDesc) -> u32) -> Classes {
        let (prefix, ret) = if enter {
            ("syscall_entry_", None)
        } else {
            (
                "syscall_exit_",
                Some(field("ret", FieldType::Integer(int(64, true)))),
            )
        };
        let native = syscalls::native_calls()
            .iter()
            .map(|c| {
                let fields = if enter {
                    c.entry().map(|f| field(f.name, field_type(f.ty))).collect()
                } else {
                    std::iter::once(field("ret", field_type(c.ret)))
                        .chain(c.exit().map(|f| field(f.name, field_type(f.ty))))
                        .collect()
                };
                push(desc(format!("{prefix}{}", c.name), fields))
            })
            .collect();
        let unknown = |push: &mut dyn FnMut(EventDesc) -> u32, prefix: &str| {
            let mut fields = vec![field("id", FieldType::Integer(int(32, true)))];
            fields.extend(ret.clone());
            fields.push(args_field());
            push(desc(format!("{prefix}unknown"), fields))
        };
        let native_unknown = unknown(&mut push, prefix);
        let compat_prefix = format!("compat_{prefix}");
        let compat_fields = match &ret {
            Some(r) => vec![r.clone()],
            None => vec![args_field()],
        };
        let compat = syscalls::I386
            .iter()
            .map(|name| {
                name.map(|n| push(desc(format!("{compat_prefix}{n}"), compat_fields.clone())))
            })
            .collect();
        let compat_unknown = unknown(&mut push, &compat_prefix);
        Classes {
            native,
            native_unknown,
            compat,
            compat_unknown,
        }
    }

    fn native(&self, nr: i64) -> Option<(u32, &'static Call)> {
        let nr = u16::try_from(nr).ok()?;
        let calls = syscalls::native_calls();
        let i = calls.binary_search_by_key(&nr, |c| c.nr).ok()?;
        Some((*self.native.get(i)?, calls.get(i)?))
    }

    fn compat(&self, nr: i64) -> Option<u32> {
        usize::try_from(nr).ok().and_then(|n| *self.compat.get(n)?)
    }
}

/// Appends the value of a table field: an argument word, or the field's empty value
/// when LTTng reads it from the program's memory (`path`: a file name the path probes
/// gave).
fn put_value(ty: Ty, src: Src, args: &[u64; 6], path: Option<&[u8]>, out: &mut Vec<u8>) {
    let word = match src {
        Src::Arg(n) => args.get(usize::from(n)).copied().unwrap_or(0),
        Src::Memory(_) | Src::Absent => 0,
    };
    match ty {
        Ty::Int { bits, network, .. } => {
            let n = usize::from(bits / 8);
            if network {
                out.extend_from_slice(&word.to_be_bytes()[8 - n..]);
            } else {
                out.extend_from_slice(&word.to_le_bytes()[..n]);
            }
        }
        Ty::Str => put_str(path.unwrap_or(b""), out),
        Ty::Array { bits, len, .. } => {
            // File descriptors LTTng reads from memory: none known here.
            let none = u64::MAX.to_le_bytes();
            for _ in 0..len {
                out.extend_from_slice(&none[..usize::from(bits / 8)]);
            }
        }
        Ty::NetSeq { length_bits, .. } => {
            out.extend_from_slice(&0u64.to_le_bytes()[..usize::from(length_bits / 8)])
        }
    }
}

/// Reads the six argument words of a `sys_enter` record.
fn words(p: &[u8], args: &FtraceField) -> Option<[u64; 6]> {
    let mut w = [0u64; 6];
    for (i, v) in w.iter_mut().enumerate() {
        *v = read_int(p, args.offset.checked_add(8 * i as u32)?, 8, false)? as u64;
    }
    Some(w)
}

/// Whether `args` is `sys_enter`'s `unsigned long args[6]`.
pub(super) fn is_args(f: &FtraceField) -> bool {
    f.size == 48 && matches!(f.kind, FieldKind::Array { len: 6, .. })
}

/// Encodes a `sys_enter` record of thread `tid` (`compat`: a 32-bit program's) as its
/// entry event; returns the class.
#[allow(clippy::too_many_arguments)]
pub(super) fn encode_entry(
    classes: &Classes,
    p: &[u8],
    nr: i64,
    args: &FtraceField,
    (tid, ts): (i32, u64),
    compat: bool,
    path: Option<Vec<u8>>,
    entries: &mut Entries,
    out: &mut Vec<u8>,
) -> Option<u32> {
    let w = words(p, args)?;
    let put_words = |out: &mut Vec<u8>| w.iter().for_each(|v| out.extend(v.to_le_bytes()));
    if compat {
        return Some(match classes.compat(nr) {
            Some(class) => {
                put_words(out);
                class
            }
            None => {
                out.extend_from_slice(&(nr as i32).to_le_bytes());
                put_words(out);
                entries.put(tid, nr, ts, w);
                classes.compat_unknown
            }
        });
    }
    let Some((class, call)) = classes.native(nr) else {
        out.extend_from_slice(&(nr as i32).to_le_bytes());
        put_words(out);
        entries.put(tid, nr, ts, w);
        return Some(classes.native_unknown);
    };
    let path = path.filter(|_| nr == NR_OPEN || nr == NR_OPENAT);
    for f in call.entry() {
        put_value(f.ty, f.src, &w, path.as_deref(), out);
    }
    if call.exit().next().is_some() {
        entries.put(tid, nr, ts, w);
    }
    Some(class)
}

/// Encodes a `sys_exit` record (`ret`) as its exit event; returns the class.
pub(super) fn encode_exit(
    classes: &Classes,
    nr: i64,
    ret: i64,
    (tid, ts): (i32, u64),
    compat: bool,
    entries: &mut Entries,
    out: &mut Vec<u8>,
) -> u32 {
    let put_unknown = |entries: &mut Entries, out: &mut Vec<u8>| {
        out.extend_from_slice(&(nr as i32).to_le_bytes());
        out.extend_from_slice(&ret.to_le_bytes());
        for v in entries.take(tid, nr, ts) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    };
    if compat {
        return match classes.compat(nr) {
            Some(class) => {
                out.extend_from_slice(&ret.to_le_bytes());
                class
            }
            None => {
                put_unknown(entries, out);
                classes.compat_unknown
            }
        };
    }
    let Some((class, call)) = classes.native(nr) else {
        put_unknown(entries, out);
        return classes.native_unknown;
    };
    put_value(call.ret, Src::Arg(0), &[ret as u64; 6], None, out);
    if call.exit().next().is_some() {
        let w = entries.take(tid, nr, ts);
        for f in call.exit() {
            put_value(f.ty, f.src, &w, None, out);
        }
    }
    class
}
