//! The threads that exist when kernel tracing starts, read from `/proc`, for LTTng's
//! statedump events (`lttng_statedump_process_state`): without them a viewer knows a
//! thread only once it is scheduled or forks during the trace. The kernel consumer
//! writes them (it can read nothing under `/proc` itself).
//!
//! Values follow lttng-modules' statedump: a running thread is "waiting for a CPU"
//! (2, the viewer finds out which one runs), a sleeping one "waiting" (5), a zombie 4,
//! a dead one 7, anything else (stopped, traced) 0. A thread that exits while the
//! directory is read is simply missing.

use proto::wire::consumer::ProcessState;

/// Most threads dumped (a bound on the messages whatever the machine runs).
const MAX_THREADS: usize = 1 << 16;

/// Every thread of the machine that this user can see.
pub fn processes() -> Vec<ProcessState> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if out.len() >= MAX_THREADS {
                return out;
            }
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(s) = std::fs::read(t.path().join("stat"))
                .ok()
                .and_then(|text| parse_stat(tid, pid, &text))
            {
                out.push(s);
            }
        }
    }
    out
}

/// `PF_KTHREAD` in the `flags` field of `stat`.
const PF_KTHREAD: u64 = 0x0020_0000;

/// One `/proc/<pid>/task/<tid>/stat` line: `tid (comm) state ppid ... flags ...
/// processor ...` (the name may hold spaces and parentheses: it ends at the last `)`).
fn parse_stat(tid: i32, pid: i32, text: &[u8]) -> Option<ProcessState> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let name: String = text
        .get(open + 1..close)?
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let flags: u64 = fields.get(6)?.parse().ok()?;
    let cpu = fields.get(36).and_then(|c| c.parse().ok()).unwrap_or(0);
    let status = match state {
        'R' => 2,
        'S' | 'D' | 'I' => 5,
        'Z' => 4,
        'X' | 'x' => 7,
        _ => 0,
    };
    Some(ProcessState {
        tid,
        pid,
        ppid,
        name,
        kernel_thread: flags & PF_KTHREAD != 0,
        status,
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_thread_its_parent_state_and_cpu() {
        let line =
            b"4242 (my (odd) app) S 17 4242 4242 0 -1 4194560 126 0 0 0 0 0 0 0 20 0 3 0 99 \
                     12345 67 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let p = parse_stat(4243, 4242, line).unwrap();
        assert_eq!(
            p,
            ProcessState {
                tid: 4243,
                pid: 4242,
                ppid: 17,
                name: "my (odd) app".into(),
                kernel_thread: false,
                status: 5,
                cpu: 1,
            }
        );
        let kthread = b"2 (kthreadd) R 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 \
                        18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0";
        let k = parse_stat(2, 2, kthread).unwrap();
        assert!(k.kernel_thread);
        assert_eq!(k.status, 2);
        assert_eq!(parse_stat(1, 1, b"1 (no closing"), None);
        assert_eq!(parse_stat(1, 1, b""), None);
    }

    #[test]
    fn this_process_is_among_the_threads() {
        let me = std::process::id() as i32;
        let all = processes();
        let mine = all
            .iter()
            .find(|p| p.tid == me)
            .expect("this test's thread");
        assert_eq!(mine.pid, me);
        assert!(!mine.kernel_thread);
        assert!(all.iter().any(|p| p.kernel_thread), "kthreadd and friends");
    }
}
