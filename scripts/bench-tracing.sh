#!/usr/bin/env bash
# tracing-lttng against tracing_subscriber::fmt and libust's own macro: the same event
# (info!(a = u64, b = u32, s = "sixteen chars...", "msg")) and an info_span! enter/exit
# pair, each variant in its own process, REPS rounds run side by side (interleaved).
# See BENCHMARKS.md, "The tracing layer".
#
#   scripts/bench-tracing.sh                 # REPS=5, N=2000000 per run
#   REPS=1 N=100000 scripts/bench-tracing.sh # smoke test
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
N=${N:-2000000}
N_OFF=${N_OFF:-200000000}
WORK=$(mktemp -d /var/tmp/bench-tracing.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

exe=$(cargo build --release -p tracing-lttng --bench layer_bench --message-format=json |
	python3 -c '
import json, sys
e = [m["executable"] for m in map(json.loads, filter(str.strip, sys.stdin))
     if m.get("reason") == "compiler-artifact" and m.get("executable")]
print(e[-1] if e else "")')
[ -x "$exe" ] || { echo "bench-tracing.sh: cargo did not report layer_bench" >&2; exit 1; }
cp "$exe" "$WORK/layer_bench"

run() { # mode n -> ns per op
	local mode=$1 n=$2 out
	rm -rf "$WORK/trace" "$WORK/fmt.log"
	case $mode in
	ours_off | none_off) out=$("$WORK/layer_bench" "$mode" "$n") ;;
	*) out=$(LIBUST_TRACE_DIR=$WORK/trace "$WORK/layer_bench" "$mode" "$n" "$WORK/fmt.log") ;;
	esac
	sed -n 's/.*ns_per_op=//p' <<<"$out"
}

MODES="ours_ev macro_ev fmt_ev null_ev ours_span fmt_span ours_off none_off"
declare -A res
for rep in $(seq "$REPS"); do
	for m in $MODES; do
		n=$N
		case $m in *_off) n=$N_OFF ;; esac
		v=$(run "$m" "$n")
		res[$m]="${res[$m]:-} $v"
		echo "rep $rep/$REPS $m: $v ns" >&2
	done
done

python3 - "$REPS" "$N" "$(nproc)" "$(git rev-parse --short HEAD)" <<PY
import statistics, sys
reps, n, cpus, git = sys.argv[1:]
res = {$(for m in $MODES; do printf '"%s": [%s], ' "$m" "$(echo ${res[$m]} | tr ' ' ',')"; done)}
med = {k: statistics.median(v) for k, v in res.items()}
print(f"tracing layer benchmark: git {git}, {reps} rounds, {n} operations per run, {cpus} CPUs\n")
print("| variant | ns per operation, median [min, max] |")
print("|---|---|")
names = {
    "ours_ev": "event, tracing-lttng", "macro_ev": "event, libust::trace! (same fields)",
    "fmt_ev": "event, tracing_subscriber::fmt to a file",
    "null_ev": "event, a layer that visits the fields and keeps nothing (tracing's own cost)", "ours_span": "span enter+exit, tracing-lttng",
    "fmt_span": "span enter+exit, fmt (FmtSpan::ENTER and EXIT) to a file",
    "ours_off": "event, tracing-lttng, no session enables it", "none_off": "event, no subscriber at all",
}
for k, v in res.items():
    print(f"| {names[k]} | {med[k]:.2f} [{min(v):.2f}, {max(v):.2f}] |")
print()
def ratio(a, b, goal, cmp):
    r = med[a] / med[b]
    ok = "pass" if cmp(r, goal) else "FAIL"
    return f"{r:.3f} (goal {goal}: {ok})"
print("| target | measured |")
print("|---|---|")
print(f"| event: ours / fmt <= 1/5 | {ratio('ours_ev', 'fmt_ev', 0.2, lambda r, g: r <= g)} |")
print(f"| span pair: ours / fmt <= 1/5 | {ratio('ours_span', 'fmt_span', 0.2, lambda r, g: r <= g)} |")
print(f"| event: ours / libust macro <= 2 | {ratio('ours_ev', 'macro_ev', 2, lambda r, g: r <= g)} |")
print(f"| disabled: ours - no subscriber | {med['ours_off'] - med['none_off']:+.2f} ns |")
PY
