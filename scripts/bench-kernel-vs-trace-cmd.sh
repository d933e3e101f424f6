#!/usr/bin/env bash
# Kernel tracing, ours (lttng-privd + lttng-sessiond + lttng-consumerd-kernel) against
# trace-cmd record, on the same syscall-heavy workload, one after the other, REPS times:
# events recorded, events lost, the workload's wall time, and our kernel consumer's CPU
# time (conversion throughput: events per CPU second).
#
#   sudo scripts/bench-kernel-vs-trace-cmd.sh            # REPS=5, N=2000000 one-byte dd copies
#   sudo REPS=1 N=200000 scripts/bench-kernel-vs-trace-cmd.sh   # smoke test
#
# Both sides: sched:sched_switch + raw_syscalls, 4096 KiB per CPU, the trace on /tmp.
set -euo pipefail
REPS=${REPS:-5}
N=${N:-2000000}
KB=4096
REPO=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root (privd and trace-cmd need it)" >&2; exit 2; }
command -v trace-cmd >/dev/null || apt-get install -y -qq trace-cmd >/dev/null
cargo build --release --quiet --manifest-path "$REPO/Cargo.toml" -p lttng -p sessiond -p consumer-ust -p consumer-kernel -p privd
BIN=$REPO/target/release
WORK=$(mktemp -d /tmp/bench-kernel.XXXXXX)
cleanup() {
	[ -f "$WORK/home/.lttng-rs/sessiond.lock" ] && kill "$(cat "$WORK/home/.lttng-rs/sessiond.lock")" 2>/dev/null || true
	[ -n "${PRIVD:-}" ] && kill "$PRIVD" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
getent group tracing >/dev/null || groupadd tracing
printf 'group = tracing\nsocket_dir = %s/run\nmax_buffer_kb = %s\n' "$WORK" "$KB" > "$WORK/privd.conf"
"$BIN/lttng-privd" --config "$WORK/privd.conf" 2>"$WORK/privd.log" & PRIVD=$!
for _ in $(seq 50); do [ -S "$WORK/run/privd.sock" ] && break; sleep 0.1; done
export LTTNG_HOME=$WORK/home LTTNG_PRIVD_SOCKET=$WORK/run/privd.sock
mkdir -p "$LTTNG_HOME"
L=$BIN/lttng
work() { /usr/bin/time -f %e dd if=/dev/zero of=/dev/null bs=1 count="$N" 2>&1 | tail -1; }

# trace-cmd 3.1 writes the function tracer's controls (/proc/sys/kernel/ftrace_enabled,
# set_ftrace_filter, set_ftrace_pid, ...) even when it records events only, and a kernel
# built without the function tracer refuses them (EPERM), which makes trace-cmd give up.
# Then it runs in a private mount namespace where those files are plain files: what it
# writes there goes nowhere, and the event recording itself is untouched.
TC_WRAP=()
if ! (echo 1 >/proc/sys/kernel/ftrace_enabled) 2>/dev/null; then
	cat >"$WORK/tc-wrap.sh" <<'WRAP'
#!/bin/sh
set -e
F=$(mktemp -d)
echo 1 >"$F/ftrace_enabled"
mount --bind "$F/ftrace_enabled" /proc/sys/kernel/ftrace_enabled
for f in set_ftrace_filter set_ftrace_notrace set_graph_function set_graph_notrace set_ftrace_pid set_ftrace_notrace_pid; do
	[ -e "/sys/kernel/tracing/$f" ] || continue
	: >"$F/$f"
	mount --bind "$F/$f" "/sys/kernel/tracing/$f"
done
exec "$@"
WRAP
	chmod +x "$WORK/tc-wrap.sh"
	TC_WRAP=(unshare -m "$WORK/tc-wrap.sh")
	echo "function tracer controls refused here: trace-cmd runs with them replaced by plain files (see the script)" >&2
fi
printf 'rep\ttool\tevents\tlost\tworkload_s\trecorder_cpu_s\n' | tee "$WORK/results.tsv"
for r in $(seq "$REPS"); do
	# ours
	$L create "b$r" -o "$WORK/ours$r" >/dev/null
	$L enable-channel -k k --subbuf-size 1M --num-subbuf 4 >/dev/null
	$L enable-event -k sched_switch >/dev/null
	$L enable-event -k --syscall >/dev/null
	$L start >/dev/null
	secs=$(work)
	$L stop >/dev/null
	sess=$(cat "$LTTNG_HOME/.lttng-rs/sessiond.lock")
	cpu=0
	for p in $(pgrep -P "$sess"); do
		if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q consumerd-kernel; then
			read -r -a st <"/proc/$p/stat"
			cpu=$(awk -v u="${st[13]}" -v s="${st[14]}" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (u+s)/hz}')
		fi
	done
	events=$(babeltrace2 "$WORK/ours$r/kernel" 2>"$WORK/bt.err" | wc -l)
	lost=$({ grep -o 'discarded [0-9]* events\?' "$WORK/bt.err" || true; } | awk '{s+=$2} END{print s+0}')
	$L destroy >/dev/null
	printf '%s\tours\t%s\t%s\t%s\t%s\n' "$r" "$events" "$lost" "$secs" "$cpu" | tee -a "$WORK/results.tsv"
	rm -rf "$WORK/ours$r"
	# trace-cmd (-d: no function tracer). Its recorder CPU time is that of trace-cmd and
	# its children minus the workload's own.
	if /usr/bin/time -f 'TOTAL %U %S' "${TC_WRAP[@]}" trace-cmd record -d -q -b "$KB" \
		-e sched:sched_switch -e raw_syscalls -o "$WORK/tc$r.dat" \
		/usr/bin/time -f 'WORK %e %U %S' dd if=/dev/zero of=/dev/null bs=1 count="$N" >"$WORK/tc.out" 2>&1; then
		events=$(trace-cmd report -q "$WORK/tc$r.dat" 2>/dev/null | grep -c ':' || true)
		lost=$(trace-cmd report --stat "$WORK/tc$r.dat" 2>/dev/null | awk '/overrun:/ {s+=$2} /dropped events:/ {s+=$3} END{print s+0}')
		secs=$(awk '/^WORK / {print $2}' "$WORK/tc.out")
		cpu=$(awk '/^WORK / {w = $3 + $4} /^TOTAL / {t = $2 + $3} END {printf "%.2f", t - w}' "$WORK/tc.out")
		printf '%s\ttrace-cmd\t%s\t%s\t%s\t%s\n' "$r" "$events" "$lost" "$secs" "$cpu" | tee -a "$WORK/results.tsv"
	else
		printf '%s\ttrace-cmd\tfailed: %s\t-\t-\t-\n' "$r" "$(grep -m1 -iE 'not permitted|error|cannot' "$WORK/tc.out" | tr '\t' ' ')" | tee -a "$WORK/results.tsv"
	fi
	rm -f "$WORK/tc$r.dat"
done
mkdir -p "$REPO/bench-results"
cp "$WORK/results.tsv" "$REPO/bench-results/kernel-$(date +%Y%m%d-%H%M%S).tsv"
