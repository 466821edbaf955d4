#!/usr/bin/env bash
# Builds squish with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan and runs the C++
# tests and a short subset of the Python interop tests (SQUISH_BIN = the sanitized binary).
# Any sanitizer report fails the run: reports go to build-asan/sanitizer-logs/ (so a test that only
# checks for a non-zero exit still cannot hide one) and are printed at the end.
# Usage: scripts/sanitize.sh [extra pytest -k expression]   (SQUISH_SANITIZE_JOBS: build jobs, default 2)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
build=build-asan
logs="$here/$build/sanitizer-logs"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DSQUISH_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j "${SQUISH_SANITIZE_JOBS:-2}"

rm -rf "$logs" && mkdir -p "$logs"
# exitcode 86: a sanitizer abort is never mistaken for squish's own error exit (1). ASan reserves
# terabytes of shadow memory, so test_bad_input's RLIMIT_AS cap is replaced by ASan's own 2 GiB
# allocation cap (an oversized allocation fails as it would under the rlimit).
export SQUISH_NO_MEMLIMIT=1
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:max_allocation_size_mb=2048:allocator_may_return_null=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$logs/ubsan"
export SQUISH_BIN="$here/$build/squish"

status=0
start=$SECONDS
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" || status=1
echo "[sanitize] C++ tests: $((SECONDS - start)) s"

# Python interop: the bad-input and parser tests (where memory errors hide), short runs of each
# command and the server (its threads, disconnects, shutdown); the long numerical comparisons are
# left to scripts/test.sh.
start=$SECONDS
"$SQUISH_VENV/bin/python" -m pytest -q --basetemp="$here/$build/pytest-tmp" -p no:cacheprovider \
  tests/python/test_bad_input.py tests/python/test_quantize_bad_input.py tests/python/test_inspect.py \
  tests/python/test_safetensors_cli.py tests/python/test_tokenizer.py tests/python/test_plan.py \
  tests/python/test_perplexity.py tests/python/test_model_generate.py tests/python/test_serve.py \
  -k "not 40_chunks${1:+ and ($1)}" || status=1
echo "[sanitize] Python interop tests: $((SECONDS - start)) s"

if compgen -G "$logs/*" >/dev/null; then
  echo "[sanitize] sanitizer reports:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  status=1
fi
exit $status
