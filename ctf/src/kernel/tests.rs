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
    assert_eq!(
        s.encode(&p, 0, &mut SessionState::default(), &mut out),
        Some(Encoded::Event(0))
    );
    // The comms are LTTng's char[16] text arrays.
    let comm = |name: &[u8]| {
        let mut c = [0u8; 16];
        c[..name.len()].copy_from_slice(name);
        c
    };
    let mut want = 0i32.to_le_bytes().to_vec();
    want.extend(comm(b"bash"));
    want.extend(42i32.to_le_bytes());
    want.extend(20i32.to_le_bytes());
    want.extend(0i64.to_le_bytes());
    want.extend(comm(b"idle!"));
    want.extend(7i32.to_le_bytes());
    want.extend((-100i32).to_le_bytes());
    assert_eq!(out, want);
    // Truncated or unknown records are refused and leave nothing behind.
    assert_eq!(
        s.encode(&p[..40], 0, &mut SessionState::default(), &mut out),
        None
    );
    assert_eq!(out, want);
    assert_eq!(
        s.encode(&[1, 2, 3], 0, &mut SessionState::default(), &mut out),
        None
    );
    // An event id of no class (found by the fuzz target `kernel_records`).
    let mut q = p.clone();
    q[0..2].copy_from_slice(&999u16.to_le_bytes());
    assert_eq!(
        s.encode(&q, 0, &mut SessionState::default(), &mut out),
        None
    );
    assert_eq!(out, want);
}

const FORK: &str = "name: sched_process_fork\nID: 366\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n";
const NEWTASK: &str = "name: task_newtask\nID: 205\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n\tfield:u64 clone_flags;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:short oom_score_adj;\toffset:40;\tsize:2;\tsigned:1;\n";

fn new_task(parent: i32, child: i32, flags: u64) -> Vec<u8> {
    let mut p = vec![0u8; 42];
    p[0..2].copy_from_slice(&205u16.to_le_bytes());
    p[4..8].copy_from_slice(&parent.to_le_bytes());
    p[8..12].copy_from_slice(&child.to_le_bytes());
    p[12..16].copy_from_slice(b"app\0");
    p[32..40].copy_from_slice(&flags.to_le_bytes());
    p
}

fn fork(parent: i32, child: i32) -> Vec<u8> {
    let mut p = vec![0u8; 32];
    p[0..2].copy_from_slice(&366u16.to_le_bytes());
    p[4..8].copy_from_slice(&parent.to_le_bytes());
    // Both names at 24 ("app", 4 bytes with the NUL): __data_loc is len << 16 | offset.
    let loc = (4u32 << 16) | 24;
    p[8..12].copy_from_slice(&loc.to_le_bytes());
    p[12..16].copy_from_slice(&parent.to_le_bytes());
    p[16..20].copy_from_slice(&loc.to_le_bytes());
    p[20..24].copy_from_slice(&child.to_le_bytes());
    p[24..28].copy_from_slice(b"app\0");
    p
}

/// The (parent_tid, parent_pid, child_tid, child_pid) of an encoded fork event.
fn fork_ids(out: &[u8]) -> [i32; 4] {
    let i = |at: usize| i32::from_le_bytes(out[at..at + 4].try_into().unwrap());
    // context tid, comm[16], parent_tid, parent_pid, parent_ns_inum, comm[16],
    // child_tid, vtids (u8 count 1, the child tid), child_pid, child_ns_inum
    assert_eq!(out[52], 1, "one vtid");
    assert_eq!(i(53), i(48), "the vtid is the child's tid");
    assert_eq!(out.len(), 65);
    [i(20), i(24), i(48), i(57)]
}

#[test]
fn a_fork_carries_the_child_process_id_from_its_new_task() {
    let s = KernelSchema::new(&[parse_format(FORK).unwrap(), parse_format(NEWTASK).unwrap()]);
    let names: Vec<&str> = s.classes[0]
        .desc
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "parent_comm",
            "parent_tid",
            "parent_pid",
            "parent_ns_inum",
            "child_comm",
            "child_tid",
            "vtids",
            "child_pid",
            "child_ns_inum"
        ]
    );
    let mut state = SessionState::default();
    // Thread 100 of process 50, from the statedump.
    state.tasks.note(100, 50);
    let mut out = Vec::new();
    let mut run = |state: &mut SessionState, p: &[u8]| {
        out.clear();
        s.encode(p, 0, state, &mut out).unwrap();
        out.clone()
    };
    // A thread: the parent's process.
    run(&mut state, &new_task(100, 101, CLONE_THREAD | 0x3d0f00));
    assert_eq!(
        fork_ids(&run(&mut state, &fork(100, 101))),
        [100, 50, 101, 50]
    );
    // A process of its own (fork: SIGCHLD only).
    run(&mut state, &new_task(100, 102, 0x11));
    assert_eq!(
        fork_ids(&run(&mut state, &fork(100, 102))),
        [100, 50, 102, 102]
    );
    // The new thread's own children know their process.
    run(&mut state, &new_task(101, 103, CLONE_THREAD));
    assert_eq!(
        fork_ids(&run(&mut state, &fork(101, 103))),
        [101, 50, 103, 50]
    );
    // No task_newtask seen (its page not read yet, or the table full): a process.
    assert_eq!(
        fork_ids(&run(&mut state, &fork(102, 104))),
        [102, 102, 104, 104]
    );
    // Memory stays bounded, whatever the records say.
    for t in 0..(MAX_PENDING_TASKS as i32 + 10) {
        run(&mut state, &new_task(1, 10_000 + t, 0));
    }
    assert!(state.tasks.new_is_thread.len() <= MAX_PENDING_TASKS);
    for t in 0..(MAX_TASKS as i32 + 10) {
        state.tasks.note(t, 1);
    }
    assert!(state.tasks.known() <= MAX_TASKS);
}

#[test]
fn softirq_and_hrtimer_events_get_lttng_names() {
    let fmt = |name: &str, id: u16| {
        parse_format(&format!("name: {name}\nID: {id}\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned int vec;\toffset:8;\tsize:4;\tsigned:0;\n")).unwrap()
    };
    let s = KernelSchema::new(&[
        fmt("softirq_entry", 1),
        fmt("hrtimer_start", 2),
        fmt("irq_handler_entry", 3),
        fmt("timer_start", 4),
    ]);
    let names: Vec<&str> = s.classes.iter().map(|c| c.desc.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "irq_softirq_entry",
            "timer_hrtimer_start",
            "irq_handler_entry",
            "timer_start",
            "lttng_statedump_start",
            "lttng_statedump_process_state",
            "lttng_statedump_end",
        ]
    );
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
    assert_eq!(
        s.encode(&p, 0, &mut SessionState::default(), &mut out),
        Some(Encoded::Event(openat))
    );
    assert_eq!(out[4..], 3i64.to_le_bytes());
    p[8..16].copy_from_slice(&100_000i64.to_le_bytes());
    out.clear();
    let unknown = s
        .classes
        .iter()
        .position(|c| c.desc.name == "syscall_exit_unknown")
        .unwrap() as u32;
    assert_eq!(
        s.encode(&p, 0, &mut SessionState::default(), &mut out),
        Some(Encoded::Event(unknown))
    );
}

const EXEC: &str = "name: sched_process_exec\nID: 367\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n";

fn exec(tid: i32) -> Vec<u8> {
    let mut p = vec![0u8; 24];
    p[0..2].copy_from_slice(&367u16.to_le_bytes());
    p[4..8].copy_from_slice(&tid.to_le_bytes());
    p[8..12].copy_from_slice(&((3u32 << 16) | 20).to_le_bytes());
    p[12..16].copy_from_slice(&tid.to_le_bytes());
    p[16..20].copy_from_slice(&tid.to_le_bytes());
    p[20..23].copy_from_slice(b"/a\0");
    p
}

fn exit(tid: i32, nr: i64, ret: i64) -> Vec<u8> {
    let mut p = vec![0u8; 24];
    p[0..2].copy_from_slice(&442u16.to_le_bytes());
    p[4..8].copy_from_slice(&tid.to_le_bytes());
    p[8..16].copy_from_slice(&nr.to_le_bytes());
    p[16..24].copy_from_slice(&ret.to_le_bytes());
    p
}

#[test]
fn a_32_bit_program_s_system_calls_are_named_as_compat_calls() {
    let formats = [ENTER, EXIT, EXEC, FORK, NEWTASK].map(|f| parse_format(f).unwrap());
    let s = KernelSchema::new(&formats);
    let mut state = SessionState::default();
    let mut name = |p: &[u8]| {
        let mut out = Vec::new();
        match s.encode(p, 0, &mut state, &mut out) {
            Some(Encoded::Event(id)) => s.classes[id as usize].desc.name.clone(),
            other => panic!("{other:?}"),
        }
    };
    // Before any exec, and for a 64-bit program (its loader starts with brk, 12).
    assert_eq!(name(&enter(300, 45, [0; 6])), "syscall_entry_recvfrom");
    assert_eq!(name(&exec(301)), "sched_process_exec");
    assert_eq!(name(&enter(301, 12, [0; 6])), "syscall_entry_brk");
    assert_eq!(name(&enter(301, 45, [0; 6])), "syscall_entry_recvfrom");
    // A 32-bit program: its first call is i386 brk (45).
    assert_eq!(name(&exec(300)), "sched_process_exec");
    assert_eq!(name(&enter(300, 45, [0; 6])), "compat_syscall_entry_brk");
    assert_eq!(name(&exit(300, 45, 0)), "compat_syscall_exit_brk");
    assert_eq!(name(&enter(300, 20, [0; 6])), "compat_syscall_entry_getpid");
    assert_eq!(
        name(&enter(300, 9999, [0; 6])),
        "compat_syscall_entry_unknown"
    );
    // Its threads and forked children run it too; the 64-bit one is unchanged.
    name(&new_task(300, 302, CLONE_THREAD));
    name(&fork(300, 302));
    assert_eq!(name(&enter(302, 4, [0; 6])), "compat_syscall_entry_write");
    name(&new_task(300, 303, 0x11));
    name(&fork(300, 303));
    assert_eq!(name(&exit(303, 1, 0)), "compat_syscall_exit_exit");
    assert_eq!(name(&enter(301, 1, [0; 6])), "syscall_entry_write");
    // A new exec of a 64-bit program ends it.
    name(&exec(300));
    assert_eq!(name(&enter(300, 12, [0; 6])), "syscall_entry_brk");
}

const ENTER: &str = "name: sys_enter\nID: 443\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n";
const PROBE: &str = "name: lttng_rs_openat_path\nID: 2326\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:__data_loc char[] path;\toffset:16;\tsize:4;\tsigned:1;\n";

fn enter(tid: i32, nr: i64, args: [u64; 6]) -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[0..2].copy_from_slice(&443u16.to_le_bytes());
    p[4..8].copy_from_slice(&tid.to_le_bytes());
    p[8..16].copy_from_slice(&nr.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        p[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    p
}

fn probe(tid: i32, path: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0..2].copy_from_slice(&2326u16.to_le_bytes());
    p[4..8].copy_from_slice(&tid.to_le_bytes());
    let loc = 20u32 | ((path.len() as u32) << 16);
    p[16..20].copy_from_slice(&loc.to_le_bytes());
    p.extend_from_slice(path);
    p
}

/// The payload of an `openat` entry: tid, dfd, filename, flags, mode.
fn openat_payload(tid: i32, dfd: i32, name: &[u8], flags: i32, mode: u16) -> Vec<u8> {
    let mut v = tid.to_le_bytes().to_vec();
    v.extend(dfd.to_le_bytes());
    v.extend(name);
    v.push(0);
    v.extend(flags.to_le_bytes());
    v.extend(mode.to_le_bytes());
    v
}

#[test]
fn an_openat_entry_carries_the_path_its_thread_probed_just_before() {
    let s = KernelSchema::new(&[parse_format(ENTER).unwrap(), parse_format(PROBE).unwrap()]);
    let class = |n: &str| s.classes.iter().position(|c| c.desc.name == n).unwrap() as u32;
    let openat = class("syscall_entry_openat");
    let names: Vec<&str> = s.classes[openat as usize]
        .desc
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["dfd", "filename", "flags", "mode"]);
    let mut paths = SessionState::default();
    let mut out = Vec::new();
    let at_fdcwd = -100i64 as u64;
    // Probe, then the call, same thread: joined.
    let pr = probe(7, b"/etc/hostname\0");
    assert_eq!(
        s.encode(&pr, 1_000, &mut paths, &mut out),
        Some(Encoded::Absorbed)
    );
    assert!(out.is_empty(), "a probe record writes nothing");
    let call = enter(7, 257, [at_fdcwd, 0xdead, 0o2101, 0o644, 0, 0]);
    assert_eq!(
        s.encode(&call, 3_000, &mut paths, &mut out),
        Some(Encoded::Event(openat))
    );
    assert_eq!(
        out,
        openat_payload(7, -100, b"/etc/hostname", 0o2101, 0o644)
    );
    // Used up: the thread's next openat has no path.
    out.clear();
    s.encode(&call, 4_000, &mut paths, &mut out).unwrap();
    assert_eq!(out, openat_payload(7, -100, b"", 0o2101, 0o644));
    // Another thread's probe, another thread's call: not joined, and any other
    // system call of the probing thread uses its path up.
    s.encode(&probe(8, b"/x"), 5_000, &mut paths, &mut out)
        .unwrap();
    out.clear();
    s.encode(&enter(9, 257, [0; 6]), 5_100, &mut paths, &mut out)
        .unwrap();
    assert_eq!(out, openat_payload(9, 0, b"", 0, 0));
    let read = class("syscall_entry_read");
    assert_eq!(
        s.encode(&enter(8, 0, [0; 6]), 5_200, &mut paths, &mut out),
        Some(Encoded::Event(read))
    );
    assert_eq!(paths.paths.pending(), 0);
    // Too old, or after the call (read out of order from another CPU): not joined.
    s.encode(&probe(7, b"/old"), 10, &mut paths, &mut out)
        .unwrap();
    out.clear();
    s.encode(&call, 10 + PATH_WINDOW + 1, &mut paths, &mut out)
        .unwrap();
    assert_eq!(out, openat_payload(7, -100, b"", 0o2101, 0o644));
    s.encode(&probe(7, b"/late"), 9_000, &mut paths, &mut out)
        .unwrap();
    out.clear();
    s.encode(&call, 8_000, &mut paths, &mut out).unwrap();
    assert_eq!(out, openat_payload(7, -100, b"", 0o2101, 0o644));
    // `open` has no dfd.
    s.encode(&probe(7, b"/p"), 20_000, &mut paths, &mut out)
        .unwrap();
    out.clear();
    s.encode(
        &enter(7, 2, [1, 2, 3, 0, 0, 0]),
        20_001,
        &mut paths,
        &mut out,
    )
    .unwrap();
    let mut want = 7i32.to_le_bytes().to_vec();
    want.extend(b"/p\0");
    want.extend(2i32.to_le_bytes());
    want.extend(3u16.to_le_bytes());
    assert_eq!(out, want);
}

#[test]
fn path_probe_records_are_untrusted() {
    let s = KernelSchema::new(&[parse_format(PROBE).unwrap()]);
    let mut paths = SessionState::default();
    let mut out = Vec::new();
    let mut p = probe(1, b"/a");
    // A location past the record, a length past it, a truncated record.
    p[16..20].copy_from_slice(&(200u32 | (2 << 16)).to_le_bytes());
    assert_eq!(s.encode(&p, 1, &mut paths, &mut out), None);
    p[16..20].copy_from_slice(&(20u32 | (900 << 16)).to_le_bytes());
    assert_eq!(s.encode(&p, 1, &mut paths, &mut out), None);
    assert_eq!(s.encode(&p[..18], 1, &mut paths, &mut out), None);
    assert!(out.is_empty() && paths.paths.pending() == 0);
    // Many threads' paths: memory stays bounded.
    for tid in 0..10_000 {
        s.encode(&probe(tid, b"/a"), 1, &mut paths, &mut out)
            .unwrap();
    }
    assert!(paths.paths.pending() <= MAX_PENDING_PATHS);
    // A path longer than PATH_MAX is cut.
    let long = vec![b'a'; 8000];
    let mut big = probe(1, &long[..]);
    big[16..20].copy_from_slice(&(20u32 | (8000 << 16)).to_le_bytes());
    s.encode(&big, 1, &mut paths, &mut out).unwrap();
    assert_eq!(paths.paths.take(1, 1).unwrap().len(), MAX_PATH);
}

/// The schema of `sys_enter` and `sys_exit`, and a way to encode a record into the
/// class it names and its payload after the context.
fn syscall_schema() -> (KernelSchema, SessionState) {
    let formats = [ENTER, EXIT].map(|f| parse_format(f).unwrap());
    (KernelSchema::new(&formats), SessionState::default())
}

fn encoded(s: &KernelSchema, state: &mut SessionState, record: &[u8]) -> (String, Vec<u8>) {
    let mut out = Vec::new();
    let Some(Encoded::Event(class)) = s.encode(record, 1, state, &mut out) else {
        panic!("not encoded");
    };
    (
        s.classes[class as usize].desc.name.clone(),
        out[4..].to_vec(),
    )
}

fn field_names(s: &KernelSchema, event: &str) -> Vec<String> {
    let c = s.classes.iter().find(|c| c.desc.name == event).unwrap();
    c.desc.fields.iter().map(|f| f.name.clone()).collect()
}

#[test]
fn read_records_fd_and_count_on_entry_and_ret_and_buf_on_exit() {
    let (s, mut state) = syscall_schema();
    assert_eq!(field_names(&s, "syscall_entry_read"), ["fd", "count"]);
    assert_eq!(field_names(&s, "syscall_exit_read"), ["ret", "buf"]);
    let (name, p) = encoded(&s, &mut state, &enter(7, 0, [3, 0x7ffd_0000, 832, 9, 9, 9]));
    assert_eq!(name, "syscall_entry_read");
    let mut want = 3u32.to_le_bytes().to_vec();
    want.extend(832u64.to_le_bytes());
    assert_eq!(p, want);
    // Another thread's call in between does not mix up the arguments.
    encoded(&s, &mut state, &enter(8, 0, [4, 0x1111, 1, 0, 0, 0]));
    let (name, p) = encoded(&s, &mut state, &exit(7, 0, 832));
    assert_eq!(name, "syscall_exit_read");
    let mut want = 832i64.to_le_bytes().to_vec();
    want.extend(0x7ffd_0000u64.to_le_bytes());
    assert_eq!(p, want);
    // An exit without its entry (entered before tracing started): buf 0.
    let (_, p) = encoded(&s, &mut state, &exit(9, 0, 5));
    assert_eq!(p[8..], 0u64.to_le_bytes());
    // Thread 8's entry is still there for its exit.
    let (_, p) = encoded(&s, &mut state, &exit(8, 0, 1));
    assert_eq!(p[8..], 0x1111u64.to_le_bytes());
}

#[test]
fn an_exit_read_before_its_entry_from_another_cpu_has_no_output_arguments() {
    let (s, mut state) = syscall_schema();
    let at = |ts: u64, record: &[u8], state: &mut SessionState| {
        let mut out = Vec::new();
        s.encode(record, ts, state, &mut out).unwrap();
        out
    };
    // The thread migrated during the call: its exit (ts 20) comes from the CPU read
    // first, its entry (ts 10) later.
    let x = at(20, &exit(7, 0, 5), &mut state);
    assert_eq!(x[12..], 0u64.to_le_bytes(), "no entry yet: buf 0");
    at(10, &enter(7, 0, [3, 0xbad, 5, 0, 0, 0]), &mut state);
    // The late entry is older than the thread's last exit: never joined to a later one.
    let x = at(40, &exit(7, 0, 5), &mut state);
    assert_eq!(x[12..], 0u64.to_le_bytes());
    at(50, &enter(7, 0, [3, 0x600d, 5, 0, 0, 0]), &mut state);
    let x = at(60, &exit(7, 0, 5), &mut state);
    assert_eq!(x[12..], 0x600du64.to_le_bytes());
}

#[test]
fn typed_fields_have_lttng_sizes_and_bases() {
    let (s, mut state) = syscall_schema();
    let ty = |event: &str, field: &str| {
        let c = s.classes.iter().find(|c| c.desc.name == event).unwrap();
        c.desc
            .fields
            .iter()
            .find(|f| f.name == field)
            .unwrap()
            .ty
            .clone()
    };
    let FieldType::Integer(mode) = ty("syscall_entry_openat", "mode") else {
        panic!()
    };
    assert_eq!((mode.bits, mode.signed), (16, false));
    let FieldType::Integer(ret) = ty("syscall_exit_mmap", "ret") else {
        panic!()
    };
    assert_eq!((ret.bits, ret.signed, ret.base), (64, false, Base::Hex));
    // mmap's fd is an int: a 32-bit -1.
    let (name, p) = encoded(
        &s,
        &mut state,
        &enter(1, 9, [0, 4096, 3, 0x22, u64::MAX, 0]),
    );
    assert_eq!(name, "syscall_entry_mmap");
    assert_eq!(
        field_names(&s, &name),
        ["addr", "len", "prot", "flags", "fd", "offset"]
    );
    assert_eq!(p.len(), 8 + 8 + 4 + 4 + 4 + 8);
    assert_eq!(p[24..28], (-1i32).to_le_bytes());
}

#[test]
fn values_lttng_reads_from_the_program_s_memory_are_empty() {
    let (s, mut state) = syscall_schema();
    // pipe: fildes[2] on exit, from memory: -1, -1.
    encoded(&s, &mut state, &enter(1, 22, [0x1000, 0, 0, 0, 0, 0]));
    let (name, p) = encoded(&s, &mut state, &exit(1, 22, 0));
    assert_eq!(name, "syscall_exit_pipe");
    let mut want = 0i64.to_le_bytes().to_vec();
    want.extend((-1i32).to_le_bytes());
    want.extend((-1i32).to_le_bytes());
    assert_eq!(p, want);
    // connect: the address's family, port and bytes are LTTng's; here 0 and empty.
    assert_eq!(
        field_names(&s, "syscall_entry_connect"),
        [
            "fd",
            "uservaddr",
            "addrlen",
            "family",
            "dport",
            "v4addr",
            "v6addr"
        ]
    );
    let (_, p) = encoded(&s, &mut state, &enter(1, 42, [5, 0xabc, 16, 0, 0, 0]));
    let mut want = 5i32.to_le_bytes().to_vec();
    want.extend(0xabcu64.to_le_bytes());
    want.extend(16i32.to_le_bytes());
    want.extend([0u8; 2 + 2 + 4 + 4]);
    assert_eq!(p, want);
    // execve's file name (no path probe for it): an empty string.
    let (name, p) = encoded(&s, &mut state, &enter(1, 59, [0x10, 0x20, 0x30, 0, 0, 0]));
    assert_eq!(name, "syscall_entry_execve");
    let mut want = vec![0u8];
    want.extend(0x20u64.to_le_bytes());
    want.extend(0x30u64.to_le_bytes());
    assert_eq!(p, want);
}

#[test]
fn unknown_system_calls_carry_id_and_args_on_entry_and_exit() {
    let (s, mut state) = syscall_schema();
    assert_eq!(field_names(&s, "syscall_entry_unknown"), ["id", "args"]);
    assert_eq!(
        field_names(&s, "syscall_exit_unknown"),
        ["id", "ret", "args"]
    );
    let args = [1, 2, 3, 4, 5, 6];
    let (name, p) = encoded(&s, &mut state, &enter(3, 462, args));
    assert_eq!(name, "syscall_entry_unknown");
    let mut words: Vec<u8> = Vec::new();
    args.iter().for_each(|a| words.extend(a.to_le_bytes()));
    let mut want = 462i32.to_le_bytes().to_vec();
    want.extend(&words);
    assert_eq!(p, want);
    let (name, p) = encoded(&s, &mut state, &exit(3, 462, -38));
    assert_eq!(name, "syscall_exit_unknown");
    let mut want = 462i32.to_le_bytes().to_vec();
    want.extend((-38i64).to_le_bytes());
    want.extend(&words);
    assert_eq!(p, want);
}

#[test]
fn kept_entries_stay_bounded() {
    let (s, mut state) = syscall_schema();
    for tid in 0..(syscall::MAX_ENTRIES as i32 + 10) {
        encoded(&s, &mut state, &enter(tid, 0, [0; 6]));
    }
    assert!(state.syscalls.pending() <= syscall::MAX_ENTRIES);
}

#[test]
fn kernel_contexts_follow_vtid_with_lttng_types_and_values() {
    let all = KernelContext::ALL;
    let formats = [SWITCH, FORK, NEWTASK].map(|f| parse_format(f).unwrap());
    let s = KernelSchema::with_contexts(&formats, &all, "box");
    let names: Vec<String> = s.context_fields().into_iter().map(|f| f.name).collect();
    // vtid comes first, always, and is not repeated.
    assert_eq!(
        names,
        [
            "pid",
            "tid",
            "ppid",
            "procname",
            "prio",
            "vpid",
            "vppid",
            "hostname",
            "preemptible",
            "need_reschedule"
        ]
    );
    let mut state = SessionState::default();
    state.statedump_thread(&ProcessState {
        tid: 42,
        pid: 40,
        ppid: 1,
        name: "worker".into(),
        kernel_thread: false,
        status: 5,
        cpu: 0,
    });
    state.statedump_thread(&ProcessState {
        tid: 40,
        pid: 40,
        ppid: 1,
        name: "app".into(),
        kernel_thread: false,
        status: 5,
        cpu: 0,
    });
    // A sched_switch from thread 42, preempt count 0, need-resched set.
    let mut p = vec![0u8; 64];
    p[0..2].copy_from_slice(&372u16.to_le_bytes());
    p[2] = 0x04;
    p[4..8].copy_from_slice(&42i32.to_le_bytes());
    p[8..14].copy_from_slice(b"worker");
    p[24..28].copy_from_slice(&42i32.to_le_bytes());
    p[28..32].copy_from_slice(&110i32.to_le_bytes());
    p[40..44].copy_from_slice(b"idle");
    let mut out = Vec::new();
    s.encode(&p, 0, &mut state, &mut out).unwrap();
    let i = |at: usize| i32::from_le_bytes(out[at..at + 4].try_into().unwrap());
    assert_eq!(
        [i(0), i(4), i(8), i(12)],
        [42, 40, 42, 1],
        "vtid pid tid ppid"
    );
    assert_eq!(&out[16..32], b"worker\0\0\0\0\0\0\0\0\0\0");
    assert_eq!(i(32), 20, "prio before the switch said otherwise");
    assert_eq!([i(36), i(40)], [40, 1], "vpid vppid");
    assert_eq!(&out[44..47], b"box");
    assert_eq!(out[47..109], [0u8; 62]);
    assert_eq!([out[109], out[110]], [1, 1], "preemptible, need_reschedule");
    // The switch told thread 42's priority: 110 - 100.
    out.clear();
    s.encode(&p, 1, &mut state, &mut out).unwrap();
    assert_eq!(i32::from_le_bytes(out[32..36].try_into().unwrap()), 10);
    // The statedump's events of no thread have the contexts too.
    let none = s.no_thread_context(&state);
    assert_eq!(none.len(), 111, "the context's bytes");
    assert_eq!(none[..16], [0u8; 16], "vtid, pid, tid, ppid of no thread");
    for t in 0..70_000 {
        state.threads.named(t, b"x");
    }
    assert!(state.threads.known() <= 1 << 16);
}
