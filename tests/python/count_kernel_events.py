"""Counts a workload's kernel events by LTTng-modules' field names, the way analysis
scripts on babeltrace2's Python bindings (python3-bt2) read LTTng kernel traces.

Usage: count_kernel_events.py KERNEL_TRACE_DIR PID SLEEPER_PID PPID
Prints one JSON object of counts. The trace has the contexts of `lttng add-context -k
-t pid -t tid -t ppid -t procname -t prio -t vpid -t vtid -t vppid`.
"""
import json
import os
import sys

import bt2

trace, pid, sleeper, ppid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pid_ns = os.stat("/proc/self/ns/pid").st_ino
counts = {
    "events": 0,
    "writes_fd11": 0,
    "writes_with_lttng_contexts": 0,
    "write_exits_ret1": 0,
    "reads_fd10": 0,
    "read_exits_ret1": 0,
    "read_exits_with_buf": 0,
    "forks": 0,
    "forked_processes": 0,
    "forks_in_this_pid_ns": 0,
    "execs_true": 0,
    "sleeper_switches_out_sleeping": 0,
    "block_writes_issued": 0,
    "block_completions": 0,
    "lo_transmits": 0,
    "lo_receives": 0,
    "page_allocs": 0,
    "softirq_entries": 0,
    "hrtimer_starts": 0,
    "env_domain": None,
    "env_tracer_name": None,
}
pending = {}  # tid -> the entry being answered
for msg in bt2.TraceCollectionMessageIterator(trace):
    if type(msg) is bt2._StreamBeginningMessageConst and counts["env_domain"] is None:
        env = msg.stream.trace.environment
        counts["env_domain"] = str(env["domain"])
        counts["env_tracer_name"] = str(env["tracer_name"])
    if type(msg) is not bt2._EventMessageConst:
        continue
    ev = msg.event
    name = ev.name
    f = ev.payload_field
    tid = int(ev.common_context_field["vtid"])
    counts["events"] += 1
    if tid == pid and name == "syscall_entry_write" and int(f["fd"]) == 11:
        counts["writes_fd11"] += 1
        c = ev.common_context_field
        counts["writes_with_lttng_contexts"] += (
            int(c["pid"]) == int(c["vpid"]) == pid
            and int(c["tid"]) == int(c["vtid"]) == pid
            and int(c["ppid"]) == int(c["vppid"]) == ppid
            and str(c["procname"]) == "kernel_workload"
            and int(c["prio"]) == 20
        )
        pending[tid] = "write"
    elif tid == pid and name == "syscall_exit_write" and pending.pop(tid, None) == "write":
        counts["write_exits_ret1"] += int(f["ret"]) == 1
    elif tid == pid and name == "syscall_entry_read" and int(f["fd"]) == 10:
        counts["reads_fd10"] += 1
        pending[tid] = "read"
    elif tid == pid and name == "syscall_exit_read" and pending.pop(tid, None) == "read":
        counts["read_exits_ret1"] += int(f["ret"]) == 1
        counts["read_exits_with_buf"] += int(f["buf"]) != 0
    elif name == "sched_process_fork" and int(f["parent_pid"]) == pid:
        counts["forks"] += 1
        counts["forked_processes"] += int(f["child_pid"]) == int(f["child_tid"]) == int(f["vtids"][0])
        counts["forks_in_this_pid_ns"] += int(f["parent_ns_inum"]) == int(f["child_ns_inum"]) == pid_ns
    elif name == "sched_process_exec" and str(f["filename"]) == "/bin/true":
        counts["execs_true"] += 1
    elif name == "sched_switch" and int(f["prev_tid"]) == sleeper and int(f["prev_state"]) == 1:
        counts["sleeper_switches_out_sleeping"] += 1
    elif name == "block_rq_issue" and int(f["rwbs"]) & 1:
        counts["block_writes_issued"] += 1
    elif name == "block_rq_complete":
        counts["block_completions"] += 1
    elif name == "net_dev_xmit" and str(f["name"]) == "lo":
        counts["lo_transmits"] += 1
    elif name in ("net_if_receive_skb", "net_if_rx") and str(f["name"]) == "lo":
        counts["lo_receives"] += 1
    elif name == "kmem_mm_page_alloc":
        counts["page_allocs"] += 1
    elif name == "irq_softirq_entry":
        counts["softirq_entries"] += 1
    elif name == "timer_hrtimer_start":
        counts["hrtimer_starts"] += 1
print(json.dumps(counts))
