#!/usr/bin/env bash
# Peer benchmarks (not tests): squish vs llama.cpp speed, same thread count. Extra arguments go to
# bench/speed_vs_llamacpp.py (e.g. --threads 2 --reps 5).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
py="${SQUISH_PYTHON:-$SQUISH_VENV/bin/python}"
[ -x "$py" ] || py=python3
export SQUISH_BIN="${SQUISH_BIN:-$here/$SQUISH_BUILD/squish}"
[ -x "$SQUISH_BIN" ] || bash "$here/scripts/build.sh"
"$py" "$here/bench/speed_vs_llamacpp.py" "$@"
