//! Kernel events as LTTng-modules names them, built from ftrace's `format` files.
//!
//! [`KernelSchema::new`] turns the formats of the enabled events (in a given order)
//! into CTF event classes with stable ids, and [`KernelSchema::encode`] turns one
//! ftrace record payload into the CTF payload of its class. The session daemon uses the
//! classes for the kernel trace's metadata and the kernel consumer uses the encoder:
//! both build the schema from the same formats in the same order, so ids agree.
//!
//! Names follow LTTng-modules where Trace Compass's kernel analyses look for them:
//! `common_*` fields are dropped; in `sched_*` events a `pid` field becomes `tid`
//! (`prev_pid` → `prev_tid`, ...) and priorities are shifted by −100 as LTTng records
//! them; `raw_syscalls:sys_enter`/`sys_exit` become one class per system call,
//! `syscall_entry_<name>` (`args`) and `syscall_exit_<name>` (`ret`), names from the
//! x86-64 table ([`crate::syscalls`]), unknown numbers `syscall_entry_unknown` (with
//! `id`). Other events keep their ftrace name and fields. Strings (`char[N]`,
//! `__data_loc`) become NUL-terminated CTF strings.
//!
//! The payload is untrusted (it comes from ftrace pages a consumer reads): every read
//! is bounds-checked and a record that does not fit its format is refused (`None`).

use std::collections::HashMap;

use proto::event::{Base, Contexts, EventDesc, FieldDesc, FieldType, IntType, LogLevel};
use proto::ftrace::{EventFormat, Field, FieldKind};

use crate::metadata::EventClass;

/// How one output field is read from the ftrace payload.
#[derive(Clone, Debug)]
struct Plan {
    src: Field,
    /// Added to integer values (the −100 of priorities).
    shift: i64,
}

#[derive(Clone, Debug)]
enum Decoder {
    Plain {
        class: u32,
        plans: Vec<Plan>,
    },
    /// `by_nr[n]`: the class of system call `n`, if it has a name.
    SysEnter {
        by_nr: Vec<Option<u32>>,
        unknown: u32,
        id: Field,
        args: Field,
    },
    SysExit {
        by_nr: Vec<Option<u32>>,
        unknown: u32,
        id: Field,
        ret: Field,
    },
}

/// The kernel trace's event classes and how to encode records into them.
#[derive(Clone, Debug, Default)]
pub struct KernelSchema {
    pub classes: Vec<EventClass>,
    by_id: HashMap<u16, Decoder>,
}

fn int(bits: u32, signed: bool) -> IntType {
    IntType {
        bits: bits as u8,
        signed,
        base: Base::Dec,
    }
}

fn out_type(f: &Field) -> Option<FieldType> {
    Some(match f.kind {
        FieldKind::Integer { signed } => FieldType::Integer(int(f.size * 8, signed)),
        FieldKind::Array { len, signed } => FieldType::Array {
            elem: int(f.size / len * 8, signed),
            len,
        },
        FieldKind::CharArray
        | FieldKind::DataLocString
        | FieldKind::RelLocString
        | FieldKind::Rest => FieldType::String,
    })
}

/// LTTng's name for a field of event `event`.
fn lttng_field_name(event: &str, field: &str) -> String {
    if event.starts_with("sched_") {
        if field == "pid" {
            return "tid".into();
        }
        if let Some(p) = field.strip_suffix("_pid") {
            return format!("{p}_tid");
        }
    }
    field.to_string()
}

fn desc(name: String, fields: Vec<FieldDesc>) -> EventDesc {
    EventDesc {
        provider: String::new(),
        name,
        loglevel: LogLevel::Emerg,
        fields,
    }
}

impl KernelSchema {
    /// The schema of `formats` (the enabled events, in this order), all in stream 0.
    pub fn new(formats: &[EventFormat]) -> KernelSchema {
        let mut s = KernelSchema::default();
        let push = |s: &mut KernelSchema, d: EventDesc| -> u32 {
            let id = s.classes.len() as u32;
            s.classes.push(EventClass {
                id,
                stream_id: 0,
                desc: d,
            });
            id
        };
        for f in formats {
            let field = |n: &str| f.fields.iter().find(|x| x.name == n).cloned();
            match f.name.as_str() {
                "sys_enter" | "sys_exit" if field("id").is_some() => {
                    let enter = f.name == "sys_enter";
                    let prefix = if enter {
                        "syscall_entry_"
                    } else {
                        "syscall_exit_"
                    };
                    let (Some(id_field), Some(other)) =
                        (field("id"), field(if enter { "args" } else { "ret" }))
                    else {
                        continue;
                    };
                    let Some(other_ty) = out_type(&other) else {
                        continue;
                    };
                    let mut by_nr = Vec::with_capacity(crate::syscalls::X86_64.len());
                    for name in crate::syscalls::X86_64 {
                        by_nr.push(name.map(|n| {
                            push(
                                &mut s,
                                desc(
                                    format!("{prefix}{n}"),
                                    vec![FieldDesc {
                                        name: other.name.clone(),
                                        ty: other_ty.clone(),
                                    }],
                                ),
                            )
                        }));
                    }
                    let unknown = push(
                        &mut s,
                        desc(
                            format!("{prefix}unknown"),
                            vec![
                                FieldDesc {
                                    name: "id".into(),
                                    ty: FieldType::Integer(int(64, true)),
                                },
                                FieldDesc {
                                    name: other.name.clone(),
                                    ty: other_ty,
                                },
                            ],
                        ),
                    );
                    let d = if enter {
                        Decoder::SysEnter {
                            by_nr,
                            unknown,
                            id: id_field,
                            args: other,
                        }
                    } else {
                        Decoder::SysExit {
                            by_nr,
                            unknown,
                            id: id_field,
                            ret: other,
                        }
                    };
                    s.by_id.insert(f.id, d);
                }
                _ => {
                    let plans: Vec<Plan> = f
                        .fields
                        .iter()
                        .filter(|x| !x.name.starts_with("common_"))
                        .map(|x| Plan {
                            src: x.clone(),
                            shift: if f.name.starts_with("sched_") && x.name.ends_with("prio") {
                                -100
                            } else {
                                0
                            },
                        })
                        .collect();
                    let fields = plans
                        .iter()
                        .filter_map(|p| {
                            Some(FieldDesc {
                                name: lttng_field_name(&f.name, &p.src.name),
                                ty: out_type(&p.src)?,
                            })
                        })
                        .collect();
                    let class = push(&mut s, desc(f.name.clone(), fields));
                    s.by_id.insert(f.id, Decoder::Plain { class, plans });
                }
            }
        }
        s
    }

    /// The per-event context of kernel streams: the thread (`common_pid`, as `vtid`),
    /// as `lttng add-context -k -t tid` would record it.
    pub const CONTEXTS: Contexts = Contexts {
        vpid: false,
        vtid: true,
        procname: false,
    };

    /// Encodes the ftrace record `payload` (starting with `common_type`) as the CTF
    /// event context and payload of its class, appended to `out`; returns the class id,
    /// or `None` for an unknown event or a payload that does not fit its format.
    pub fn encode(&self, payload: &[u8], out: &mut Vec<u8>) -> Option<u32> {
        let ty = u16::from_le_bytes([*payload.first()?, *payload.get(1)?]);
        let tid = read_int(payload, 4, 4, true)? as i32;
        let start = out.len();
        out.extend_from_slice(&tid.to_le_bytes());
        let r = match self.by_id.get(&ty)? {
            Decoder::Plain { class, plans } => plans
                .iter()
                .try_for_each(|p| put_field(payload, &p.src, p.shift, out))
                .map(|()| *class),
            Decoder::SysEnter {
                by_nr,
                unknown,
                id,
                args,
            }
            | Decoder::SysExit {
                by_nr,
                unknown,
                id,
                ret: args,
            } => {
                let nr = read_int(payload, id.offset, id.size, true)?;
                let known = usize::try_from(nr).ok().and_then(|n| *by_nr.get(n)?);
                match known {
                    Some(class) => put_field(payload, args, 0, out).map(|()| class),
                    None => {
                        out.extend_from_slice(&nr.to_le_bytes());
                        put_field(payload, args, 0, out).map(|()| *unknown)
                    }
                }
            }
        };
        if r.is_none() {
            out.truncate(start);
        }
        r
    }
}

/// Reads a little-endian integer of `size` bytes at `offset`, sign-extended if asked.
fn read_int(p: &[u8], offset: u32, size: u32, signed: bool) -> Option<i64> {
    let b = p.get(offset as usize..(offset as usize).checked_add(size as usize)?)?;
    let mut v = [0u8; 8];
    v.get_mut(..b.len())?.copy_from_slice(b);
    let raw = u64::from_le_bytes(v);
    let bits = size * 8;
    Some(if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
        (raw | !((1u64 << bits) - 1)) as i64
    } else {
        raw as i64
    })
}

/// Appends a NUL-terminated copy of `s` up to its first NUL.
fn put_str(s: &[u8], out: &mut Vec<u8>) {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    out.extend_from_slice(&s[..end]);
    out.push(0);
}

fn put_field(p: &[u8], f: &Field, shift: i64, out: &mut Vec<u8>) -> Option<()> {
    let at = f.offset as usize;
    match f.kind {
        FieldKind::Integer { signed } => {
            let v = read_int(p, f.offset, f.size, signed)?.wrapping_add(shift);
            out.extend_from_slice(&v.to_le_bytes()[..f.size as usize]);
        }
        FieldKind::Array { .. } => {
            out.extend_from_slice(p.get(at..at.checked_add(f.size as usize)?)?);
        }
        FieldKind::CharArray => put_str(p.get(at..at.checked_add(f.size as usize)?)?, out),
        FieldKind::DataLocString | FieldKind::RelLocString => {
            let loc = read_int(p, f.offset, 4, false)? as u32;
            let base = if f.kind == FieldKind::RelLocString {
                at + 4
            } else {
                0
            };
            let start = base.checked_add((loc & 0xffff) as usize)?;
            let len = (loc >> 16) as usize;
            put_str(p.get(start..start.checked_add(len)?)?, out);
        }
        FieldKind::Rest => put_str(p.get(at..)?, out),
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::ftrace::parse_format;

    const SWITCH: &str = "name: sched_switch\nID: 372\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n";
    const EXIT: &str = "name: sys_exit\nID: 442\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n";

    #[test]
    fn sched_switch_gets_lttng_names_and_priorities() {
        let s = KernelSchema::new(&[parse_format(SWITCH).unwrap()]);
        let names: Vec<&str> = s.classes[0]
            .desc
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "prev_comm",
                "prev_tid",
                "prev_prio",
                "prev_state",
                "next_comm",
                "next_tid",
                "next_prio"
            ]
        );
        assert_eq!(s.classes[0].desc.full_name(), "sched_switch");
        let mut p = vec![0u8; 64];
        p[0..2].copy_from_slice(&372u16.to_le_bytes());
        p[8..12].copy_from_slice(b"bash");
        p[24..28].copy_from_slice(&42i32.to_le_bytes());
        p[28..32].copy_from_slice(&120i32.to_le_bytes());
        p[40..45].copy_from_slice(b"idle!");
        p[56..60].copy_from_slice(&7i32.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(s.encode(&p, &mut out), Some(0));
        let mut want = 0i32.to_le_bytes().to_vec();
        want.extend(b"bash\0");
        want.extend(42i32.to_le_bytes());
        want.extend(20i32.to_le_bytes());
        want.extend(0i64.to_le_bytes());
        want.extend(b"idle!\0");
        want.extend(7i32.to_le_bytes());
        want.extend((-100i32).to_le_bytes());
        assert_eq!(out, want);
        // Truncated or unknown records are refused and leave nothing behind.
        assert_eq!(s.encode(&p[..40], &mut out), None);
        assert_eq!(out, want);
        assert_eq!(s.encode(&[1, 2, 3], &mut out), None);
    }

    #[test]
    fn raw_syscalls_become_one_class_per_system_call() {
        let s = KernelSchema::new(&[parse_format(EXIT).unwrap()]);
        let openat = s
            .classes
            .iter()
            .position(|c| c.desc.name == "syscall_exit_openat")
            .unwrap() as u32;
        let mut p = vec![0u8; 24];
        p[0..2].copy_from_slice(&442u16.to_le_bytes());
        p[8..16].copy_from_slice(&257i64.to_le_bytes());
        p[16..24].copy_from_slice(&3i64.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(s.encode(&p, &mut out), Some(openat));
        assert_eq!(out[4..], 3i64.to_le_bytes());
        p[8..16].copy_from_slice(&100_000i64.to_le_bytes());
        out.clear();
        let unknown = s.classes.len() as u32 - 1;
        assert_eq!(s.encode(&p, &mut out), Some(unknown));
        assert_eq!(
            s.classes[unknown as usize].desc.name,
            "syscall_exit_unknown"
        );
    }
}
