//! A member's kernel trace has LTTng-modules 2.13's event layouts, so that tools
//! written for LTTng kernel traces read it by field name:
//! - the scheduler, interrupt, timer, block, network and memory events, built from
//!   this kernel's own ftrace formats, have the names, fields, order and CTF types of a
//!   table written by hand from lttng-modules' `include/instrumentation/events/`;
//! - a workload with known numbers of writes, reads, forks, execs and sleeps, traced
//!   through the daemons with the events enabled by their LTTng names, is counted
//!   exactly by a script on babeltrace2's Python bindings (python3-bt2) that looks
//!   fields up by LTTng's names, and its block I/O, loopback packet, page allocations,
//!   softirqs and timers are there; the contexts of `lttng add-context -k` (pid, tid,
//!   ppid, procname, prio and the v* ids) carry the workload's values.
//!
//! Needs root (accounts, privd, tracefs): under CI=true it fails rather than skips.

mod support;

use std::path::Path;
use std::process::Command;

use ctf::kernel::KernelSchema;
use proto::ftrace::parse_format;
use support::kernel_session::*;
use support::tracing_group::*;
use support::*;

/// Written from lttng-modules 2.13 (`include/instrumentation/events/{sched,irq,timer,
/// kmem,net,block}.h`, the branches for Linux ≥ 6.8): ftrace `system/event`, LTTng's
/// event name, its fields as `name:type`.
const LTTNG_MODULES: &[(&str, &str, &str)] = &[
    (
        "sched/sched_switch",
        "sched_switch",
        "prev_comm:text16 prev_tid:i32 prev_prio:i32 prev_state:i64 next_comm:text16 next_tid:i32 next_prio:i32",
    ),
    ("sched/sched_wakeup", "sched_wakeup", "comm:text16 tid:i32 prio:i32 target_cpu:i32"),
    ("sched/sched_waking", "sched_waking", "comm:text16 tid:i32 prio:i32 target_cpu:i32"),
    (
        "sched/sched_wakeup_new",
        "sched_wakeup_new",
        "comm:text16 tid:i32 prio:i32 target_cpu:i32",
    ),
    (
        "sched/sched_process_fork",
        "sched_process_fork",
        "parent_comm:text16 parent_tid:i32 parent_pid:i32 parent_ns_inum:u32 child_comm:text16 child_tid:i32 vtids:i32*u8 child_pid:i32 child_ns_inum:u32",
    ),
    ("sched/sched_process_exec", "sched_process_exec", "filename:str tid:i32 old_tid:i32"),
    (
        "sched/sched_process_exit",
        "sched_process_exit",
        "comm:text16 tid:i32 prio:i32 group_dead:u8",
    ),
    ("sched/sched_process_free", "sched_process_free", "comm:text16 tid:i32 prio:i32"),
    (
        "sched/sched_migrate_task",
        "sched_migrate_task",
        "comm:text16 tid:i32 prio:i32 orig_cpu:i32 dest_cpu:i32",
    ),
    ("sched/sched_stat_runtime", "sched_stat_runtime", "comm:text16 tid:i32 runtime:u64"),
    ("irq/irq_handler_entry", "irq_handler_entry", "irq:i32 name:str"),
    ("irq/irq_handler_exit", "irq_handler_exit", "irq:i32 ret:i32"),
    ("irq/softirq_entry", "irq_softirq_entry", "vec:u32"),
    ("irq/softirq_exit", "irq_softirq_exit", "vec:u32"),
    ("irq/softirq_raise", "irq_softirq_raise", "vec:u32"),
    (
        "timer/hrtimer_start",
        "timer_hrtimer_start",
        "hrtimer:x64 function:x64 expires:i64 softexpires:i64 mode:u32",
    ),
    (
        "timer/hrtimer_expire_entry",
        "timer_hrtimer_expire_entry",
        "hrtimer:x64 now:i64 function:x64",
    ),
    ("timer/hrtimer_expire_exit", "timer_hrtimer_expire_exit", "hrtimer:x64"),
    ("timer/hrtimer_cancel", "timer_hrtimer_cancel", "hrtimer:x64"),
    (
        "kmem/mm_page_alloc",
        "kmem_mm_page_alloc",
        "page:x64 pfn:u64 order:u32 gfp_flags:u32 migratetype:i32",
    ),
    ("kmem/mm_page_free", "kmem_mm_page_free", "page:x64 pfn:u64 order:u32"),
    ("net/net_dev_xmit", "net_dev_xmit", "skbaddr:x64 rc:i32 len:u32 name:str"),
    ("net/net_dev_queue", "net_dev_queue", "skbaddr:x64 len:u32 name:str"),
    ("net/netif_receive_skb", "net_if_receive_skb", "skbaddr:x64 len:u32 name:str"),
    ("net/netif_rx", "net_if_rx", "skbaddr:x64 len:u32 name:str"),
    (
        "block/block_rq_issue",
        "block_rq_issue",
        "dev:u32 sector:u64 nr_sector:u32 bytes:u32 tid:i32 rwbs:u32 comm:text16",
    ),
    (
        "block/block_rq_insert",
        "block_rq_insert",
        "dev:u32 sector:u64 nr_sector:u32 bytes:u32 tid:i32 rwbs:u32 comm:text16",
    ),
    (
        "block/block_rq_complete",
        "block_rq_complete",
        "dev:u32 sector:u64 nr_sector:u32 error:i32 rwbs:u32",
    ),
    (
        "block/block_rq_requeue",
        "block_rq_requeue",
        "dev:u32 sector:u64 nr_sector:u32 rwbs:u32",
    ),
    (
        "block/block_bio_complete",
        "block_bio_complete",
        "dev:u32 sector:u64 nr_sector:u32 error:i32 rwbs:u32",
    ),
    (
        "block/block_bio_queue",
        "block_bio_queue",
        "dev:u32 sector:u64 nr_sector:u32 rwbs:u32 tid:i32 comm:text16",
    ),
    (
        "block/block_bio_backmerge",
        "block_bio_backmerge",
        "dev:u32 sector:u64 nr_sector:u32 rwbs:u32 tid:i32 comm:text16",
    ),
    (
        "block/block_bio_remap",
        "block_bio_remap",
        "dev:u32 sector:u64 nr_sector:u32 rwbs:u32 old_dev:u32 old_sector:u64",
    ),
];

fn tracefs() -> &'static Path {
    let t = Path::new("/sys/kernel/tracing");
    if !t.join("events").exists() {
        run("mount", &["-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
    }
    t
}

#[test]
fn kernel_events_built_from_this_kernel_s_formats_match_lttng_modules() {
    if !root_or_skip() {
        return;
    }
    let mut wrong = Vec::new();
    for (ftrace, lttng, fields) in LTTNG_MODULES {
        let path = tracefs().join("events").join(ftrace).join("format");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (this kernel lacks the event)", path.display()));
        let schema = KernelSchema::new(&[parse_format(&text).unwrap()]);
        let class = &schema.classes[0].desc;
        let ours: Vec<String> = class
            .fields
            .iter()
            .map(|f| format!("{}:{}", f.name, type_notation(&f.ty)))
            .collect();
        if class.name != *lttng || ours.join(" ") != *fields {
            wrong.push(format!(
                "{ftrace}: ours {} {{ {} }}, LTTng-modules {lttng} {{ {fields} }}",
                class.name,
                ours.join(" ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_workload_is_counted_exactly_by_field_name_through_babeltrace2_s_python_bindings() {
    if !root_or_skip() {
        return;
    }
    tracefs();
    let setup = Setup::new("kcount", false);
    let (u, h, s) = setup.member();
    let dir = TempDir::new("kcount-build");
    let obj = support::c::compile(dir.path(), "cc", "kernel_workload", "kernel_workload", &[]);
    let exe = dir.path().join("kernel_workload");
    support::c::run(
        dir.path(),
        "cc",
        &[&obj.to_string_lossy(), "-o", &exe.to_string_lossy()],
    );
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    lttng(u, h, s, &["create", "kcount"]);
    lttng(
        u,
        h,
        s,
        &[
            "enable-channel",
            "-k",
            "k",
            "--subbuf-size",
            "1M",
            "--num-subbuf",
            "4",
        ],
    );
    // LTTng's names, as a user of LTTng types them.
    let events = LTTNG_MODULES
        .iter()
        .map(|(_, lttng, _)| *lttng)
        .collect::<Vec<_>>()
        .join(",");
    lttng(u, h, s, &["enable-event", "-k", "-c", "k", &events]);
    lttng(
        u,
        h,
        s,
        &["enable-event", "-k", "-c", "k", "--syscall", "read,write"],
    );
    let contexts = [
        "pid", "tid", "ppid", "procname", "prio", "vpid", "vtid", "vppid",
    ];
    let mut add = vec!["add-context", "-k"];
    for c in &contexts {
        add.extend(["-t", c]);
    }
    let said = lttng(u, h, s, &add);
    for c in &contexts {
        assert!(
            said.contains(&format!("kernel context {c} added to all channels")),
            "{said}"
        );
    }
    lttng(u, h, s, &["start"]);
    let target = h.join("direct-io-file");
    let out = as_member(u, h, s, &exe).arg(&target).output().unwrap();
    assert!(out.status.success(), "workload: {out:?}");
    lttng(u, h, s, &["stop"]);
    let pid_line = String::from_utf8_lossy(&out.stdout);
    let sleeper: i64 = pid_line.trim().parse().unwrap();

    let trace = setup.output().join("kernel");
    // The workload's pid: the parent of its first fork.
    let read = read_trace(&setup.output());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let pid = read
        .events
        .iter()
        .find(|e| {
            &*e.name == "sched_process_fork"
                && field(&e.fields, "child_pid").and_then(ctf::reader::Value::as_i64)
                    == Some(sleeper)
        })
        .and_then(|e| field(&e.fields, "parent_pid").and_then(ctf::reader::Value::as_i64))
        .expect("the fork of the sleeper");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/count_kernel_events.py");
    // Debian's interpreter, where python3-bt2 installs the module.
    let py = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&trace)
        .arg(pid.to_string())
        .arg(sleeper.to_string())
        // The workload is this test's child (setpriv and env exec it).
        .arg(std::process::id().to_string())
        .output()
        .expect("python3");
    assert!(
        py.status.success(),
        "python3-bt2 (apt-get install python3-bt2): {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let text = String::from_utf8_lossy(&py.stdout);
    eprintln!("python3-bt2 counts: {text}");
    let count = |key: &str| -> i64 {
        let at = text
            .find(&format!("\"{key}\": "))
            .unwrap_or_else(|| panic!("no {key} in {text}"));
        let rest = &text[at + key.len() + 4..];
        let end = rest.find([',', '}']).unwrap();
        rest[..end]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key}: {rest}"))
    };
    let string = |key: &str| -> String {
        let at = text
            .find(&format!("\"{key}\": \""))
            .unwrap_or_else(|| panic!("{key}"));
        let rest = &text[at + key.len() + 5..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    // Exactly what the workload did (tests/c/kernel_workload.c).
    for (key, want) in [
        ("writes_fd11", 50),
        ("writes_with_lttng_contexts", 50),
        ("write_exits_ret1", 50),
        ("reads_fd10", 50),
        ("read_exits_ret1", 50),
        ("forks", 6),
        ("forked_processes", 6),
        ("forks_in_this_pid_ns", 6),
        ("execs_true", 5),
        ("sleeper_switches_out_sleeping", 20),
    ] {
        assert_eq!(count(key), want, "{key} in {text}");
    }
    assert!(count("hrtimer_starts") >= 20, "{text}");
    // Exits read before their entry from another CPU's pages lack their buffer.
    assert!(count("read_exits_with_buf") >= 25, "{text}");
    for key in [
        "lo_transmits",
        "lo_receives",
        "page_allocs",
        "softirq_entries",
    ] {
        assert!(count(key) >= 1, "no {key} in {text}");
    }
    // Block I/O, when the file is on a block device (not tmpfs).
    let fs = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(h)
        .output()
        .unwrap();
    if String::from_utf8_lossy(&fs.stdout).trim() != "tmpfs" {
        assert!(count("block_writes_issued") >= 1, "{text}");
        assert!(count("block_completions") >= 1, "{text}");
    }
    assert_eq!(string("env_domain"), "kernel");
    assert_eq!(string("env_tracer_name"), "lttng-modules");
    // babeltrace2 reads it all with nothing to say.
    if let Some(bt) = babeltrace2(&[trace.as_os_str()]) {
        let warnings = String::from_utf8_lossy(&bt.stderr);
        assert!(bt.status.success() && warnings.is_empty(), "{warnings}");
    }
    lttng(u, h, s, &["destroy"]);
}
