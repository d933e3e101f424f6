//! The system call events of a kernel trace carry LTTng-modules 2.13's fields: names,
//! order and CTF types as its x86-64 instrumentation declares them, compared here with
//! a table written by hand from lttng-modules' headers (stable-2.13,
//! include/instrumentation/syscalls/headers/), and every argument sits where the
//! running kernel's own per-system-call format puts it.

mod support;

use std::path::Path;

use ctf::kernel::KernelSchema;
use proto::ftrace::parse_format;

const ENTER: &str = "name: sys_enter\nID: 23\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n";
const EXIT: &str = "name: sys_exit\nID: 22\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n";

/// Written from lttng-modules 2.13 (x86-64-syscalls_{integers,pointers}.h and the
/// overrides): event, then its fields as `name:type`.
const LTTNG_MODULES: &[(&str, &str)] = &[
    ("syscall_entry_read", "fd:u32 count:u64"),
    ("syscall_exit_read", "ret:i64 buf:u64"),
    ("syscall_entry_write", "fd:u32 buf:u64 count:u64"),
    ("syscall_exit_write", "ret:i64"),
    (
        "syscall_entry_openat",
        "dfd:i32 filename:str flags:i32 mode:u16",
    ),
    ("syscall_exit_openat", "ret:i64"),
    ("syscall_entry_open", "filename:str flags:i32 mode:u16"),
    ("syscall_entry_close", "fd:u32"),
    ("syscall_exit_close", "ret:i64"),
    ("syscall_entry_newfstat", "fd:u32"),
    ("syscall_exit_newfstat", "ret:i64 statbuf:u64"),
    ("syscall_entry_newfstatat", "dfd:i32 filename:str flag:i32"),
    ("syscall_exit_newfstatat", "ret:i64 statbuf:u64"),
    (
        "syscall_entry_mmap",
        "addr:x64 len:u64 prot:i32 flags:i32 fd:i32 offset:i64",
    ),
    ("syscall_exit_mmap", "ret:x64"),
    ("syscall_entry_munmap", "addr:u64 len:u64"),
    ("syscall_entry_brk", "brk:u64"),
    ("syscall_entry_execve", "filename:str argv:x64 envp:x64"),
    ("syscall_exit_execve", "ret:i64"),
    (
        "syscall_entry_clone",
        "flags:x64 newsp:x64 parent_tid:x64 child_tid:x64",
    ),
    ("syscall_exit_clone", "ret:i64"),
    ("syscall_entry_clone3", "uargs:u64 size:u64"),
    ("syscall_exit_clone3", "ret:i64 uargs:u64 size:u64"),
    ("syscall_entry_fork", ""),
    ("syscall_exit_fork", "ret:i64"),
    ("syscall_entry_wait4", "upid:i32 options:i32"),
    ("syscall_exit_wait4", "ret:i64 stat_addr:u64 ru:u64"),
    ("syscall_entry_exit_group", "error_code:i32"),
    ("syscall_entry_pipe", ""),
    ("syscall_exit_pipe", "ret:i64 fildes:i32[2]"),
    ("syscall_entry_pipe2", "flags:i32"),
    ("syscall_exit_pipe2", "ret:i64 fildes:i32[2]"),
    (
        "syscall_entry_connect",
        "fd:i32 uservaddr:x64 addrlen:x32 family:u16 dport:be16 v4addr:be8*u32 v6addr:be16*u32",
    ),
    ("syscall_exit_connect", "ret:i64"),
    (
        "syscall_entry_accept4",
        "fd:i32 upeer_sockaddr:x64 upeer_addrlen:i32 flags:x32",
    ),
    (
        "syscall_exit_accept4",
        "ret:i64 upeer_addrlen:i32 family:u16 sport:be16 v4addr:be8*u32 v6addr:be16*u32",
    ),
    (
        "syscall_entry_socketpair",
        "family:i32 type:i32 protocol:i32",
    ),
    ("syscall_exit_socketpair", "ret:i64 socket:i32[2]"),
    (
        "syscall_entry_futex",
        "uaddr:u64 op:i32 val:u32 utime:u64 uaddr2:u64 val3:u32",
    ),
    ("syscall_exit_futex", "ret:i64 uaddr:u64 uaddr2:u64"),
    ("syscall_entry_lseek", "fd:u32 offset:i64 whence:u32"),
    ("syscall_entry_pread64", "fd:u32 count:u64 pos:i64"),
    ("syscall_exit_pread64", "ret:i64 buf:u64"),
    ("syscall_entry_ioctl", "fd:u32 cmd:u32 arg:u64"),
    ("syscall_exit_ioctl", "ret:i64 arg:u64"),
    ("syscall_entry_kill", "pid:i32 sig:i32"),
    ("syscall_entry_getpid", ""),
    ("syscall_exit_getpid", "ret:i64"),
    ("syscall_entry_rt_sigreturn", ""),
    ("syscall_entry_nanosleep", "rqtp:u64"),
    ("syscall_exit_nanosleep", "ret:i64 rmtp:u64"),
    ("syscall_entry_dup2", "oldfd:u32 newfd:u32"),
    (
        "syscall_entry_epoll_wait",
        "epfd:i32 maxevents:i32 timeout:i32",
    ),
    ("syscall_exit_epoll_wait", "ret:i64 events:u64"),
    ("syscall_entry_poll", "ufds:u64 nfds:u32 timeout_msecs:i32"),
    ("syscall_exit_poll", "ret:i64 ufds:u64"),
    ("syscall_entry_unknown", "id:i32 args:u64[6]"),
    ("syscall_exit_unknown", "id:i32 ret:i64 args:u64[6]"),
];

#[test]
fn system_call_classes_match_lttng_modules_field_for_field() {
    let schema = KernelSchema::new(&[parse_format(ENTER).unwrap(), parse_format(EXIT).unwrap()]);
    let mut wrong = Vec::new();
    for (event, fields) in LTTNG_MODULES {
        let Some(class) = schema.classes.iter().find(|c| c.desc.name == *event) else {
            wrong.push(format!("{event}: no such event"));
            continue;
        };
        let ours: Vec<String> = class
            .desc
            .fields
            .iter()
            .map(|f| format!("{}:{}", f.name, support::type_notation(&f.ty)))
            .collect();
        if ours.join(" ") != *fields {
            wrong.push(format!(
                "{event}: ours {:?}, LTTng-modules {fields:?}",
                ours.join(" ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // LTTng's names are the kernel's SYSCALL_DEFINE names.
    for absent in [
        "syscall_entry_fstat",
        "syscall_entry_uname",
        "syscall_entry_stat",
    ] {
        assert!(
            schema.classes.iter().all(|c| c.desc.name != absent),
            "{absent}"
        );
    }
}

/// The argument names of `syscalls/sys_enter_NAME/format`, in order.
fn kernel_arguments(format: &str) -> Vec<String> {
    format
        .lines()
        .filter_map(|l| l.trim().strip_prefix("field:"))
        .filter_map(|f| f.split(';').next())
        .filter_map(|decl| decl.rsplit([' ', '*']).next().map(str::to_string))
        .filter(|n| !n.starts_with("common_") && n != "__syscall_nr")
        .collect()
}

#[test]
fn every_argument_is_where_the_running_kernel_s_format_puts_it() {
    if !support::tracing_group::root_or_skip() {
        return;
    }
    let tracefs = Path::new("/sys/kernel/tracing");
    if !tracefs.join("events").exists() {
        support::tracing_group::run("mount", &["-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
    }
    let dir = tracefs.join("events/syscalls");
    assert!(
        dir.is_dir(),
        "{} is missing: this kernel has no per-system-call formats (CONFIG_FTRACE_SYSCALLS)",
        dir.display()
    );
    // LTTng-modules' overrides name some arguments their own way, and record a few
    // from memory rather than from the register (None): x86-64-syscalls_pointers_override.h,
    // syscalls_pointers_override.h, syscalls_integers_override.h.
    let renamed = |call: &str, kernel: &str| -> Option<String> {
        Some(
            match (call, kernel) {
                ("clone", "clone_flags") => "flags",
                ("clone", "parent_tidptr") => "parent_tid",
                ("clone", "child_tidptr") => "child_tid",
                ("clone", "tls") | ("accept" | "accept4", "upeer_addrlen") => return None,
                ("mmap", "off") => "offset",
                ("socketpair", "usockvec") => "socket",
                ("getcpu", "unused") => "tcache",
                _ => kernel,
            }
            .to_string(),
        )
    };
    let (mut compared, mut mismatches, mut missing) = (0, Vec::new(), Vec::new());
    for call in ctf::syscalls::native_calls() {
        let path = dir.join(format!("sys_enter_{}/format", call.name));
        let Ok(format) = std::fs::read_to_string(&path) else {
            missing.push(call.name);
            continue;
        };
        let kernel: Vec<String> = kernel_arguments(&format)
            .iter()
            .filter_map(|a| renamed(call.name, a))
            .collect();
        let mut ours: Vec<(u8, &str)> = call
            .fields
            .iter()
            .filter_map(|f| match f.src {
                ctf::syscalls::Src::Arg(n) | ctf::syscalls::Src::Memory(n) => Some((n, f.name)),
                ctf::syscalls::Src::Absent => None,
            })
            .collect();
        ours.sort();
        let ours: Vec<String> = ours.iter().map(|(_, n)| n.to_string()).collect();
        if ours != kernel {
            mismatches.push(format!("{}: ours {ours:?}, kernel {kernel:?}", call.name));
        }
        compared += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Calls without a format are those the kernel has no metadata for on x86-64.
    assert!(
        compared > 300 && missing.len() < 30,
        "{compared} compared, no format for {missing:?}"
    );
    eprintln!("{compared} system calls compared with the kernel's formats; none for {missing:?}");
}
