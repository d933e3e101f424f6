#!/usr/bin/env bash
# libust vs LTTng-UST 2.13: the same workload, run side by side, plus the viewer speed
# of `lttng view` vs babeltrace2. See BENCHMARKS.md for what each case measures.
# Three tracers in phase 1: `ours` (the Rust workload through libust's macros), `c` (the
# C workload of libust/benches/lttng-ust, unchanged, built against our headers and
# liblttng_ust_rs) and `lttng` (the same C workload against LTTng-UST 2.13).
#
#   sudo scripts/bench-vs-lttng.sh              # full run: REPS=5, 10M/12M events per thread, ~15-20 min
#   sudo QUICK=1 REPS=1 scripts/bench-vs-lttng.sh   # smoke test, about a minute
#
# Settings (environment):
#   REPS=5               interleaved repetitions
#   SCALE_REPS=2*REPS    pairs per case in phase 3
#   QUICK=0              1 = small N everywhere (smoke test; the numbers mean nothing)
#   CASES="loop dis_ev dis_min ev min snap_ev snap_min clock"   the cases of phase 1
#                        (snap_*: flight recorder, ours LIBUST_OVERWRITE=1 written at exit,
#                        LTTng `create --snapshot` + `snapshot record` after the run)
#   TRACE_ROOT=/tmp/bench-traces   scratch space for traces (a private subdirectory is
#                        created in it and deleted at exit)
#   RESULTS_DIR=<repo>/bench-results   where the run's directory of TSV files goes
#   N_EV N_MIN N_DIS N_LOOP N_CLOCK N_VIEW N_SCALE   events (iterations) per thread,
#                        overriding the defaults below
#   SCALE_CASES="loop ev min snap_ev snap_min null_ev null_min"   phase 3 (libust's
#                        scaling, T=1 and T=2 back to back, N_SCALE events per thread; null_*:
#                        the stream files are links to /dev/null; loop: the empty loop, N_LOOP
#                        iterations, what the machine itself gives a second thread in the
#                        same pairs); empty: skip it
#   BT2_WARN=auto        auto: sum babeltrace2's "Tracer discarded" warnings only when a
#                        trace lost events or our viewer reported discards; always: for
#                        every trace (one extra babeltrace2 text pass each, slow)
#   NO_INSTALL=1         never call apt-get; fail if something is missing
#
# Must run as root: LTTng-UST traces go through a root lttng-sessiond. If none is
# running, one is started (`lttng-sessiond --background`) and stopped by pid at exit.
# Sessions are named bvl<pid>-*, and the one open is destroyed on any exit.
set -euo pipefail

PROG=bench-vs-lttng
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
trap 'echo "$PROG: error: command failed (line $LINENO, exit $?): $BASH_COMMAND" >&2' ERR

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-5}
SCALE_REPS=${SCALE_REPS:-$((2 * REPS))}
QUICK=${QUICK:-0}
TRACE_ROOT=${TRACE_ROOT:-/tmp/bench-traces}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench-results}
BT2_WARN=${BT2_WARN:-auto}
if [ "$QUICK" = 1 ]; then
	N_EV=${N_EV:-1000000} N_MIN=${N_MIN:-1000000} N_DIS=${N_DIS:-100000000}
	N_LOOP=${N_LOOP:-100000000} N_CLOCK=${N_CLOCK:-5000000} N_VIEW=${N_VIEW:-1000000}
	N_SCALE=${N_SCALE:-2000000}
else
	# Loops of >= 1 s on the reference 2-vCPU VM, as in the LTTng-UST anchors.
	N_EV=${N_EV:-10000000}      # enabled bench:ev
	N_MIN=${N_MIN:-12000000}    # enabled bench:ev_min
	N_DIS=${N_DIS:-4000000000}  # disabled tracepoints
	N_LOOP=${N_LOOP:-4000000000} # empty loop
	N_CLOCK=${N_CLOCK:-80000000} # libust::clock::now()
	N_VIEW=${N_VIEW:-10000000}  # the trace read by both viewers
	# Phase 3 (ours only): loops of >= 1 s at libust's speed, as the anchors ask of every
	# timed loop; at 10 M events a libust loop lasts about 0.25 s.
	N_SCALE=${N_SCALE:-48000000}
fi
for v in REPS SCALE_REPS N_EV N_MIN N_DIS N_LOOP N_CLOCK N_VIEW N_SCALE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
case $BT2_WARN in auto | always) ;; *) die "BT2_WARN must be auto or always" ;; esac

[ "$(id -u)" -eq 0 ] || die "must run as root (LTTng-UST needs the root session daemon): sudo $0"

# Nothing from the caller's environment may change the buffers or the tracer's behaviour.
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(LIBUST_[A-Za-z0-9_]*\|LTTNG_UST_[A-Za-z0-9_]*\)=.*/\1/p')

# ------------------------------------------------------------------ cleanup
WORK=""            # our private scratch dir (traces, binaries, build)
MADE_TRACE_ROOT=0  # TRACE_ROOT created by us: removed at exit if empty
SESSIOND_PID=""    # a sessiond we started
CUR_SESSION=""     # the LTTng session currently open
SESSIONS_USED=0    # set before the first `lttng create`
SESSION_PREFIX="bvl$$-"

stop_pid() { # pid: SIGTERM, then wait up to 10 s
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] && return 0
		sleep 0.1
	done
	echo "$PROG: warning: pid $pid still running 10 s after SIGTERM" >&2
	return 1
}

cleanup() {
	local rc=$?
	trap - ERR INT TERM
	set +e
	if [ -n "$CUR_SESSION" ]; then
		echo "$PROG: destroying LTTng session $CUR_SESSION" >&2
		lttng destroy "$CUR_SESSION" >/dev/null 2>&1
	fi
	if [ "$SESSIONS_USED" = 1 ]; then
		# Any session of ours left over (e.g. interrupted between create and bookkeeping).
		lttng list 2>/dev/null | sed -n "s/^ *[0-9]*) \(${SESSION_PREFIX}[^ ]*\) .*/\1/p" |
			while read -r s; do lttng destroy "$s" >/dev/null 2>&1; done
	fi
	if [ -n "$SESSIOND_PID" ]; then
		log "stopping the lttng-sessiond we started (pid $SESSIOND_PID)"
		stop_pid "$SESSIOND_PID"
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then rm -rf -- "$WORK"; fi
	if [ "$MADE_TRACE_ROOT" = 1 ]; then rmdir -- "$TRACE_ROOT" 2>/dev/null; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------- preflight
have_ust_headers() { echo '#include <lttng/tracepoint.h>' | cc -E -x c - >/dev/null 2>&1; }
missing=()
for t in lttng lttng-sessiond babeltrace2 cc make; do command -v "$t" >/dev/null || missing+=("$t"); done
command -v cc >/dev/null && ! have_ust_headers && missing+=("lttng-ust headers")
if [ ${#missing[@]} -gt 0 ]; then
	[ "${NO_INSTALL:-0}" = 1 ] && die "missing: ${missing[*]} (NO_INSTALL=1, not installing)"
	command -v apt-get >/dev/null || die "missing: ${missing[*]}, and no apt-get to install them"
	log "missing: ${missing[*]}; installing lttng-tools liblttng-ust-dev babeltrace2 build-essential"
	pkgs=(lttng-tools liblttng-ust-dev babeltrace2 build-essential)
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2; } ||
		die "apt-get install ${pkgs[*]} failed"
	have_ust_headers || die "liblttng-ust-dev installed but <lttng/tracepoint.h> still not found"
fi
command -v python3 >/dev/null || die "python3 is needed for the summary"

# cargo: as root via sudo, PATH loses ~/.cargo/bin. Build as the invoking user when
# there is one, so that target/ does not become root-owned.
CARGO=$(command -v cargo || true)
BUILD_AS=()
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
	uhome=$(getent passwd "$SUDO_USER" | cut -d: -f6)
	[ -z "$CARGO" ] && [ -x "$uhome/.cargo/bin/cargo" ] && CARGO=$uhome/.cargo/bin/cargo
	BUILD_AS=(sudo -u "$SUDO_USER" -H env "PATH=$(dirname "${CARGO:-/x/cargo}"):$PATH")
fi
[ -z "$CARGO" ] && [ -x /root/.cargo/bin/cargo ] && CARGO=/root/.cargo/bin/cargo
[ -n "$CARGO" ] || die "cargo not found (in PATH, ~\$SUDO_USER/.cargo/bin or /root/.cargo/bin)"

if [ ! -d "$TRACE_ROOT" ]; then mkdir -p -- "$TRACE_ROOT"; MADE_TRACE_ROOT=1; fi
WORK=$(mktemp -d "$TRACE_ROOT/$PROG.XXXXXX")
mkdir -p "$WORK/bin" "$WORK/traces" "$WORK/c-build"

STAMP=$(date +%Y%m%d-%H%M%S)
RES=$RESULTS_DIR/$STAMP$([ "$QUICK" = 1 ] && echo -quick || true)
mkdir -p "$RES"
ln -sfn "$(basename "$RES")" "$RESULTS_DIR/latest"
RAW=$RES/raw.tsv VIEWTSV=$RES/viewer.tsv BLOG=$RES/bench.log CLI=$RES/lttng-cli.log
: >"$BLOG"
: >"$CLI"

# ------------------------------------------------------------------- build
# Binaries are copied into $WORK so that rebuilds by others during the run cannot swap them.
log "building (release): libust ust_bench, the lttng viewer, the LTTng-UST C bench"
cargo_exe() { # cargo build args... -> path of the one executable produced
	"${BUILD_AS[@]}" "$CARGO" build --release --manifest-path "$REPO/Cargo.toml" \
		--message-format=json-render-diagnostics "$@" |
		python3 -c '
import json, sys
exe = [m["executable"] for m in map(json.loads, filter(str.strip, sys.stdin))
       if m.get("reason") == "compiler-artifact" and m.get("executable")]
print(exe[-1] if exe else "")'
}
exe=$(cargo_exe -p libust --bench ust_bench) || die "cargo build -p libust --bench ust_bench failed"
[ -x "$exe" ] || die "cargo did not report the ust_bench executable"
cp "$exe" "$WORK/bin/ust_bench"
exe=$(cargo_exe -p lttng --bin lttng) || die "cargo build -p lttng failed"
[ -x "$exe" ] || die "cargo did not report the lttng executable"
cp "$exe" "$WORK/bin/lttng-view"
make -s -C "$REPO/libust/benches/lttng-ust" O="$WORK/c-build" >&2 || die "building the LTTng-UST C bench failed"
cp "$WORK/c-build/ust_bench_lttng" "$WORK/bin/"
"${BUILD_AS[@]}" "$CARGO" build --release --manifest-path "$REPO/Cargo.toml" -p libust-c >&2 ||
	die "cargo build -p libust-c failed"
cp "$REPO/target/release/liblttng_ust_rs.so" "$WORK/bin/"
make -s -C "$REPO/libust/benches/lttng-ust" O="$WORK/c-build" ust_bench_c \
	RS_INCLUDE="$REPO/libust-c/include" RS_LIBDIR="$WORK/bin" >&2 ||
	die "building the C bench against liblttng_ust_rs failed"
cp "$WORK/c-build/ust_bench_c" "$WORK/bin/"
OURS=$WORK/bin/ust_bench LTTB=$WORK/bin/ust_bench_lttng CBENCH=$WORK/bin/ust_bench_c VIEW=$WORK/bin/lttng-view

# -------------------------------------------------------------- sessiond
# The root sessiond: /var/run/lttng/lttng-sessiond.pid names it when it runs.
root_sessiond_pid() {
	local f=/var/run/lttng/lttng-sessiond.pid pid
	[ -r $f ] || return 1
	pid=$(cat $f 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		[ "$(ps -o comm= -p "$pid")" = lttng-sessiond ] && echo "$pid"
}
if pid=$(root_sessiond_pid); then
	log "using the root lttng-sessiond already running (pid $pid); it is left running"
else
	log "starting a root lttng-sessiond (log: $RES/sessiond.log)"
	lttng-sessiond --background >"$RES/sessiond.log" 2>&1 ||
		die "lttng-sessiond --background failed; see $RES/sessiond.log"
	for _ in $(seq 50); do pid=$(root_sessiond_pid) && break; sleep 0.1; done
	[ -n "${pid:-}" ] && root_sessiond_pid >/dev/null ||
		die "lttng-sessiond started but no live pid in /var/run/lttng/lttng-sessiond.pid; see $RES/sessiond.log"
	SESSIOND_PID=$pid
fi

L() { # run an lttng CLI command, log it with its output; echo the output
	local out rc=0
	out=$(lttng "$@" 2>&1) || rc=$?
	printf '$ lttng %s\n%s\n(rc=%d)\n' "$*" "$out" "$rc" >>"$CLI"
	echo "$out"
	return "$rc"
}

{
	echo "date	$(date -Is)"
	echo "git	$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')"
	echo "uname	$(uname -r)"
	echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
	echo "clocksource	$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
	echo "lttng	$(lttng --version | head -1)"
	echo "liblttng-ust	$(dpkg-query -W -f='${Version}' liblttng-ust1 2>/dev/null || echo '?')"
	echo "babeltrace2	$(babeltrace2 --version | head -1)"
	echo "cc	$(cc --version | head -1)"
	echo "rustc	$("${BUILD_AS[@]}" "$(dirname "$CARGO")/rustc" --version 2>/dev/null || echo '?')"
	echo "trace_fs	$(df -T "$WORK" | awk 'NR==2 {print $2 " (" $1 ")"}')"
	echo "quick	$QUICK"
	echo "reps	$REPS"
	echo "n	ev=$N_EV min=$N_MIN dis=$N_DIS loop=$N_LOOP clock=$N_CLOCK view=$N_VIEW scale=$N_SCALE"
	if [ -n "$SESSIOND_PID" ]; then echo "sessiond	started by this run (pid $SESSIOND_PID)"; else echo "sessiond	already running, not ours"; fi
	echo "loadavg_start	$(cat /proc/loadavg)"
} >"$RES/env.txt"

# What the trace file system takes with direct I/O, the way the standalone consumer
# writes (512 KiB requests): the ceiling for the to-disk cases. Median of 3, in MB/s.
disk_direct_mbps() {
	local f=$WORK/dd-probe i t0 d out=()
	for i in 1 2 3; do
		sync
		t0=$(date +%s%N)
		dd if=/dev/zero of="$f" bs=512K count=1400 oflag=direct status=none 2>>"$BLOG" || { echo NA; return; }
		d=$(($(date +%s%N) - t0))
		out+=("$((1400 * 524288 * 1000 / d))")
		rm -f -- "$f"
	done
	printf '%s\n' "${out[@]}" | sort -n | sed -n 2p
}
log "measuring the trace disk's direct-write bandwidth (dd oflag=direct, 3 x 734 MB)"
echo "disk_direct_MBps_start	$(disk_direct_mbps)" >>"$RES/env.txt"

# ------------------------------------------------------------- measuring
count_bt2() { # dir -> events babeltrace2 counts, or NA
	local n
	n=$(babeltrace2 "$1" -c sink.utils.counter -p step=+0 2>>"$RES/babeltrace2-errors.log" |
		awk '/Event messages?$/ {print $1; exit}') || true
	echo "${n:-NA}"
}
# Sum of N over the "Tracer discarded N events" warnings, exact and modulo 2^64: the
# packet headers carry 64-bit running counters, and when one goes backwards (seen with
# LTTng-UST per-UID buffers at T=2) babeltrace2 prints the wrapped delta (2^64 - d).
sum_discard_warnings() { # file
	python3 -c '
import re, sys
print(sum(int(n) for n in re.findall(r"[Tt]racer discarded (\d+) events?\b", open(sys.argv[1]).read())) % 2**64)' "$1"
}
stream_bytes() { # stream files only: not metadata, index/*.idx or hidden files
	find "$1" -type f ! -name metadata ! -name '*.idx' ! -name '.*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
field() { # key output -> value of key=... in the AGG line
	sed -n "s/^AGG .*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"
}
ns_since() { echo $(($(date +%s%N) - $1)); }

# case -> "mode N enabled"
case_def() {
	case $1 in
	loop) echo "loop $N_LOOP 0" ;;
	dis_ev) echo "ev $N_DIS 0" ;;
	dis_min) echo "min $N_DIS 0" ;;
	ev) echo "ev $N_EV 1" ;;
	min) echo "min $N_MIN 1" ;;
	snap_ev) echo "ev $N_EV snap" ;;
	snap_min) echo "min $N_MIN snap" ;;
	clock) echo "clock $N_CLOCK 0" ;;
	*) die "unknown case $1" ;;
	esac
}

printf 'rep\timpl\tcase\tthreads\tn_per_thread\tns_per_ev_threads\tns_per_ev_median\tevents_per_s\twall_ns\texpected\tcounted_bt2\tcounted_view\tlost\twarn_view\twarn_bt2\tlttng_discarded\tstream_bytes\ttotal_bytes\tloadavg1\n' >"$RAW"

run_case() { # rep impl case T
	local rep=$1 impl=$2 c=$3 T=$4 mode n enabled s dir out rc=0
	read -r mode n enabled <<<"$(case_def "$c")"
	s="${SESSION_PREFIX}$c-t$T-r$rep"
	dir=$WORK/traces/$impl-$c-t$T-r$rep
	local expected=$((n * T)) counted=NA counted_view=NA lost=NA warn_view=NA warn_bt2=NA disc=NA sb=NA tb=NA
	if [ "$impl" = ours ] || [ "$impl" = c ]; then
		local bin=$OURS
		[ "$impl" = c ] && bin=$CBENCH
		if [ "$enabled" = snap ]; then
			# Flight recorder: nothing is written while the program runs; at exit the
			# buffers' newest packets are (what `lttng snapshot record` writes).
			out=$(LIBUST_OVERWRITE=1 LIBUST_TRACE_DIR=$dir "$bin" "$n" "$T" "$mode" 2>>"$BLOG") || rc=$?
		elif [ "$enabled" = 1 ]; then
			out=$(LIBUST_TRACE_DIR=$dir "$bin" "$n" "$T" "$mode" 2>>"$BLOG") || rc=$?
		else
			out=$("$bin" "$n" "$T" "$mode" 2>>"$BLOG") || rc=$?
		fi
	else
		if [ "$enabled" != 0 ]; then
			local ev=bench:ev
			[ "$mode" = min ] && ev=bench:ev_min
			SESSIONS_USED=1
			if [ "$enabled" = snap ]; then
				L create "$s" --snapshot -o "$dir" >/dev/null || die "lttng create $s --snapshot failed (see $CLI)"
			else
				L create "$s" -o "$dir" >/dev/null || die "lttng create $s failed (see $CLI)"
			fi
			CUR_SESSION=$s
			L enable-event -u -s "$s" "$ev" >/dev/null || die "lttng enable-event failed (see $CLI)"
			L start "$s" >/dev/null || die "lttng start failed (see $CLI)"
		fi
		out=$("$LTTB" "$n" "$T" "$mode" 2>>"$BLOG") || rc=$?
	fi
	printf '# rep=%s impl=%s case=%s threads=%s rc=%s\n%s\n' "$rep" "$impl" "$c" "$T" "$rc" "$out" >>"$BLOG"
	[ "$rc" = 0 ] || die "$impl bench failed (exit $rc) in case $c T=$T; see $BLOG"
	if [ "$impl" = lttng ] && [ "$enabled" = snap ]; then
		L snapshot record -s "$s" >/dev/null || die "lttng snapshot record failed (see $CLI)"
	fi
	if [ "$impl" = lttng ] && [ "$enabled" != 0 ]; then
		L stop "$s" >/dev/null || die "lttng stop failed (see $CLI)"
		# Kept exactly as printed (summed over channels); it can have bit 63 set, see BENCHMARKS.md.
		disc=$(L list "$s" | python3 -c '
import re, sys
v = re.findall(r"Discarded events: *(\d+)", sys.stdin.read())
print(sum(map(int, v)) if v else "NA")')
		L destroy "$s" >/dev/null || die "lttng destroy failed (see $CLI)"
		CUR_SESSION=""
	fi
	if [ "$enabled" = snap ]; then
		# Kept events, not losses: overwriting old packets is the point.
		[ -d "$dir" ] || die "$impl wrote no snapshot to $dir (case $c T=$T)"
		counted=$(count_bt2 "$dir")
		sb=$(stream_bytes "$dir")
		tb=$(du -sb "$dir" | cut -f1)
		rm -rf -- "$dir"
	elif [ "$enabled" = 1 ]; then
		[ -d "$dir" ] || die "$impl wrote no trace to $dir (case $c T=$T)"
		counted=$(count_bt2 "$dir")
		[ "$counted" != NA ] && lost=$((expected - counted))
		counted_view=$("$VIEW" view "$dir" 2>"$WORK/view.err" | wc -l) || true
		warn_view=$(sum_discard_warnings "$WORK/view.err")
		if grep -q '^ERROR' "$WORK/view.err"; then
			{ echo "# lttng view $impl-$c-t$T-r$rep"; grep '^ERROR' "$WORK/view.err" | head -5; } >>"$RES/view-errors.log"
		fi
		if [ "$BT2_WARN" = always ] || [ "$lost" != 0 ] || [ "$warn_view" != 0 ]; then
			babeltrace2 "$dir" 2>"$WORK/bt2.err" >/dev/null || true
			warn_bt2=$(sum_discard_warnings "$WORK/bt2.err")
			{ echo "# babeltrace2 $impl-$c-t$T-r$rep (lost=$lost)"; head -3 "$WORK/bt2.err"; } >>"$RES/discard-warnings.log"
		fi
		sb=$(stream_bytes "$dir")
		tb=$(du -sb "$dir" | cut -f1)
		rm -rf -- "$dir"
	fi
	local tns
	tns=$(awk '/^THREAD/ { for (i = 1; i <= NF; i++) if ($i ~ /^ns_per_ev=/) { printf "%s%s", sep, substr($i, 11); sep = "," } }' <<<"$out")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$rep" "$impl" "$c" "$T" "$n" "$tns" "$(field ns_per_ev_thread_median "$out")" \
		"$(field events_per_s "$out")" "$(field wall_ns "$out")" "$expected" "$counted" \
		"$counted_view" "$lost" "$warn_view" "$warn_bt2" "$disc" "$sb" "$tb" \
		"$(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
	log "rep $rep/$REPS T=$T $impl $c: ns/ev $(field ns_per_ev_thread_median "$out"), ev/s $(field events_per_s "$out")$(
		[ "$enabled" != 0 ] && echo ", in trace $counted (view $counted_view), lost $lost, warnings view=$warn_view bt2=$warn_bt2${disc:+ lttng=$disc}" || true)"
}

# ------------------------------------------------------- phase 1: the cases
CASES=${CASES:-"loop dis_ev dis_min ev min snap_ev snap_min clock"}
log "phase 1: $REPS repetition(s) of: $CASES, T=1 and T=2 (ours and LTTng-UST side by side)"
for rep in $(seq "$REPS"); do
	# Alternate who goes first, so that neither always runs right after the other's I/O.
	if [ $((rep % 2)) = 1 ]; then impls="ours c lttng"; else impls="lttng c ours"; fi
	for T in 1 2; do
		for c in $CASES; do
			for impl in $impls; do
				[ "$c" = clock ] && [ "$impl" != ours ] && continue
				run_case "$rep" "$impl" "$c" "$T"
				sync
			done
		done
	done
done

# ---------------------------------------------------- phase 2: viewer speed
log "phase 2: writing a $N_VIEW-event bench:ev trace (ours, 16 x 4 MiB per CPU) for the viewers"
vdir=$WORK/traces/viewer
LIBUST_TRACE_DIR=$vdir LIBUST_SUBBUF_SIZE=4M LIBUST_NUM_SUBBUF=16 "$OURS" "$N_VIEW" 1 ev >>"$BLOG" 2>&1 ||
	die "writing the viewer trace failed; see $BLOG"
vcount=$(count_bt2 "$vdir")
[ "$vcount" = "$N_VIEW" ] ||
	log "WARNING: the viewer trace holds $vcount events, not $N_VIEW (lost events despite the big buffers?)"
vbytes=$(stream_bytes "$vdir")
find "$vdir" -type f -exec cat {} + >/dev/null # into the page cache before timing
printf 'rep\ttool\tevents\tseconds\tevents_per_s\tlines\tstream_bytes\n' >"$VIEWTSV"
time_viewer() { # rep tool
	local t0 d lines rc=0
	t0=$(date +%s%N)
	case $2 in
	lttng-view) "$VIEW" view "$vdir" >/dev/null 2>>"$RES/viewer-stderr.log" || rc=$? ;;
	babeltrace2) babeltrace2 "$vdir" >/dev/null 2>>"$RES/viewer-stderr.log" || rc=$? ;;
	esac
	d=$(ns_since "$t0")
	[ "$rc" = 0 ] || die "$2 failed (exit $rc) reading the viewer trace; see $RES/viewer-stderr.log"
	awk -v r="$1" -v t="$2" -v e="$vcount" -v d="$d" -v b="$vbytes" \
		'BEGIN { printf "%s\t%s\t%s\t%.3f\t%.0f\tNA\t%s\n", r, t, e, d / 1e9, e / (d / 1e9), b }' >>"$VIEWTSV"
	log "viewer rep $1/$REPS $2: $(tail -1 "$VIEWTSV" | cut -f4) s, $(tail -1 "$VIEWTSV" | cut -f5) events/s"
}
for rep in $(seq "$REPS"); do
	if [ $((rep % 2)) = 1 ]; then tools="lttng-view babeltrace2"; else tools="babeltrace2 lttng-view"; fi
	for tool in $tools; do time_viewer "$rep" "$tool"; done
done
rm -rf -- "$vdir"

# ------------------------------------------------ phase 3: libust's scaling
# Target 3 (T=2 >= 1.8 x T=1) on loops of >= 1 s, each T=1 run next to its T=2 run
# (in alternating order) so that both see the same machine. Losses are the writers' own count
# (LIBUST_DEBUG's "ring discards"), exact for discard mode; phase 1 counts the trace.
# null_ev and null_min are ev and min with every stream file a link to /dev/null: the
# tracer and its consumer at work, the disk left out. `loop` is the control: an empty loop
# scales only as far as the machine gives the second thread a CPU of its own (a 2-vCPU
# VM on a busy host often gives less), and no tracer can scale beyond it.
SCALE_CASES=${SCALE_CASES-"loop ev min snap_ev snap_min null_ev null_min"}
last_cpu=$(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) # as libust counts its rings
SCALETSV=$RES/scale.tsv
if [ -n "$SCALE_CASES" ]; then
	log "phase 3: libust scaling, $SCALE_REPS repetition(s) of: $SCALE_CASES, $N_SCALE events per thread"
	printf 'rep\tcase\tthreads\tn_per_thread\tns_per_ev_median\tevents_per_s\tdiscarded\tstream_bytes\n' >"$SCALETSV"
	for rep in $(seq "$SCALE_REPS"); do
		for c in $SCALE_CASES; do
			read -r mode n enabled <<<"$(case_def "${c#null_}")"
			[ "$c" = loop ] || n=$N_SCALE
			# Alternate which of the pair goes first, so that a drift of the machine
			# does not always favour one.
			if [ $((rep % 2)) = 1 ]; then order="1 2"; else order="2 1"; fi
			for T in $order; do
				# Let the deletion and writeback of the previous trace settle first.
				sleep 1
				dir=$WORK/traces/scale-$c-t$T-r$rep rc=0
				if [ "${c#null_}" != "$c" ]; then
					# libust opens the stream files it finds, following links.
					sdir=$dir/ust/uid/$(id -u)/64-bit
					mkdir -p "$sdir"
					for cpu in $(seq 0 "$last_cpu"); do ln -s /dev/null "$sdir/channel0_$cpu"; done
				fi
				if [ "$c" = loop ]; then
					out=$("$OURS" "$n" "$T" "$mode" 2>"$WORK/scale.err") || rc=$?
				elif [ "$enabled" = snap ]; then
					out=$(LIBUST_DEBUG=1 LIBUST_OVERWRITE=1 LIBUST_TRACE_DIR=$dir "$OURS" "$n" "$T" "$mode" 2>"$WORK/scale.err") || rc=$?
				else
					out=$(LIBUST_DEBUG=1 LIBUST_TRACE_DIR=$dir "$OURS" "$n" "$T" "$mode" 2>"$WORK/scale.err") || rc=$?
				fi
				cat "$WORK/scale.err" >>"$BLOG"
				[ "$rc" = 0 ] || die "ours bench failed (exit $rc) in phase 3, case $c T=$T; see $BLOG"
				disc=$(sed -n 's/^libust: .*ring discards \[\(.*\)\]$/\1/p' "$WORK/scale.err" | tr -d ' ' | tr ',' '+')
				disc=$([ -n "$disc" ] && echo $((disc)) || echo NA)
				[ "$enabled" = snap ] && disc=NA # overwriting is the point
				[ "$c" = loop ] && disc=NA
				if [ "$c" = loop ]; then sb=NA; else sb=$(stream_bytes "$dir"); fi
				rm -rf -- "$dir"
				sync
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$c" "$T" "$n" \
					"$(field ns_per_ev_thread_median "$out")" "$(field events_per_s "$out")" "$disc" "$sb" >>"$SCALETSV"
				log "scale rep $rep/$SCALE_REPS $c T=$T: ev/s $(field events_per_s "$out"), discarded $disc"
			done
		done
	done
fi

echo "disk_direct_MBps_end	$(disk_direct_mbps)" >>"$RES/env.txt"
echo "loadavg_end	$(cat /proc/loadavg)" >>"$RES/env.txt"
python3 "$REPO/scripts/bench-summary.py" "$RES" >"$RES/summary.md" || die "the summary failed; raw data in $RES"
cat "$RES/summary.md"
log "raw results in $RES"
