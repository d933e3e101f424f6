//! In overwrite (flight-recorder) mode the buffers keep the newest events: after a run
//! much longer than the buffers, the trace ends with the last event emitted and holds
//! an unbroken tail of each thread's sequence.

mod support;

use ctf::reader::DiscardedKind;
use support::*;

#[test]
fn overwrite_mode_keeps_the_newest_events() {
    let dir = TempDir::new("overwrite");
    let n = 200_000u64;
    run_ok(
        traced(env!("CARGO_BIN_EXE_stress"), dir.path())
            .env("LIBUST_OVERWRITE", "1")
            .env("LIBUST_SUBBUF_SIZE", "4k")
            .env("LIBUST_NUM_SUBBUF", "4")
            .args(["1", &n.to_string()]),
    );
    let read = read_trace(dir.path());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let seqs = read.seqs();
    assert!(!seqs.is_empty());
    assert_eq!(*seqs.last().unwrap(), n - 1, "the newest event is kept");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "the kept tail is unbroken"
    );
    assert!(
        (seqs.len() as u64) < n / 10,
        "only the buffers' worth is kept"
    );
    // The overwritten packets show as a gap in packet sequence numbers.
    assert!(
        read.discarded
            .iter()
            .any(|d| matches!(d.kind, DiscardedKind::Packets(_)))
            || read.discarded.is_empty()
    );
    if let Some(bt) = babeltrace2(&[dir.path().as_os_str()]) {
        assert!(
            bt.status.success(),
            "{}",
            String::from_utf8_lossy(&bt.stderr)
        );
        let lines = bt.stdout.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines, seqs.len());
    }
}
