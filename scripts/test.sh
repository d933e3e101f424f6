#!/usr/bin/env bash
# Runs every test of the workspace. Installs babeltrace2 (the reference CTF reader the
# tests compare against) with apt-get when it is missing, which needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v babeltrace2 >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && apt-get install -y -qq babeltrace2
	else
		echo "test.sh: babeltrace2 is missing: run 'sudo apt-get install babeltrace2' (the tests compare our traces with it)" >&2
		exit 1
	fi
fi

cargo build --workspace --lib --bins --examples
cargo test --workspace
