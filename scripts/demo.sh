#!/usr/bin/env bash
# Builds the tracer, runs the bundled demo program traced in standalone mode, and
# prints its events with our viewer. Usage: scripts/demo.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p lttng -p libust --bin lttng --example demo
dir=$(mktemp -d "${TMPDIR:-/tmp}/libust-demo.XXXXXX")
LIBUST_TRACE_DIR="$dir" LIBUST_CONTEXTS=vpid,vtid,procname \
	target/release/examples/demo "${1:-3}"
target/release/lttng view "$dir"
echo
echo "trace: $dir  (also: babeltrace2 $dir)"
