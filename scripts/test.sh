#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need with apt-get when it
# is missing (babeltrace2, the reference CTF reader; systemd-analyze; adduser), which
# needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

# babeltrace2 reads our traces back; systemd-analyze checks the package's units and
# adduser is what the package's maintainer scripts create the tracing group with.
missing=""
command -v babeltrace2 >/dev/null || missing="$missing babeltrace2"
command -v systemd-analyze >/dev/null || missing="$missing systemd"
command -v addgroup >/dev/null || missing="$missing adduser"
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && apt-get install -y -qq $missing
	else
		echo "test.sh: missing:$missing; run 'sudo apt-get install$missing' (the tests need them)" >&2
		exit 1
	fi
fi

cargo build --workspace --lib --bins --examples
cargo test --workspace
