#!/usr/bin/env bash
# Peer benchmark (not a test): squish bench vs llama.cpp's llama-bench on the same files and threads:
# the Llama-3.2-1B shape in 9 types (AVX-512 path at 1 and 2 threads, AVX2 path at 2) and the small
# real models; about 40 minutes on an idle machine (--quick: a ~10-minute subset). Builds squish and
# llama.cpp's tools (bench/build_llamacpp.sh, cached in ~/.cache/squish/llamacpp) when missing. Extra
# arguments go to bench/speed_vs_llamacpp.py (e.g. --types Q4_0,Q4_K_M --threads 2 --tables a,b).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
py="${SQUISH_PYTHON:-$SQUISH_VENV/bin/python}"
[ -x "$py" ] || py=python3
export SQUISH_BIN="${SQUISH_BIN:-$here/$SQUISH_BUILD/squish}"
[ -x "$SQUISH_BIN" ] || bash "$here/scripts/build.sh"
bash "$here/bench/build_llamacpp.sh"
"$py" "$here/bench/speed_vs_llamacpp.py" "$@"
