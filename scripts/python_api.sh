#!/usr/bin/env bash
# The Python package's tests: `pip install .` into a fresh venv ($SQUISH_CACHE/pyapi-venv, no system
# site packages; numpy, pytest and the build backend come from pip's cache after the first run), then
# pytest tests/python_api against the CLI at $SQUISH_BIN (the main build's).
# The wheel builds in build-python/ with ccache, so after the main build it is mostly cache hits.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
venv="$SQUISH_CACHE/pyapi-venv"
log() { printf '[python_api] %s\n' "$*" >&2; }

t0=$SECONDS
rm -rf "$venv"
python3 -m venv "$venv"
# gguf: the oracle of squish.tensors (gguf-py's reader, pinned as in requirements.txt).
"$venv/bin/pip" install -q numpy pytest "scikit-build-core>=0.10" "nanobind>=2.0" gguf==0.19.0
t1=$SECONDS
# The main build's compiler, by the same name: scikit-build-core would otherwise take Python's
# sysconfig CXX (e.g. g++ for c++), and ccache would miss every object the main build compiled.
cxx="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$SQUISH_BUILD/CMakeCache.txt" 2>/dev/null || true)"
# No build isolation: the backend is already in the venv (saves a second download and venv).
CXX="${CXX:-${cxx:-c++}}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$venv/bin/pip" install -q --no-build-isolation .
t2=$SECONDS
# The wheel of the same build (build-python/ is reused, so this only packs what is built);
# tests/python_api/test_wheel.py installs it into a venv of its own.
wheels="$here/build-python/wheel"
rm -rf "$wheels"
"$venv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$wheels" .
export SQUISH_WHEEL="$(ls "$wheels"/squish-*.whl)"
t3=$SECONDS
log "fresh venv + numpy/pytest/backend $((t1 - t0)) s; pip install . $((t2 - t1)) s; pip wheel . $((t3 - t2)) s"
"$venv/bin/python" -m pytest -q tests/python_api --durations=5 --basetemp="$here/$SQUISH_BUILD/pytest-api-tmp"
log "tests $((SECONDS - t3)) s"
