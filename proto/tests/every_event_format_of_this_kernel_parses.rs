//! Every event `format` file of the running kernel parses (consumer-kernel will decode
//! whichever events privd allows), and so does `header_page`. Needs tracefs, so root:
//! under CI=true it mounts tracefs if needed and fails rather than skips.

use std::path::Path;

use proto::ftrace::{parse_format, parse_header_page};

const TRACEFS: &str = "/sys/kernel/tracing";

fn tracefs_or_skip() -> bool {
    if Path::new(TRACEFS).join("events").is_dir() {
        return true;
    }
    let _ = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", TRACEFS])
        .status();
    if Path::new(TRACEFS).join("events").is_dir() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "tracefs is needed under CI (run as root)"
    );
    eprintln!("NOTICE: no tracefs here; skipped");
    false
}

/// Reads a tracefs file in one large read (header files answer only the first read).
fn read(path: &Path) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn every_format_parses() {
    if !tracefs_or_skip() {
        return;
    }
    let events = Path::new(TRACEFS).join("events");
    let page = parse_header_page(&read(&events.join("header_page"))).unwrap();
    assert_eq!(page.page_size(), 4096);
    let (mut ok, mut failed) = (0, Vec::new());
    for sys in std::fs::read_dir(&events).unwrap().flatten() {
        let Ok(evs) = std::fs::read_dir(sys.path()) else {
            continue;
        };
        for ev in evs.flatten() {
            let f = ev.path().join("format");
            if !f.exists() {
                continue;
            }
            match parse_format(&read(&f)) {
                Ok(_) => ok += 1,
                Err(e) => failed.push(format!("{}: {e}", f.display())),
            }
        }
    }
    assert!(ok > 100, "{ok} formats");
    assert!(
        failed.is_empty(),
        "{} of {} failed:\n{}",
        failed.len(),
        ok + failed.len(),
        failed.join("\n")
    );
}
