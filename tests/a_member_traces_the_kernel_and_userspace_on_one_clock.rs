//! A member of the tracing group records kernel and userspace events in one session,
//! without root: `lttng enable-event -k sched_switch`, `-k --syscall`, `-u 'myapp:*'`.
//! The kernel trace holds sched_switch events naming the traced program and the
//! entry/exit pairs of its system calls (the thread in each event's context); one
//! babeltrace2 run reads both traces merged, exit 0 and nothing on stderr; and the two
//! share one clock: the program's userspace events fall between the end of the `read`
//! that asked for them and the start of the `write` that answers. Needs root (accounts,
//! privd): under CI=true it fails rather than skips without it.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ctf::reader::Value;
use support::kernel_session::*;
use support::tracing_group::*;
use support::user::bin_dir;
use support::*;

#[test]
fn kernel_and_userspace_events_share_one_timeline() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("ktrace", false);
    let (u, h, s) = setup.member();
    lttng(u, h, s, &["create", "both"]);
    lttng(u, h, s, &["enable-event", "-k", "sched_switch"]);
    lttng(u, h, s, &["enable-event", "-k", "--syscall"]);
    lttng(u, h, s, &["enable-event", "-u", "myapp:*"]);
    lttng(u, h, s, &["start"]);

    let mut app = as_member(u, h, s, Path::new(env!("CARGO_BIN_EXE_ust_app")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = app.id() as i64;
    let mut stdin = app.stdin.take().unwrap();
    let mut stdout = BufReader::new(app.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    for _ in 0..3 {
        writeln!(stdin, "emit 5").unwrap();
        stdin.flush().unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A file with a name of its own, opened by the program.
    let known = format!("/etc/hostname-or-not-{}", std::process::id());
    writeln!(stdin, "open {known}").unwrap();
    writeln!(stdin, "open /etc/hostname").unwrap();
    stdin.flush().unwrap();
    for _ in 0..2 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }
    writeln!(stdin, "quit").unwrap();
    assert!(app.wait().unwrap().success());
    lttng(u, h, s, &["stop"]);

    let traces: PathBuf = setup.output();
    assert!(traces.join("kernel/metadata").exists() && traces.join("ust").is_dir());
    // The kernel trace shows every process of the machine: its owner's eyes only.
    let mode = |p: &str| {
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(traces.join(p)).unwrap().permissions(),
        ) & 0o777
    };
    assert_eq!(mode("kernel"), 0o700);
    assert_eq!(mode("kernel/metadata"), 0o600);
    assert_eq!(mode("kernel/channel0_0"), 0o600);
    let read = read_trace(&traces);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let tid = |e: &ctf::reader::Event| field(&e.stream_context, "vtid").and_then(Value::as_i64);
    let name = |e: &ctf::reader::Event| e.name.to_string();
    let switches = read
        .events
        .iter()
        .filter(|e| {
            &*e.name == "sched_switch"
                && ["prev_comm", "next_comm"]
                    .iter()
                    .any(|f| field(&e.fields, f).and_then(Value::as_str) == Some("ust_app"))
        })
        .count();
    assert!(switches > 0, "sched_switch naming the program");
    // The statedump: the threads that existed at the start, this test's among them,
    // before any other kernel event.
    let dump: Vec<&ctf::reader::Event> = read
        .events
        .iter()
        .filter(|e| e.name.starts_with("lttng_statedump_"))
        .collect();
    assert_eq!(
        dump.first().map(|e| name(e)).as_deref(),
        Some("lttng_statedump_start")
    );
    assert_eq!(
        dump.last().map(|e| name(e)).as_deref(),
        Some("lttng_statedump_end")
    );
    let me = i64::from(std::process::id());
    let mine = dump
        .iter()
        .find(|e| {
            field(&e.fields, "tid").and_then(Value::as_i64) == Some(me)
                && field(&e.fields, "pid").and_then(Value::as_i64) == Some(me)
        })
        .unwrap_or_else(|| panic!("no statedump of this test's thread {me}"));
    assert!(field(&mine.fields, "name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty()));
    let first_kernel = read
        .events
        .iter()
        .filter(|e| !e.name.starts_with("lttng_statedump_") && !e.name.contains(':'))
        .map(|e| e.timestamp_ns)
        .min()
        .unwrap();
    assert!(dump.iter().all(|e| e.timestamp_ns <= first_kernel));
    // The program's own system calls, in pairs.
    let mine: Vec<&ctf::reader::Event> =
        read.events.iter().filter(|e| tid(e) == Some(pid)).collect();
    let entries = mine
        .iter()
        .filter(|e| name(e) == "syscall_entry_write")
        .count();
    let exits = mine
        .iter()
        .filter(|e| name(e) == "syscall_exit_write")
        .count();
    assert!(
        entries >= 3 && entries == exits,
        "write pairs: {entries} entries, {exits} exits"
    );
    // LTTng-modules' fields: the answers written to stdout (fd 1, a pipe: written
    // whole), the commands read from stdin (fd 0) into a buffer named on the exit.
    let int = |e: &ctf::reader::Event, f: &str| {
        field(&e.fields, f)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("{} without {f}: {e:?}", e.name))
    };
    let next_exit = |entry: &ctf::reader::Event, exit: &str| {
        *mine
            .iter()
            .find(|e| name(e) == exit && e.timestamp_ns >= entry.timestamp_ns)
            .unwrap_or_else(|| panic!("no {exit} after {entry:?}"))
    };
    for w in mine.iter().filter(|e| name(e) == "syscall_entry_write") {
        assert_eq!(int(w, "fd"), 1, "{w:?}");
        assert!(int(w, "buf") != 0);
        assert_eq!(
            int(next_exit(w, "syscall_exit_write"), "ret"),
            int(w, "count")
        );
    }
    let stdin_reads: Vec<_> = mine
        .iter()
        .filter(|e| name(e) == "syscall_entry_read" && int(e, "fd") == 0)
        .collect();
    assert!(
        stdin_reads.len() >= 3,
        "{} reads of stdin",
        stdin_reads.len()
    );
    let mut with_buf = 0;
    for r in &stdin_reads {
        let exit = next_exit(r, "syscall_exit_read");
        let ret = int(exit, "ret");
        assert!(ret > 0 && ret <= int(r, "count"), "{r:?} {exit:?}");
        with_buf += usize::from(int(exit, "buf") != 0);
    }
    // An exit read from another CPU's pages before its entry (the thread migrated
    // during the call) has no output arguments; the others do.
    assert!(
        with_buf * 2 >= stdin_reads.len(),
        "{with_buf} of {} read exits with their buffer",
        stdin_reads.len()
    );
    // The file names it opened, in the `openat` entries' payload (LTTng's fields),
    // each followed by its exit: -ENOENT (-2) for the file that does not exist.
    let opened: Vec<(String, i128)> = mine
        .iter()
        .filter(|e| name(e) == "syscall_entry_openat")
        .map(|e| {
            (
                field(&e.fields, "filename")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("openat without filename: {e:?}"))
                    .to_string(),
                e.timestamp_ns,
            )
        })
        .collect();
    // The dynamic loader's own opens, made through none of the C library's functions:
    // its cache and the C library itself.
    for loaded in ["/etc/ld.so.cache", "/libc.so.6"] {
        assert!(
            opened.iter().any(|(p, _)| p.ends_with(loaded)),
            "no openat of ...{loaded} by the loader among {opened:?}"
        );
    }
    for path in [known.as_str(), "/etc/hostname"] {
        let Some(&(_, t)) = opened.iter().find(|(p, _)| p == path) else {
            panic!("no openat of {path} among {opened:?}");
        };
        let ret = mine
            .iter()
            .find(|e| name(e) == "syscall_exit_openat" && e.timestamp_ns >= t)
            .and_then(|e| field(&e.fields, "ret").and_then(Value::as_i64));
        if path == known {
            assert_eq!(ret, Some(-2), "{path} does not exist");
        } else {
            assert!(ret.is_some_and(|r| r >= 0), "{path}: {ret:?}");
        }
    }
    // The kernel trace's environment, as LTTng-modules writes it (tools pick their
    // kernel analyses by it).
    let kernel_metadata = std::fs::read_to_string(setup.output().join("kernel/metadata")).unwrap();
    let env = kernel_metadata
        .split("env {")
        .nth(1)
        .and_then(|e| e.split("};").next())
        .unwrap_or_else(|| panic!("no env block in\n{kernel_metadata}"));
    for key in [
        "hostname = \"",
        "domain = \"kernel\";",
        "sysname = \"Linux\";",
        "kernel_release = \"",
        "kernel_version = \"",
        "tracer_name = \"lttng-modules\";",
        "tracer_major = 2;",
        "tracer_minor = 13;",
        "tracer_patchlevel = 0;",
        "trace_buffering_scheme = \"global\";",
        "trace_name = \"",
        "trace_creation_datetime = \"",
    ] {
        assert!(env.contains(key), "no {key} in the kernel env:{env}");
    }
    // One clock: each batch of userspace events sits between the end of the read that
    // brought the command and the start of the write that answers it.
    let ust: Vec<&ctf::reader::Event> = read
        .events
        .iter()
        .filter(|e| e.name.starts_with("myapp:"))
        .collect();
    assert_eq!(ust.len(), 30);
    for u_ev in &ust {
        let t = u_ev.timestamp_ns;
        let before = mine
            .iter()
            .filter(|k| name(k) == "syscall_exit_read" && k.timestamp_ns <= t)
            .map(|k| k.timestamp_ns)
            .max();
        let after = mine
            .iter()
            .filter(|k| name(k) == "syscall_entry_write" && k.timestamp_ns >= t)
            .map(|k| k.timestamp_ns)
            .min();
        let (Some(b), Some(a)) = (before, after) else {
            panic!("no read exit before or write entry after the event at {t}");
        };
        assert!(
            t - b < 50_000_000 && a - t < 50_000_000,
            "{b} <= {t} <= {a}"
        );
    }
    if let Some(bt) = babeltrace2(&[traces.as_os_str()]) {
        assert!(
            bt.status.success(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        // Nothing but the kernel's own losses, which a loaded machine may cause (they
        // are counted in the packets, as they should be).
        let warnings = String::from_utf8_lossy(&bt.stderr);
        assert!(
            warnings.lines().all(|l| l.is_empty()
                || (l.starts_with("WARNING: Tracer discarded") && l.contains("/kernel\" (UUID"))),
            "{warnings}"
        );
        let text = String::from_utf8_lossy(&bt.stdout);
        assert!(text.contains("myapp:request") && text.contains("sched_switch"));
        let write = text
            .lines()
            .find(|l| l.contains("syscall_entry_write:") && l.contains(&format!("vtid = {pid} ")))
            .unwrap_or_else(|| panic!("babeltrace2 shows no write of {pid}"));
        assert!(
            write.contains("{ fd = 1, buf = ") && write.contains(", count = "),
            "{write}"
        );
    }
    lttng(u, h, s, &["destroy"]);
}

#[test]
fn a_non_member_enabling_kernel_events_is_told_which_group_to_join() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("kstranger", true);
    let (_, h, s) = setup.member();
    let u = setup.acc.stranger.as_str();
    lttng(u, h, s, &["create", "k"]);
    let out = as_member(u, h, s, &bin_dir().join("lttng"))
        .args(["enable-event", "-k", "sched_switch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("kernel tracing needs membership in group '{0}' (ask an administrator: usermod -aG {0} {1})", setup.acc.group, setup.acc.stranger)),
        "{err}"
    );
    let mine: Vec<_> = std::fs::read_dir("/sys/kernel/tracing/instances")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("lttng-rs-u{}-", setup.uid)))
        .collect();
    assert!(
        mine.is_empty(),
        "nothing created under tracefs for the stranger: {mine:?}"
    );
}

#[test]
fn overloaded_kernel_buffers_lose_events_that_are_counted_and_the_trace_still_reads() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("koverload", false);
    let (u, h, s) = setup.member();
    lttng(u, h, s, &["create", "tiny"]);
    // 2 x 4 KiB per CPU: far too small for what follows.
    lttng(
        u,
        h,
        s,
        &[
            "enable-channel",
            "-k",
            "k",
            "--subbuf-size",
            "4k",
            "--num-subbuf",
            "2",
        ],
    );
    lttng(u, h, s, &["enable-event", "-k", "--syscall"]);
    lttng(u, h, s, &["start"]);
    // A few hundred thousand system calls as fast as possible.
    let busy = as_member(u, h, s, Path::new("/bin/dd"))
        .args(["if=/dev/zero", "of=/dev/null", "bs=1", "count=300000"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(busy.success());
    lttng(u, h, s, &["stop"]);
    let traces: PathBuf = setup.output();
    let read = read_trace(&traces);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert!(!read.events.is_empty());
    assert!(
        !read.discarded.is_empty(),
        "losses are reported ({} events read)",
        read.events.len()
    );
    if let Some(bt) = babeltrace2(&[traces.as_os_str()]) {
        let err = String::from_utf8_lossy(&bt.stderr);
        assert!(bt.status.success(), "{err}");
        assert!(
            err.contains("discarded"),
            "babeltrace2 reports the losses: {err}"
        );
        assert!(!err.contains("ERROR"), "{err}");
    }
    lttng(u, h, s, &["destroy"]);
}

#[test]
fn only_the_named_system_calls_are_recorded() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("ksyscalls", false);
    let (u, h, s) = setup.member();
    lttng(u, h, s, &["create", "some"]);
    let refused = as_member(u, h, s, &bin_dir().join("lttng"))
        .args(["enable-event", "-k", "--syscall", "openat,nosuch"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("'nosuch' is not a system call"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let said = lttng(
        u,
        h,
        s,
        &["enable-event", "-k", "--syscall", "openat,write"],
    );
    assert!(said.contains("Kernel syscall openat enabled"), "{said}");
    lttng(u, h, s, &["enable-event", "-k", "--syscall", "close"]);
    let listed = lttng(u, h, s, &["list", "some"]);
    assert!(
        listed.contains("System calls recorded: write, close, openat"),
        "{listed}"
    );
    lttng(u, h, s, &["start"]);
    // dd opens, reads, writes and closes; cat too.
    let busy = as_member(u, h, s, Path::new("/bin/dd"))
        .args(["if=/etc/hostname", "of=/dev/null", "bs=1", "count=64"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(busy.success());
    lttng(u, h, s, &["stop"]);
    let read = read_trace(&setup.output());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let mut seen = std::collections::BTreeSet::new();
    for e in read
        .events
        .iter()
        .filter(|e| !e.name.starts_with("lttng_statedump_"))
    {
        let n = e.name.to_string();
        let call = n
            .strip_prefix("syscall_entry_")
            .or_else(|| n.strip_prefix("syscall_exit_"))
            .unwrap_or_else(|| panic!("only system calls were enabled, not {n}"));
        assert!(
            ["openat", "write", "close"].contains(&call),
            "{n} was not asked for"
        );
        seen.insert(n);
    }
    for want in [
        "syscall_entry_openat",
        "syscall_exit_openat",
        "syscall_entry_write",
        "syscall_entry_close",
    ] {
        assert!(seen.contains(want), "no {want} in {seen:?}");
    }
    lttng(u, h, s, &["destroy"]);
}

/// The kernel consumer of the session whose daemon runs in `home`.
fn kernel_consumer(home: &Path) -> Option<i32> {
    let daemon: i32 = std::fs::read_to_string(home.join(".lttng-rs/sessiond.lock"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    children_named(daemon, "lttng-consumerd")
        .into_iter()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("consumerd-kernel"))
        })
}

#[test]
fn a_killed_kernel_consumer_is_replaced_and_the_trace_reads_on() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("krestart", false);
    let (u, h, s) = setup.member();
    lttng(u, h, s, &["create", "again"]);
    lttng(u, h, s, &["enable-event", "-k", "sched_switch"]);
    lttng(u, h, s, &["enable-event", "-k", "--syscall", "read,write"]);
    lttng(u, h, s, &["start"]);
    let dd = |count: &str| {
        let mut c = as_member(u, h, s, Path::new("/bin/dd"))
            .args([
                "if=/dev/zero",
                "of=/dev/null",
                "bs=1",
                &format!("count={count}"),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = c.id() as i64;
        assert!(c.wait().unwrap().success());
        pid
    };
    let before = dd("2000");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let first = kernel_consumer(h).expect("a kernel consumer");
    assert_eq!(unsafe_kill(first), 0);
    let mut second = None;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        second = kernel_consumer(h).filter(|&p| p != first);
        if second.is_some() {
            break;
        }
    }
    assert!(second.is_some(), "no new kernel consumer after SIGKILL");
    let after = dd("3000");
    lttng(u, h, s, &["stop"]);
    let listed = lttng(u, h, s, &["list", "again"]);
    assert!(
        listed.contains("Kernel consumer restarted 1 time(s)"),
        "{listed}"
    );
    let traces = setup.output();
    let read = read_trace(&traces);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let writes_of = |pid: i64| {
        read.events
            .iter()
            .filter(|e| {
                &*e.name == "syscall_entry_write"
                    && field(&e.stream_context, "vtid").and_then(Value::as_i64) == Some(pid)
            })
            .count()
    };
    // dd copies byte by byte: one write per byte (and a final write of its report,
    // to /dev/null here too).
    assert!(
        writes_of(after) >= 3000,
        "after the restart: {}",
        writes_of(after)
    );
    assert!(writes_of(before) > 0, "before the kill");
    assert!(
        read.discarded
            .iter()
            .any(|d| matches!(d.kind, ctf::reader::DiscardedKind::Packets(_))),
        "what the dead consumer held is reported: {:?}",
        read.discarded
    );
    if let Some(bt) = babeltrace2(&[traces.as_os_str()]) {
        let err = String::from_utf8_lossy(&bt.stderr);
        assert!(bt.status.success() && !err.contains("ERROR"), "{err}");
    }
    lttng(u, h, s, &["destroy"]);
}

#[allow(unsafe_code)]
fn unsafe_kill(pid: i32) -> i32 {
    // SAFETY: kill(2) has no memory preconditions.
    unsafe { libc::kill(pid, libc::SIGKILL) }
}

#[test]
fn disabled_kernel_events_stop_being_recorded() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("kdisable", false);
    let (u, h, s) = setup.member();
    lttng(u, h, s, &["create", "dis"]);
    lttng(u, h, s, &["enable-event", "-k", "sched_switch"]);
    lttng(u, h, s, &["enable-event", "-k", "--syscall"]);
    lttng(u, h, s, &["start"]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let said = lttng(u, h, s, &["disable-event", "-k", "sys_enter,sys_exit"]);
    assert!(
        said.contains("raw_syscalls:sys_enter") && said.contains("raw_syscalls:sys_exit"),
        "{said}"
    );
    let disabled_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    // Keep the CPUs switching for a while after the disable.
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = lttng(u, h, s, &["status"]);
    assert!(
        status.contains("sched:sched_switch [enabled]") && !status.contains("sys_enter"),
        "{status}"
    );
    lttng(u, h, s, &["stop"]);
    let traces: PathBuf = setup.output();
    let read = read_trace(&traces);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let syscalls: Vec<i128> = read
        .events
        .iter()
        .filter(|e| e.name.starts_with("syscall_"))
        .map(|e| e.timestamp_ns)
        .collect();
    assert!(!syscalls.is_empty(), "system calls before the disable");
    let last = syscalls.iter().max().unwrap();
    assert!(
        *last < disabled_at,
        "a system call recorded {} ns after the disable",
        last - disabled_at
    );
    assert!(
        read.events
            .iter()
            .any(|e| &*e.name == "sched_switch" && e.timestamp_ns > disabled_at),
        "sched_switch still recorded"
    );
    lttng(u, h, s, &["destroy"]);
}

/// `lttng trace -k -- COMMAND` run by the member: the command's pid and its trace,
/// read without errors.
fn trace_k(setup: &Setup, command: &[&str]) -> (i64, Read) {
    let (u, h, s) = setup.member();
    let out = as_member(u, h, s, &bin_dir().join("lttng"))
        .args(["trace", "-k", "--quiet", "--"])
        .args(command)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let pid: i64 = err
        .lines()
        .find_map(|l| l.strip_prefix("Tracing process "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    let trace = err
        .lines()
        .find_map(|l| l.strip_prefix("Trace written to "))
        .unwrap_or_else(|| panic!("{err}"));
    let read = read_trace(Path::new(trace));
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    (pid, read)
}

#[test]
fn lttng_trace_k_records_the_kernel_events_of_the_command_only() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("ktracecmd", false);
    let (pid, read) = trace_k(&setup, &[env!("CARGO_BIN_EXE_ust_app"), "emit", "3"]);
    assert_eq!(
        read.events
            .iter()
            .filter(|e| e.name.starts_with("myapp:"))
            .count(),
        6
    );
    let syscalls: Vec<&ctf::reader::Event> = read
        .events
        .iter()
        .filter(|e| e.name.starts_with("syscall_"))
        .collect();
    assert!(syscalls.len() > 20, "{} system call events", syscalls.len());
    // The command's threads and children: its pid, and whatever its clones returned
    // (event-fork follows them), in time order.
    let mut family = std::collections::HashSet::from([pid]);
    for e in &syscalls {
        let tid = field(&e.stream_context, "vtid")
            .and_then(Value::as_i64)
            .unwrap();
        assert!(
            family.contains(&tid),
            "{} from thread {tid}, outside the command's tree {family:?}",
            e.name
        );
        if matches!(
            &*e.name,
            "syscall_exit_clone"
                | "syscall_exit_clone3"
                | "syscall_exit_fork"
                | "syscall_exit_vfork"
        ) {
            if let Some(child) = field(&e.fields, "ret")
                .and_then(Value::as_i64)
                .filter(|r| *r > 0)
            {
                family.insert(child);
            }
        }
    }
    assert!(
        read.events.iter().any(|e| &*e.name == "sched_process_exec"),
        "the exec of the command"
    );
    // The statedump describes the command only (the shell it started as, stopped).
    let dumped: Vec<i64> = read
        .events
        .iter()
        .filter(|e| &*e.name == "lttng_statedump_process_state")
        .map(|e| field(&e.fields, "pid").and_then(Value::as_i64).unwrap())
        .collect();
    assert_eq!(dumped, [pid], "statedump of the command only");
}

#[test]
fn a_fork_names_the_child_process_and_thread() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("kfork", false);
    // A shell forks the program (a process of its own), which starts two threads.
    let script = format!("{} 2 10; true", env!("CARGO_BIN_EXE_stress"));
    let (shell, read) = trace_k(&setup, &["/bin/sh", "-c", &script]);
    let int = |e: &ctf::reader::Event, name: &str| {
        field(&e.fields, name)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("{} without {name}", e.name))
    };
    // (parent_tid, parent_pid, child_tid, child_pid) of every fork.
    let forks: Vec<[i64; 4]> = read
        .events
        .iter()
        .filter(|e| &*e.name == "sched_process_fork")
        .map(|e| ["parent_tid", "parent_pid", "child_tid", "child_pid"].map(|n| int(e, n)))
        .collect();
    let program: Vec<&[i64; 4]> = forks.iter().filter(|f| f[0] == shell).collect();
    assert_eq!(
        program.len(),
        1,
        "the shell forks the program once: {forks:?}"
    );
    let p = program[0][2];
    assert_eq!(
        *program[0],
        [shell, shell, p, p],
        "a process of its own: its pid is its tid"
    );
    // Its two threads, and libust's own (registration with the session daemon).
    let threads: Vec<&[i64; 4]> = forks.iter().filter(|f| f[0] == p).collect();
    assert!(threads.len() >= 2, "the program's threads: {forks:?}");
    for t in threads {
        assert_eq!(t[1], p);
        assert_ne!(t[2], p, "a thread has a tid of its own");
        assert_eq!(t[3], p, "a thread's process is the program: {t:?}");
    }
}

/// A static 32-bit x86 program, built byte by byte (no 32-bit toolchain needed): it
/// calls `brk(0)`, `getpid()`, `write(1, "ok32\n", 5)` and `exit(0)` with `int $0x80`.
fn i386_program() -> Vec<u8> {
    const BASE: u32 = 0x0804_8000;
    const HEADERS: u32 = 52 + 32;
    let mut code: Vec<u8> = Vec::new();
    let mov_eax = |code: &mut Vec<u8>, v: u32| {
        code.push(0xb8);
        code.extend(v.to_le_bytes());
    };
    mov_eax(&mut code, 45); // brk
    code.extend([0x31, 0xdb, 0xcd, 0x80]); // xor %ebx,%ebx; int $0x80
    mov_eax(&mut code, 20); // getpid
    code.extend([0xcd, 0x80]);
    mov_eax(&mut code, 4); // write
    code.push(0xbb);
    code.extend(1u32.to_le_bytes()); // mov $1,%ebx
    let msg_at = code.len() + 1; // the immediate of mov $msg,%ecx, patched below
    code.push(0xb9);
    code.extend(0u32.to_le_bytes());
    code.push(0xba);
    code.extend(5u32.to_le_bytes()); // mov $5,%edx
    code.extend([0xcd, 0x80]);
    mov_eax(&mut code, 1); // exit
    code.extend([0x31, 0xdb, 0xcd, 0x80]);
    let msg = BASE + HEADERS + code.len() as u32;
    code[msg_at..msg_at + 4].copy_from_slice(&msg.to_le_bytes());
    code.extend(b"ok32\n");
    let size = HEADERS + code.len() as u32;
    let mut elf = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0];
    elf.resize(16, 0);
    for h in [2u16, 3] {
        elf.extend(h.to_le_bytes()); // ET_EXEC, EM_386
    }
    for w in [1, BASE + HEADERS, 52, 0, 0] {
        elf.extend(w.to_le_bytes()); // version, entry, phoff, shoff, flags
    }
    for h in [52u16, 32, 1, 40, 0, 0] {
        elf.extend(h.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    }
    for w in [1, 0, BASE, BASE, size, size, 5, 0x1000] {
        elf.extend(w.to_le_bytes()); // PT_LOAD, offset, vaddr, paddr, filesz, memsz, R|X, align
    }
    elf.extend(code);
    elf
}

#[test]
fn a_32_bit_programs_system_calls_are_named_as_compat_calls() {
    if !root_or_skip() {
        return;
    }
    let setup = Setup::new("kcompat", false);
    let (u, h, s) = setup.member();
    let program = h.join("ok32");
    std::fs::write(&program, i386_program()).unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let direct = Command::new(&program).output().unwrap();
    assert_eq!(
        (direct.status.code(), &direct.stdout[..]),
        (Some(0), &b"ok32\n"[..]),
        "the 32-bit program runs here (IA32 emulation)"
    );
    lttng(u, h, s, &["create", "compat"]);
    lttng(u, h, s, &["enable-event", "-k", "sched_process_exec"]);
    lttng(u, h, s, &["enable-event", "-k", "--syscall"]);
    lttng(u, h, s, &["start"]);
    let child = as_member(u, h, s, &program).output().unwrap();
    assert_eq!(child.stdout, b"ok32\n");
    lttng(u, h, s, &["stop"]);
    let read = read_trace(&setup.output());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    // The program's events: those of the thread after the exec of `ok32`.
    let exec = read
        .events
        .iter()
        .position(|e| {
            &*e.name == "sched_process_exec"
                && field(&e.fields, "filename")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.ends_with("/ok32"))
        })
        .expect("the exec of ok32");
    let tid = field(&read.events[exec].fields, "tid")
        .and_then(Value::as_i64)
        .unwrap();
    let calls: Vec<&str> = read.events[exec + 1..]
        .iter()
        .filter(|e| {
            e.name.contains("syscall_")
                && field(&e.stream_context, "vtid").and_then(Value::as_i64) == Some(tid)
        })
        .map(|e| &*e.name)
        .collect();
    let entries: Vec<&str> = calls
        .iter()
        .copied()
        .filter(|n| n.contains("_entry_"))
        .collect();
    assert_eq!(
        entries,
        [
            "compat_syscall_entry_brk",
            "compat_syscall_entry_getpid",
            "compat_syscall_entry_write",
            "compat_syscall_entry_exit"
        ],
        "all of ok32's calls: {calls:?}"
    );
    assert!(calls.contains(&"compat_syscall_exit_write"), "{calls:?}");
}
