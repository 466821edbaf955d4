#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then CTest (C++), pytest (Python interop) and the
# Python package (`pip install .` in a fresh venv, then tests/python_api).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
bash scripts/setup.sh
bash scripts/build.sh
export SQUISH_BIN="$here/$SQUISH_BUILD/squish"
status=0
ctest --test-dir "$SQUISH_BUILD" --output-on-failure -j "$(nproc)" || status=1
"$SQUISH_VENV/bin/python" -m pytest -q tests/python --durations=20 --basetemp="$here/$SQUISH_BUILD/pytest-tmp" || status=1
bash scripts/python_api.sh || status=1
exit $status
