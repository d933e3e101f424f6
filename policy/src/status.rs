//! Reading back what the kernel enforces, per thread, from `/proc/self/task/*/status`.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The ids of the process's threads.
pub(crate) fn thread_ids() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The status file of thread `tid`, opened now (later, Landlock forbids it; reading an
/// open one shows the state at the time of the read).
pub(crate) fn open(tid: i32) -> Option<File> {
    File::open(format!("/proc/self/task/{tid}/status")).ok()
}

/// Checks `NoNewPrivs: 1`, `Seccomp: 2` and every capability set zero. A thread that
/// exited meanwhile passes.
pub(crate) fn check(f: &File) -> Result<(), String> {
    let mut buf = vec![0u8; 16384];
    let n = match f.read_at(&mut buf, 0) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
        Err(e) => return Err(format!("cannot read its status: {e}")),
    };
    check_text(&String::from_utf8_lossy(&buf[..n]))
}

/// [`check`] on the text of a status file.
pub(crate) fn check_text(text: &str) -> Result<(), String> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let expect = |name: &str, ok: &dyn Fn(&str) -> bool| match field(name) {
        Some(v) if ok(v) => Ok(()),
        Some(v) => Err(format!("{name} is {v}")),
        None => Err(format!("{name} is missing")),
    };
    expect("NoNewPrivs", &|v| v == "1")?;
    expect("Seccomp", &|v| v == "2")?;
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        expect(cap, &|v| v.bytes().all(|b| b == b'0'))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_text;

    const SANDBOXED: &str = "Name:\tx\nNoNewPrivs:\t1\nSeccomp:\t2\nCapInh:\t0000000000000000\n\
        CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n\
        CapAmb:\t0000000000000000\n";

    #[test]
    fn only_a_fully_sandboxed_status_passes() {
        assert_eq!(check_text(SANDBOXED), Ok(()));
        let bnd = SANDBOXED.replace("CapBnd:\t0000000000000000", "CapBnd:\t000001ffffffffff");
        assert!(check_text(&bnd).unwrap_err().contains("CapBnd"));
        let sec = SANDBOXED.replace("Seccomp:\t2", "Seccomp:\t0");
        assert!(check_text(&sec).unwrap_err().contains("Seccomp"));
        assert!(check_text("Name:\tx\n").is_err());
    }
}
