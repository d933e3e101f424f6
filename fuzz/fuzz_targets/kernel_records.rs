//! consumer-kernel's record encoder on arbitrary records, as ftrace pages carry them:
//! the schema of `sched_switch`, `raw_syscalls`, a path probe, `sched_process_fork`,
//! `task_newtask` and `sched_process_exec` (32-bit programs' calls), fed records cut
//! from the input (`u16` length, `u16` timestamp step, bytes), with the session's state
//! (paths, processes) carried from one to the next. It must never panic; a refused
//! record leaves the output as it was; an absorbed one (a path probe) writes nothing;
//! the waiting paths, the process table and the system call entries kept for their
//! exits, and the threads' names, priorities and parents stay bounded. Every kernel
//! context is on.
#![no_main]

use ctf::kernel::{Encoded, KernelSchema, SessionState};
use proto::event::KernelContext;
use proto::ftrace::parse_format;

const FORMATS: [&str; 7] = [
    "name: sched_switch\nID: 372\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n",
    "name: sys_enter\nID: 443\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n",
    "name: sys_exit\nID: 442\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n",
    "name: sched_process_fork\nID: 366\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n",
    "name: task_newtask\nID: 205\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n\tfield:u64 clone_flags;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:short oom_score_adj;\toffset:40;\tsize:2;\tsigned:1;\n",
    "name: sched_process_exec\nID: 367\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n",
    "name: lttng_rs_openat_path\nID: 2326\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:__data_loc char[] path;\toffset:16;\tsize:4;\tsigned:1;\n",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let formats: Vec<_> = FORMATS.iter().map(|f| parse_format(f).unwrap()).collect();
    let schema = KernelSchema::with_contexts(&formats, &KernelContext::ALL, "fuzz");
    let mut state = SessionState::default();
    let mut out = vec![0xAA; 3];
    let mut ts = 0u64;
    let mut rest = data;
    while rest.len() >= 4 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        ts += u64::from(u16::from_le_bytes([rest[2], rest[3]]));
        rest = &rest[4..];
        let rec = &rest[..len.min(rest.len())];
        rest = &rest[rec.len()..];
        let before = out.len();
        match schema.encode(rec, ts, &mut state, &mut out) {
            Some(Encoded::Event(id)) => {
                assert!((id as usize) < schema.classes.len());
                assert!(out.len() >= before + 4, "at least the tid context");
            }
            Some(Encoded::Absorbed) | None => assert_eq!(out.len(), before),
        }
        assert!(state.paths.pending() <= 4096);
        assert!(state.tasks.known() <= 1 << 16);
        assert!(state.syscalls.pending() <= 1 << 16);
        assert!(state.threads.known() <= 1 << 16);
    }
});
