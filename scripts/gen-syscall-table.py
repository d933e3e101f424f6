#!/usr/bin/env python3
"""Writes ctf/src/syscalls/x86_64.rs: LTTng-modules 2.13's x86-64 system call events.

Usage: scripts/gen-syscall-table.py LTTNG_MODULES_CHECKOUT > ctf/src/syscalls/x86_64.rs

The checkout is lttng-modules at stable-2.13 (github.com/lttng/lttng-modules). Its
include/instrumentation/syscalls/headers/x86-64-syscalls_{integers,pointers}.h declare
every system call event (generated there from Linux 6.0.7's syscall metadata) and the
*_override.h files beside them replace some. This script runs the C preprocessor over
them with the tracepoint macros defined as markers, the way a default lttng-modules
build sees them (x86-64, a recent kernel, CONFIG_LTTNG_EXPERIMENTAL_BITWISE_ENUM off),
and writes for each system call number: LTTng's event name, its fields in order, each
field's type, whether it is recorded on entry, on exit or both (sc_in, sc_out,
sc_inout, sc_exit), and where its value comes from (an argument, the return value, or
the program's memory).

Overrides whose fields are custom CTF types written by code (select, pselect6, poll,
ppoll, epoll_ctl, epoll_wait, epoll_pwait: variable-length arrays read from the
program's memory) are replaced by the generated declaration they override, which
records the arguments themselves; ctf/src/syscalls/mod.rs says so.
"""

import os
import re
import subprocess
import sys
import tempfile

DEFS = r"""
#define CONFIG_X86_64 1
#define CONFIG_64BIT 1
#define LTTNG_KERNEL_VERSION(a,b,c) (((a)<<16)+((b)<<8)+(c))
#define LTTNG_LINUX_VERSION_CODE LTTNG_KERNEL_VERSION(6,18,0)
#define __BYTE_ORDER 1234
#define __LITTLE_ENDIAN 1234
#define SC_LTTNG_TRACEPOINT_EVENT(name, proto, args, fields) @EVENT name @PROTO proto @FIELDS fields @END
#define SC_LTTNG_TRACEPOINT_EVENT_CODE(name, proto, args, locvar, pre, fields, post) @EVENT name @PROTO proto @FIELDS fields @END
#define SC_LTTNG_TRACEPOINT_EVENT_CLASS_NOARGS(name, fields)
#define SC_LTTNG_TRACEPOINT_EVENT_INSTANCE_NOARGS(cls, name) @EVENT name @PROTO TP_PROTO() @FIELDS TP_FIELDS() @END
#define SC_LTTNG_TRACEPOINT_ENUM(name, values)
#define TRACE_SYSCALL_TABLE(tpl, name, nr, nargs) @TABLE tpl name nr nargs @END
"""

# C types of the declarations -> (bits, signed).
C_TYPES = {
    "int": (32, True), "unsigned int": (32, False), "unsigned": (32, False),
    "long": (64, True), "unsigned long": (64, False), "size_t": (64, False),
    "pid_t": (32, True), "umode_t": (16, False), "uid_t": (32, False),
    "gid_t": (32, False), "u32": (32, False), "loff_t": (64, True),
    "uint8_t": (8, False), "uint16_t": (16, False), "uint32_t": (32, False),
    "clockid_t": (32, True), "aio_context_t": (64, False), "timer_t": (32, True),
    "mqd_t": (32, True), "unsigned short": (16, False), "short": (16, True),
    "key_t": (32, True), "rwf_t": (32, True), "qid_t": (32, False),
    "off_t": (64, True), "key_serial_t": (32, True), "__u64": (64, False),
    "__s32": (32, True),
}

CUSTOM = {"select", "pselect6", "poll", "ppoll", "epoll_ctl", "epoll_wait", "epoll_pwait"}


def ctype(t):
    t = re.sub(r"\b(const|__user)\b", "", t)
    t = " ".join(t.split())
    if "*" in t:
        return (64, False)
    if t not in C_TYPES:
        sys.exit(f"unknown C type '{t}'")
    return C_TYPES[t]


def split_top(s):
    """Splits s at commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def calls(s):
    """The top-level `name(args)` calls of s, as (name, inner text)."""
    out, i = [], 0
    while i < len(s):
        m = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(").match(s, i)
        if not m:
            if s[i:].strip():
                sys.exit(f"cannot parse fields near '{s[i:i+60]}'")
            break
        depth, j = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(s[j], 0)
            j += 1
        out.append((m.group(1), s[m.end():j - 1]))
        i = j
    return out


def inner(s, macro):
    m = re.match(r"\s*" + macro + r"\s*\((.*)\)\s*$", s, re.S)
    if not m:
        sys.exit(f"expected {macro}(...) in '{s[:80]}'")
    return m.group(1)


def parse_event(name, proto, fields):
    proto = inner(proto, "TP_PROTO")
    proto = re.sub(r"sc_exit\((unsigned )?long ret,?\)", "", proto)
    args = [re.findall(r"[A-Za-z_][A-Za-z0-9_]*", a)[-1] for a in split_top(proto)]
    out = []
    for when, body in calls(inner(fields, "TP_FIELDS")):
        if when not in ("sc_in", "sc_out", "sc_inout", "sc_exit"):
            sys.exit(f"{name}: unexpected {when}")
        for kind, a in calls(body):
            p = split_top(a)
            if kind in ("ctf_integer", "ctf_integer_hex", "ctf_integer_network"):
                (bits, signed), fname, src = ctype(p[0]), p[1], p[2]
                ty = ("Int", bits, signed, kind == "ctf_integer_hex", kind == "ctf_integer_network")
            elif kind == "ctf_user_string":
                fname, src, ty = p[0], p[1], ("Str",)
            elif kind == "ctf_user_array":
                (bits, signed), fname, src, n = ctype(p[0]), p[1], p[2], int(p[3])
                ty = ("Array", bits, signed, n)
            elif kind == "ctf_sequence_network":
                (bits, _), fname, src = ctype(p[0]), p[1], p[2]
                (lbits, _) = ctype(p[3])
                ty = ("NetSeq", bits, lbits)
            else:
                return None  # a custom field: see CUSTOM
            if when == "sc_exit":
                source = "Ret"
            elif ty[0] in ("Str", "Array") and src in args:
                source = f"Memory({args.index(src)})"
            elif src in args:
                source = f"Arg({args.index(src)})"
            else:
                source = "Absent"
            out.append((when, fname, ty, source))
    return out


def preprocess(path, extra, strip_overrides=False):
    with open(path) as f:
        text = f.read()
    if strip_overrides:
        text = re.sub(r'#include "[^"]*override\.h"', "", text)
        text = re.sub(r"#ifndef OVERRIDE_\w+\n", "#if 1\n", text)
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("lttng", "linux"):
            os.makedirs(os.path.join(tmp, d))
        for f in ("lttng/tracepoint-event.h", "lttng/define_trace.h",
                  "linux/syscalls.h", "linux/eventpoll.h"):
            open(os.path.join(tmp, f), "w").close()
        with open(os.path.join(tmp, "defs.h"), "w") as f:
            f.write(DEFS)
        src = os.path.join(os.path.dirname(path), "_gen_" + os.path.basename(path))
        with open(src, "w") as f:
            f.write(text)
        try:
            return subprocess.run(
                ["cpp", "-P", "-nostdinc", "-I", tmp, "-include", os.path.join(tmp, "defs.h")]
                + extra + [src], check=True, capture_output=True, text=True).stdout
        finally:
            os.unlink(src)


def events(text):
    out = {}
    for m in re.finditer(r"@EVENT (\w+) @PROTO (.*?) @FIELDS (.*?) @END", text, re.S):
        out.setdefault(m.group(1), (m.group(2), m.group(3)))
    return out


def table(text):
    return {int(m.group(3)): (m.group(1), m.group(2))
            for m in re.finditer(r"@TABLE (\w+) (\w+) (\d+) (\d+) @END", text)}


def rust_ty(ty):
    if ty[0] == "Int":
        _, bits, signed, hex_, net = ty
        return f"Ty::Int {{ bits: {bits}, signed: {str(signed).lower()}, hex: {str(hex_).lower()}, network: {str(net).lower()} }}"
    if ty[0] == "Str":
        return "Ty::Str"
    if ty[0] == "Array":
        _, bits, signed, n = ty
        return f"Ty::Array {{ bits: {bits}, signed: {str(signed).lower()}, len: {n} }}"
    _, bits, lbits = ty
    return f"Ty::NetSeq {{ bits: {bits}, length_bits: {lbits} }}"


def main():
    root = os.path.join(sys.argv[1], "include/instrumentation/syscalls/headers")
    evs, plain, nrs = {}, {}, {}
    for part in ("integers", "pointers"):
        path = os.path.join(root, f"x86-64-syscalls_{part}.h")
        evs.update(events(preprocess(path, [])))
        plain.update(events(preprocess(path, [], strip_overrides=True)))
        nrs.update(table(preprocess(path, ["-DCREATE_SYSCALL_TABLE"])))
    print("// Generated by scripts/gen-syscall-table.py from lttng-modules stable-2.13")
    print("// (include/instrumentation/syscalls/headers/x86-64-syscalls_*.h, Linux 6.0.7).")
    print("// Do not edit: regenerate.")
    print()
    print("use super::{Call, Field, Src, Ty, When};")
    print()
    print("/// LTTng-modules 2.13's x86-64 system calls, by number.")
    print("pub const CALLS: &[Call] = &[")
    for nr in sorted(nrs):
        tpl, name = nrs[nr]
        tpl = name if tpl == "syscalls_noargs" else tpl
        if tpl not in evs:
            sys.exit(f"no event for {tpl} ({nr})")
        fields = parse_event(tpl, *evs[tpl])
        if fields is None:
            if tpl not in CUSTOM:
                sys.exit(f"{tpl}: custom fields; add it to CUSTOM if meant")
            fields = parse_event(tpl, *plain[tpl])
        ret = [f for f in fields if f[0] == "sc_exit"]
        if len(ret) != 1:
            sys.exit(f"{tpl}: {len(ret)} return fields")
        print(f"    Call {{ nr: {nr}, name: \"{tpl}\", ret: {rust_ty(ret[0][2])}, fields: &[")
        for when, fname, ty, source in fields:
            if when == "sc_exit":
                continue
            w = {"sc_in": "When::Entry", "sc_out": "When::Exit", "sc_inout": "When::Both"}[when]
            print(f"        Field {{ name: \"{fname}\", ty: {rust_ty(ty)}, when: {w}, src: Src::{source} }},")
        print("    ] },")
    print("];")


if __name__ == "__main__":
    main()
