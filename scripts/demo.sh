#!/usr/bin/env bash
# Builds the tracer and traces the bundled demo program the everyday way: `lttng trace`
# starts this user's session daemon, records the program's events through
# consumer-ust, and prints them. Usage: scripts/demo.sh [ITERATIONS]
#
# The demo keeps its session daemon and traces in a private LTTNG_HOME (printed at the
# end) and stops the daemon when it is done; in real use the daemon stays up and the
# traces go to ~/lttng-traces/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p lttng -p sessiond -p consumer-ust -p libust --bins --example demo
home=$(mktemp -d "${TMPDIR:-/tmp}/lttng-demo.XXXXXX")
export LTTNG_HOME=$home
trap 'pid=$(cat "$home/.lttng-rs/sessiond.lock" 2>/dev/null) && kill "$pid" 2>/dev/null || true' EXIT
target/release/lttng trace -- target/release/examples/demo "${1:-3}"
echo "(LTTNG_HOME=$home: lttng view and babeltrace2 read the trace directory above)"
