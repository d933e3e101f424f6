//! The cost of one `tracing` event and of one span enter/exit pair through
//! `tracing_lttng::layer()`, against `tracing_subscriber::fmt` writing to a file and
//! against libust's own macro for the same fields. One variant per process (a
//! program has one global subscriber); `scripts/bench-tracing.sh` runs them side by
//! side and prints medians and ratios.
//!
//! ```text
//! cargo bench -p tracing-lttng --bench layer_bench -- MODE N [FILE]
//! ```
//!
//! MODE: `ours_ev`, `fmt_ev`, `macro_ev` (the event `info!(a, b, s, "msg")` with
//! a: u64, b: u32, s a 16-character string), `null_ev` (the event through a layer
//! that visits its fields and keeps nothing: what `tracing` itself costs), `ours_span`, `fmt_span` (an `info_span!`
//! entered and left), `ours_off` (the event through our layer with no session
//! enabling it), `none_off` (the event with no subscriber at all). Recording needs
//! `LIBUST_TRACE_DIR` (ours, macro); `fmt_*` write to FILE. Prints
//! `RESULT mode=MODE n=N ns_per_op=X`.

use std::hint::black_box;
use std::time::Instant;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

libust::tracepoint! {
    /// The same fields as the tracing event, message included.
    pub ev = bench_tracing:ev [Info] {
        a: u64,
        b: u32,
        s: &str,
        message: &str,
    }
}

const PAYLOAD: &str = "sixteen chars...";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(mode), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: layer_bench MODE N [FILE]");
        std::process::exit(2);
    };
    let file = args.get(2).map(String::as_str).unwrap_or("/dev/null");
    let fmt_layer = |spans: FmtSpan| {
        let f = std::fs::File::create(file).expect("create the fmt output file");
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_span_events(spans)
            .with_writer(std::sync::Mutex::new(f))
    };
    match mode.as_str() {
        "ours_ev" | "ours_span" | "ours_off" => tracing_subscriber::registry()
            .with(tracing_lttng::layer())
            .init(),
        "null_ev" => tracing_subscriber::registry().with(NullLayer).init(),
        "fmt_ev" => tracing_subscriber::registry()
            .with(fmt_layer(FmtSpan::NONE))
            .init(),
        "fmt_span" => tracing_subscriber::registry()
            .with(fmt_layer(FmtSpan::ENTER | FmtSpan::EXIT))
            .init(),
        _ => {}
    }
    // Warm up: the first record of a callsite registers its class.
    let run = |n: u64| -> f64 {
        let t = Instant::now();
        match mode.as_str() {
            "ours_ev" | "fmt_ev" | "ours_off" | "none_off" | "null_ev" => {
                for i in 0..n {
                    tracing::info!(a = i, b = i as u32, s = PAYLOAD, "msg");
                }
            }
            "macro_ev" => {
                for i in 0..n {
                    libust::trace!(ev, i, i as u32, PAYLOAD, "msg");
                }
            }
            "ours_span" | "fmt_span" => {
                let span = tracing::info_span!("work", id = 1u64);
                for _ in 0..n {
                    let _in = black_box(span.enter());
                }
            }
            other => {
                eprintln!("layer_bench: no mode {other}");
                std::process::exit(2);
            }
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };
    run(1000);
    // The first record registered the class; a disabled one's callsite becomes
    // `never` at the interest rebuild that follows within 50 ms.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let ns = run(n);
    println!("RESULT mode={mode} n={n} ns_per_op={ns:.2}");
}

/// A layer that visits each event's values and keeps nothing: what `tracing` itself
/// costs per event with a subscriber that wants it.
struct NullLayer;

struct NullVisit;

impl tracing::field::Visit for NullVisit {
    fn record_debug(&mut self, _: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        black_box(v);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NullLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        event.record(&mut NullVisit);
    }
}
