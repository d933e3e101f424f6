#!/usr/bin/env bash
# The whole tracing pipeline, ours against LTTng 2.13, side by side: session daemon,
# consumer, traces on disk, driven by each one's `lttng` command. See BENCHMARKS.md
# ("The pipeline benchmark") for what is measured.
#
#   sudo scripts/bench-pipeline-vs-lttng.sh                  # full run: REPS=5, 10 M events per thread, 5-10 min
#   sudo QUICK=1 REPS=1 scripts/bench-pipeline-vs-lttng.sh   # smoke test, about a minute
#
# Settings (environment):
#   REPS=5               interleaved repetitions
#   QUICK=0              1 = small N (smoke test; the numbers mean nothing)
#   N_EV=10000000        bench:ev events per thread (QUICK: 1000000)
#   N_WARM=100000        events per thread of the untimed warm-up run of each side
#   TRACE_ROOT=/tmp/bench-traces   scratch space for the traces of both sides (a private
#                        subdirectory is created in it and deleted at exit)
#   RESULTS_DIR=<repo>/bench-results   where the run's directory of TSV files goes
#   BT2_WARN=auto        auto: sum babeltrace2's "Tracer discarded" warnings only when a
#                        trace misses events or our viewer reported discards; always: for
#                        every trace (one extra babeltrace2 text pass each, slow)
#   NO_INSTALL=1         never call apt-get; fail if something is missing
#
# Must run as root: LTTng's side goes through the root lttng-sessiond (/usr/bin). If none
# is running, one is started and stopped by pid at exit. Our side runs in a private
# LTTNG_HOME: its lttng-sessiond (and consumer) are started by this script, from copies
# of the binaries, and stopped by pid at exit. Sessions are named bpl<pid>-*; the open
# ones are destroyed on any exit, Ctrl-C included.
set -euo pipefail

PROG=bench-pipeline-vs-lttng
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
trap 'echo "$PROG: error: command failed (line $LINENO, exit $?): $BASH_COMMAND" >&2' ERR

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-5}
QUICK=${QUICK:-0}
TRACE_ROOT=${TRACE_ROOT:-/tmp/bench-traces}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench-results}
BT2_WARN=${BT2_WARN:-auto}
if [ "$QUICK" = 1 ]; then N_EV=${N_EV:-1000000}; else N_EV=${N_EV:-10000000}; fi
N_WARM=${N_WARM:-100000}
for v in REPS N_EV N_WARM; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
case $BT2_WARN in auto | always) ;; *) die "BT2_WARN must be auto or always" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (LTTng's side needs the root session daemon): sudo $0"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash >= 5 (EPOCHREALTIME)"

# Nothing from the caller's environment may change the buffers, the tracers or where the
# daemons are. Our side gets LTTNG_HOME explicitly, on each command.
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(LIBUST_[A-Za-z0-9_]*\|LTTNG_[A-Za-z0-9_]*\)=.*/\1/p')

# ------------------------------------------------------------------ cleanup
WORK=""              # private scratch dir (traces, binaries, build)
OUR_HOME=""          # LTTNG_HOME of our side
MADE_TRACE_ROOT=0    # TRACE_ROOT created by us: removed at exit if empty
LT_SESSIOND_PID=""   # a root lttng-sessiond we started
LT_SESSIONS_USED=0   # set before the first LTTng `lttng create`
CUR_LT=""            # the LTTng session currently open
CUR_OURS=""          # our session currently open
SESSION_PREFIX="bpl$$-"
now_us() { echo "${EPOCHREALTIME/./}"; }

stop_pid() { # pid: SIGTERM, then wait up to 10 s (a zombie counts as stopped)
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] && return 0
		sleep 0.05
	done
	echo "$PROG: warning: pid $pid still running 10 s after SIGTERM" >&2
	return 1
}
exe_is() { # pid path: the process runs that executable
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]
}
our_sessiond_pid() { # the live session daemon of OUR_HOME, started from our copy; else fail
	local pid
	[ -n "$OUR_HOME" ] || return 1
	pid=$(cat "$OUR_HOME/.lttng-rs/sessiond.lock" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && exe_is "$pid" "$WORK/bin/lttng-sessiond" &&
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]] && echo "$pid"
}
stop_our_daemon() { # stops our session daemon and the consumer(s) it spawned, by pid
	local pid c consumers=()
	pid=$(our_sessiond_pid) || return 0
	for c in $(pgrep -P "$pid" 2>/dev/null || true); do
		exe_is "$c" "$WORK/bin/lttng-consumerd-ust" && consumers+=("$c")
	done
	stop_pid "$pid" || true
	for c in "${consumers[@]}"; do
		# It should go with its daemon; if it does not, that is worth a line in the log.
		for _ in $(seq 40); do kill -0 "$c" 2>/dev/null || break; [[ $(ps -o stat= -p "$c" 2>/dev/null) == Z* ]] && break; sleep 0.05; done
		if kill -0 "$c" 2>/dev/null && [[ $(ps -o stat= -p "$c" 2>/dev/null) != Z* ]]; then
			echo "$PROG: warning: consumer pid $c outlived its session daemon by 2 s; stopping it" >&2
			stop_pid "$c" || true
		fi
	done
}

cleanup() {
	local rc=$?
	trap - ERR INT TERM
	set +e
	if [ -n "$CUR_OURS" ] && our_sessiond_pid >/dev/null; then
		echo "$PROG: destroying our session $CUR_OURS" >&2
		LTTNG_HOME=$OUR_HOME "$WORK/bin/lttng" destroy "$CUR_OURS" >/dev/null 2>&1
	fi
	stop_our_daemon
	if [ -n "$CUR_LT" ]; then
		echo "$PROG: destroying LTTng session $CUR_LT" >&2
		lttng destroy "$CUR_LT" >/dev/null 2>&1
	fi
	if [ "$LT_SESSIONS_USED" = 1 ]; then
		lttng list 2>/dev/null | sed -n "s/^ *[0-9]*) \(${SESSION_PREFIX}[^ ]*\) .*/\1/p" |
			while read -r s; do lttng destroy "$s" >/dev/null 2>&1; done
	fi
	if [ -n "$LT_SESSIOND_PID" ]; then
		log "stopping the root lttng-sessiond we started (pid $LT_SESSIOND_PID)"
		stop_pid "$LT_SESSIOND_PID"
	fi
	if [ -n "$OUR_HOME" ] && [ -d "$OUR_HOME" ]; then
		[ -n "${RES:-}" ] && [ -f "$OUR_HOME/.lttng-rs/sessiond.log" ] && cp "$OUR_HOME/.lttng-rs/sessiond.log" "$RES/our-sessiond.log"
		rm -rf -- "$OUR_HOME"
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
# LTTng's client and daemon: Debian's, from /usr/bin (a PATH holding our target/ must not
# swap them for ours). Ours are always called by their full path in $WORK/bin.
LT_LTTNG=/usr/bin/lttng LT_SESSIOND=/usr/bin/lttng-sessiond
[ -x $LT_LTTNG ] || LT_LTTNG=$(command -v lttng)
[ -x $LT_SESSIOND ] || LT_SESSIOND=$(command -v lttng-sessiond)
"$LT_LTTNG" --version 2>/dev/null | grep -q 'LTTng Trace Control' ||
	die "$LT_LTTNG is not LTTng's lttng (lttng-tools): $("$LT_LTTNG" --version 2>&1 | head -1)"
lttng() { "$LT_LTTNG" "$@"; }

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
# The daemon's sockets live in $OUR_HOME/.lttng-rs: keep the path short (sun_path is 108 bytes).
OUR_HOME=$(mktemp -d /tmp/bpl-home.XXXXXX)

STAMP=$(date +%Y%m%d-%H%M%S)
RES=$RESULTS_DIR/$STAMP-pipeline$([ "$QUICK" = 1 ] && echo -quick || true)
mkdir -p "$RES"
ln -sfn "$(basename "$RES")" "$RESULTS_DIR/latest-pipeline"
PIPE=$RES/pipeline.tsv CMDS=$RES/commands.tsv COLD=$RES/coldstart.tsv BLOG=$RES/bench.log CLI=$RES/lttng-cli.log
: >"$BLOG"
: >"$CLI"

# ------------------------------------------------------------------- build
# Copies in $WORK: a rebuild in the tree during the run cannot swap them. The session
# daemon finds the consumer next to itself, `lttng` finds the session daemon next to itself.
log "building (release): ust_bench, lttng, lttng-sessiond, lttng-consumerd-ust, the LTTng-UST C bench"
cargo_exes() { # cargo build args... -> paths of the executables produced, one a line
	"${BUILD_AS[@]}" "$CARGO" build --release --manifest-path "$REPO/Cargo.toml" \
		--message-format=json-render-diagnostics "$@" |
		python3 -c '
import json, sys
for m in map(json.loads, filter(str.strip, sys.stdin)):
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])'
}
exes=$(cargo_exes -p libust --bench ust_bench) || die "cargo build -p libust --bench ust_bench failed"
exe=$(tail -1 <<<"$exes")
[ -x "$exe" ] || die "cargo did not report the ust_bench executable"
cp "$exe" "$WORK/bin/ust_bench"
exes=$(cargo_exes -p lttng --bin lttng -p sessiond --bin lttng-sessiond -p consumer-ust --bin lttng-consumerd-ust) ||
	die "cargo build -p lttng -p sessiond -p consumer-ust failed"
for b in lttng lttng-sessiond lttng-consumerd-ust; do
	exe=$(grep "/$b\$" <<<"$exes" | tail -1 || true)
	[ -n "$exe" ] && [ -x "$exe" ] || die "cargo did not report the $b executable"
	cp "$exe" "$WORK/bin/$b"
done
make -s -C "$REPO/libust/benches/lttng-ust" O="$WORK/c-build" >&2 || die "building the LTTng-UST C bench failed"
cp "$WORK/c-build/ust_bench_lttng" "$WORK/bin/"
OURS=$WORK/bin/ust_bench LTTB=$WORK/bin/ust_bench_lttng OURL=$WORK/bin/lttng

# ---------------------------------------------------------- the two daemons
printf 'rep\timpl\tthreads\tcmd\tms\trc\n' >"$CMDS"
printf 'rep\twhat\tms\trc\n' >"$COLD"
record_cmd() { # rep impl T cmd us rc
	awk -v r="$1" -v i="$2" -v t="$3" -v c="$4" -v u="$5" -v rc="$6" \
		'BEGIN { printf "%s\t%s\t%s\t%s\t%.3f\t%s\n", r, i, t, c, u / 1000, rc }' >>"$CMDS"
}

# C impl args...: runs one `lttng` command of impl (ours | lttng), timed; sets OUT, US, RC.
# The time is the wall time of the whole command, process start-up included, as a user
# sees it.
C() {
	local impl=$1 t0 t1
	shift
	RC=0
	if [ "$impl" = ours ]; then
		t0=$(now_us)
		LTTNG_HOME=$OUR_HOME "$OURL" "$@" >"$WORK/cli.out" 2>&1 || RC=$?
		t1=$(now_us)
	else
		t0=$(now_us)
		"$LT_LTTNG" "$@" >"$WORK/cli.out" 2>&1 || RC=$?
		t1=$(now_us)
	fi
	US=$((t1 - t0))
	OUT=$(cat "$WORK/cli.out")
	printf '$ [%s] lttng %s\n%s\n(rc=%d, %d us)\n' "$impl" "$*" "$OUT" "$RC" "$US" >>"$CLI"
}
# Cmust rep T impl cmd args...: C "$impl" cmd args..., recorded in commands.tsv; dies when the command fails.
Cmust() {
	local rep=$1 T=$2 impl=$3 cmd=$4
	shift 3
	C "$impl" "$@"
	[ "$rep" = warmup ] || record_cmd "$rep" "$impl" "$T" "$cmd" "$US" "$RC"
	[ "$RC" = 0 ] || die "[$impl] lttng $* failed (exit $RC): $(tail -3 <<<"$OUT") (see $CLI)"
}

root_sessiond_pid() {
	local f=/var/run/lttng/lttng-sessiond.pid pid
	[ -r $f ] || return 1
	pid=$(cat $f 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		[ "$(ps -o comm= -p "$pid")" = lttng-sessiond ] && echo "$pid"
}
lt_sessiond_note="already running, not ours"
if pid=$(root_sessiond_pid); then
	log "using the root lttng-sessiond already running (pid $pid); it is left running"
else
	log "starting a root lttng-sessiond (log: $RES/sessiond.log)"
	t0=$(now_us)
	"$LT_SESSIOND" --background >"$RES/sessiond.log" 2>&1 ||
		die "lttng-sessiond --background failed; see $RES/sessiond.log"
	t1=$(now_us)
	# Ready = answers a client.
	for _ in $(seq 1000); do lttng list >/dev/null 2>&1 && break; sleep 0.005; done
	t2=$(now_us)
	for _ in $(seq 50); do pid=$(root_sessiond_pid) && break; sleep 0.1; done
	[ -n "${pid:-}" ] && root_sessiond_pid >/dev/null ||
		die "lttng-sessiond started but no live pid in /var/run/lttng/lttng-sessiond.pid; see $RES/sessiond.log"
	LT_SESSIOND_PID=$pid
	lt_sessiond_note="started by this run (pid $pid)"
	printf '0\tlttng_sessiond_background\t%s\t0\n0\tlttng_sessiond_ready\t%s\t0\n' \
		"$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')" \
		"$(awk -v u=$((t2 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')" >>"$COLD"
fi

start_our_daemon() { # rep: `lttng-sessiond --daemonize` (returns once it serves), timed
	local t0 t1 rc=0
	t0=$(now_us)
	LTTNG_HOME=$OUR_HOME "$WORK/bin/lttng-sessiond" --daemonize >>"$BLOG" 2>&1 || rc=$?
	t1=$(now_us)
	printf '%s\tours_sessiond_daemonize\t%s\t%s\n' "$1" "$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1000 }')" "$rc" >>"$COLD"
	[ "$rc" = 0 ] || die "our lttng-sessiond --daemonize failed (exit $rc); see $OUR_HOME/.lttng-rs/sessiond.log"
	our_sessiond_pid >/dev/null || die "our lttng-sessiond --daemonize returned but no live daemon is in $OUR_HOME/.lttng-rs/sessiond.lock"
}
log "starting our session daemon (LTTNG_HOME=$OUR_HOME)"
start_our_daemon 0

{
	echo "date	$(date -Is)"
	echo "git	$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')"
	echo "uname	$(uname -r)"
	echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
	echo "lttng	$(lttng --version | head -1)"
	echo "liblttng-ust	$(dpkg-query -W -f='${Version}' liblttng-ust1 2>/dev/null || echo '?')"
	echo "babeltrace2	$(babeltrace2 --version | head -1)"
	echo "rustc	$("${BUILD_AS[@]}" "$(dirname "$CARGO")/rustc" --version 2>/dev/null || echo '?')"
	echo "trace_fs	$(df -T "$WORK" | awk 'NR==2 {print $2 " (" $1 ")"}')"
	echo "quick	$QUICK"
	echo "reps	$REPS"
	echo "n	ev=$N_EV warm=$N_WARM"
	echo "sessiond	$lt_sessiond_note"
	echo "loadavg_start	$(cat /proc/loadavg)"
} >"$RES/env.txt"

# ------------------------------------------------------------- measuring
count_bt2() { # dir -> events babeltrace2 counts, or NA
	local n
	n=$(babeltrace2 "$1" -c sink.utils.counter -p step=+0 2>>"$RES/babeltrace2-errors.log" |
		awk '/Event messages?$/ {print $1; exit}') || true
	echo "${n:-NA}"
}
sum_discard_warnings() { # file: sum of "Tracer discarded N events", modulo 2^64 (see BENCHMARKS.md)
	python3 -c '
import re, sys
print(sum(int(n) for n in re.findall(r"[Tt]racer discarded (\d+) events?\b", open(sys.argv[1]).read())) % 2**64)' "$1"
}
list_stat() { # regex text -> sum of the numbers after it over the channels, or NA
	python3 -c '
import re, sys
v = re.findall(sys.argv[1] + r" *(\d+)", sys.stdin.read())
print(sum(map(int, v)) if v else "NA")' "$1" <<<"$2"
}
list_attr() { # regex text -> the first number after it, or NA
	python3 -c '
import re, sys
m = re.search(sys.argv[1] + r" *(\d+)", sys.stdin.read())
print(m.group(1) if m else "NA")' "$1" <<<"$2"
}
stream_bytes() {
	find "$1" -type f ! -name metadata ! -name '*.idx' ! -name '.*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
field() { sed -n "s/^AGG .*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"; }

printf 'rep\timpl\tthreads\tn_per_thread\tns_per_ev_threads\tns_per_ev_median\tevents_per_s\tapp_ms\texpected\tcounted_bt2\tcounted_view\tlost\tdiscarded_list\tlost_packets_list\twarn_view\twarn_bt2\tunaccounted\tsubbuf_size\tnum_subbuf\tstream_bytes_at_stop\tstream_bytes\tloadavg1\n' >"$PIPE"

# One whole-pipeline run: create, enable-event, start, the app, stop, list, destroy, then
# count what is in the trace. rep "warmup" runs the same steps and records nothing.
run_pipeline() { # rep impl T n
	local rep=$1 impl=$2 T=$3 n=$4 s dir out rc=0 t0 t1 app_us
	s="${SESSION_PREFIX}$impl-t$T-r$rep"
	dir=$WORK/traces/$impl-t$T-r$rep
	rm -rf -- "$dir"
	if [ "$impl" = lttng ]; then LT_SESSIONS_USED=1; fi
	Cmust "$rep" "$T" "$impl" create "$s" -o "$dir"
	if [ "$impl" = ours ]; then CUR_OURS=$s; else CUR_LT=$s; fi
	Cmust "$rep" "$T" "$impl" enable-event -u -s "$s" bench:ev
	Cmust "$rep" "$T" "$impl" start "$s"
	t0=$(now_us)
	if [ "$impl" = ours ]; then
		out=$(LTTNG_HOME=$OUR_HOME "$OURS" "$n" "$T" ev 2>>"$BLOG") || rc=$?
	else
		out=$("$LTTB" "$n" "$T" ev 2>>"$BLOG") || rc=$?
	fi
	t1=$(now_us)
	app_us=$((t1 - t0))
	printf '# rep=%s impl=%s threads=%s n=%s rc=%s app_us=%s\n%s\n' "$rep" "$impl" "$T" "$n" "$rc" "$app_us" "$out" >>"$BLOG"
	[ "$rc" = 0 ] || die "$impl bench failed (exit $rc), T=$T rep $rep; see $BLOG"
	Cmust "$rep" "$T" "$impl" stop "$s"
	# `stop` returns once everything recorded is written: the stream files must not grow after it.
	local sb_stop
	sb_stop=$(stream_bytes "$dir")
	Cmust "$rep" "$T" "$impl" list "$s"
	local listing=$OUT
	Cmust "$rep" "$T" "$impl" destroy "$s"
	if [ "$impl" = ours ]; then CUR_OURS=""; else CUR_LT=""; fi

	# Kept as printed (summed over channels): LTTng's can have bit 63 set, see BENCHMARKS.md.
	local disc lostpk sbs nsb
	disc=$(list_stat 'Discarded events:' "$listing")
	lostpk=$(list_stat 'Lost packets:' "$listing")
	sbs=$(list_attr 'Sub-buffer size:' "$listing")
	nsb=$(list_attr '(?:Sub-buffer count:|Number of sub-buffers:)' "$listing")
	[ -d "$dir" ] || die "$impl wrote no trace to $dir (T=$T rep $rep)"
	local expected=$((n * T)) counted counted_view lost=NA warn_view warn_bt2=NA unacc=NA sb
	counted=$(count_bt2 "$dir")
	[ "$counted" != NA ] && lost=$((expected - counted))
	counted_view=$("$OURL" view "$dir" 2>"$WORK/view.err" | wc -l) || true
	warn_view=$(sum_discard_warnings "$WORK/view.err")
	if grep -q '^ERROR' "$WORK/view.err"; then
		{ echo "# lttng view $impl-t$T-r$rep"; grep '^ERROR' "$WORK/view.err" | head -5; } >>"$RES/view-errors.log"
	fi
	if [ "$BT2_WARN" = always ] || [ "$lost" != 0 ] || [ "$warn_view" != 0 ]; then
		babeltrace2 "$dir" 2>"$WORK/bt2.err" >/dev/null || true
		warn_bt2=$(sum_discard_warnings "$WORK/bt2.err")
		{ echo "# babeltrace2 $impl-t$T-r$rep (lost=$lost)"; head -3 "$WORK/bt2.err"; } >>"$RES/discard-warnings.log"
	fi
	# Events recorded but neither in the trace nor counted as discarded by `lttng list`.
	if [ "$lost" != NA ] && [[ $disc =~ ^[0-9]+$ ]] && [ "${#disc}" -lt 19 ]; then unacc=$((lost - disc)); fi
	sb=$(stream_bytes "$dir")
	rm -rf -- "$dir"
	if [ "$rep" = warmup ]; then
		log "warm-up $impl T=$T: in trace $counted of $expected, discarded $disc, buffers ${nsb} x ${sbs} B"
		[ "$counted" != NA ] && [ "$counted" -gt 0 ] || die "$impl warm-up: no event read back from the trace (counted $counted); see $BLOG and $CLI"
		return 0
	fi
	local tns
	tns=$(awk '/^THREAD/ { for (i = 1; i <= NF; i++) if ($i ~ /^ns_per_ev=/) { printf "%s%s", sep, substr($i, 11); sep = "," } }' <<<"$out")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$rep" "$impl" "$T" "$n" "$tns" "$(field ns_per_ev_thread_median "$out")" \
		"$(field events_per_s "$out")" "$(awk -v u="$app_us" 'BEGIN { printf "%.1f", u / 1000 }')" \
		"$expected" "$counted" "$counted_view" "$lost" "$disc" "$lostpk" "$warn_view" "$warn_bt2" "$unacc" \
		"$sbs" "$nsb" "$sb_stop" "$sb" "$(cut -d' ' -f1 /proc/loadavg)" >>"$PIPE"
	log "rep $rep/$REPS T=$T $impl: ns/ev $(field ns_per_ev_thread_median "$out"), in trace $counted (view $counted_view) of $expected, discarded (lttng list) $disc, unaccounted $unacc; stop $(grep -P "^$rep\t$impl\t$T\tstop\t" "$CMDS" | cut -f5) ms, destroy $(grep -P "^$rep\t$impl\t$T\tdestroy\t" "$CMDS" | cut -f5) ms"
	[ "$sb_stop" = "$sb" ] || log "WARNING: $impl T=$T rep $rep: the stream files grew from $sb_stop to $sb bytes after \`stop\` returned"
	if [ "$counted" = NA ] || [ "$counted" = 0 ]; then
		die "$impl T=$T rep $rep: no event read back from the trace (see $RES/babeltrace2-errors.log)"
	fi
}

# ------------------------------------------------ phase 1: the whole pipeline
# A first untimed run per side: the first session of a daemon spawns or wakes its
# consumer, creates the per-user buffers, and LTTng's maps its shm; the timed runs are the
# daemons' steady state.
log "warm-up: one $N_WARM-event run per side"
run_pipeline warmup ours 1 "$N_WARM"
run_pipeline warmup lttng 1 "$N_WARM"
sync

log "phase 1: $REPS repetition(s) of bench:ev, $N_EV events per thread, T=1 and T=2, through each side's daemons"
for rep in $(seq "$REPS"); do
	if [ $((rep % 2)) = 1 ]; then impls="ours lttng"; else impls="lttng ours"; fi
	for T in 1 2; do
		for impl in $impls; do
			run_pipeline "$rep" "$impl" "$T" "$N_EV"
			sync
		done
	done
done

# ------------------------------------------------ phase 2: cold start (ours)
# Each repetition: no daemon running; `lttng-sessiond --daemonize` alone; then, with no
# daemon again, `lttng trace -- true` (starts the daemon, creates a private session,
# runs `true`, stops, destroys, views the empty trace); then the same with the daemon
# left running by it.
log "phase 2: cold start of our daemon and of \`lttng trace -- true\`, $REPS time(s)"
for rep in $(seq "$REPS"); do
	stop_our_daemon
	start_our_daemon "$rep"
	stop_our_daemon
	for what in cold warm; do
		dir=$WORK/traces/trace-$what-r$rep
		C ours trace -o "$dir" -- true
		printf '%s\tours_trace_true_%s\t%s\t%s\n' "$rep" "$what" "$(awk -v u="$US" 'BEGIN { printf "%.3f", u / 1000 }')" "$RC" >>"$COLD"
		[ "$RC" = 0 ] || die "lttng trace -- true ($what) failed (exit $RC): $(tail -3 <<<"$OUT")"
		our_sessiond_pid >/dev/null || die "lttng trace -- true ($what) left no live session daemon behind"
		rm -rf -- "$dir"
	done
	log "cold start rep $rep/$REPS: daemonize $(grep -P "^$rep\tours_sessiond_daemonize\t" "$COLD" | cut -f3) ms, lttng trace -- true cold $(grep -P "^$rep\tours_trace_true_cold\t" "$COLD" | cut -f3) ms, warm $(grep -P "^$rep\tours_trace_true_warm\t" "$COLD" | cut -f3) ms"
done
stop_our_daemon

echo "loadavg_end	$(cat /proc/loadavg)" >>"$RES/env.txt"
python3 "$REPO/scripts/bench-summary.py" "$RES" >"$RES/summary.md" || die "the summary failed; raw data in $RES"
cat "$RES/summary.md"
log "raw results in $RES"
