#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang-14, ASan + UBSan, build-fuzz) and runs each one
# from its seeds (tests/fuzz/make_seeds.py) plus the corpus earlier runs grew (build-fuzz/corpus).
#   bench/fuzz.sh [short|long] [TARGET...]
#     short  SQUISH_FUZZ_SHORT_RUNS executions per target (default 4000)
#     long   SQUISH_FUZZ_LONG_TOTAL executions in total (default 10^7), split evenly over the targets,
#            or, with SQUISH_FUZZ_LONG_SECONDS, that wall-clock budget split evenly (as time) instead
# Targets run SQUISH_FUZZ_PARALLEL at a time (default 2, never more); SQUISH_FUZZ_MAX_TIME caps
# each target's seconds (libFuzzer -max_total_time; the report shows the executions reached).
# Prints per target the executions, the coverage (libFuzzer's final cov / ft figures) and the
# findings (crashes, sanitizer reports, leaks, timeouts, out-of-memory); the inputs are kept in
# build-fuzz/findings/<target>/.
# Exits 1 on any finding. Needs clang-14 with its libFuzzer runtime (Debian clang-14, libclang-rt-14-dev).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
build=build-fuzz
mode="${1:-short}"
[ $# -gt 0 ] && shift
case "$mode" in short|long) ;; *) echo "fuzz.sh: error: unknown mode '$mode' (short or long)" >&2; exit 2 ;; esac

all_targets=(gguf safetensors safetensors_index hf_config tokenizer_json tokenize chat_template recipe
             imatrix serve_request)
targets=("${@:-${all_targets[@]}}")
# Dictionaries: the files of tests/fuzz/dict joined for each target.
declare -A dicts=([gguf]="gguf" [imatrix]="gguf imatrix" [safetensors]="json safetensors"
  [safetensors_index]="json safetensors" [hf_config]="json hf_config" [tokenizer_json]="json tokenizer_json"
  [tokenize]="tokenize" [chat_template]="chat_template" [recipe]="recipe" [serve_request]="json serve_request")

command -v clang++-14 >/dev/null || { echo "fuzz.sh: error: clang++-14 not found (apt-get install clang-14)" >&2; exit 2; }
[ -n "$(clang++-14 -print-file-name=libclang_rt.fuzzer-x86_64.a | grep /)" ] &&
  [ -f "$(clang++-14 -print-file-name=libclang_rt.fuzzer-x86_64.a)" ] ||
  { echo "fuzz.sh: error: clang-14's libFuzzer runtime is missing (apt-get install libclang-rt-14-dev)" >&2; exit 2; }

start=$SECONDS
cmake -S . -B "$build" -G Ninja -DSQUISH_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
nice -n 10 cmake --build "$build" -j "${SQUISH_FUZZ_JOBS:-2}" --target fuzz
echo "[fuzz] build: $((SECONDS - start)) s"

rm -rf "$build/seeds" "$build/dict" && mkdir -p "$build/dict"
"$SQUISH_VENV/bin/python" tests/fuzz/make_seeds.py "$build/seeds"
for t in "${targets[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$t" ] || { echo "fuzz.sh: error: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
  for d in ${dicts[$t]}; do cat "tests/fuzz/dict/$d.dict"; done > "$build/dict/$t.dict"
done

if [ "$mode" = short ]; then
  runs="${SQUISH_FUZZ_SHORT_RUNS:-4000}"
else
  total="${SQUISH_FUZZ_LONG_TOTAL:-10000000}"
  runs=$(((total + ${#targets[@]} - 1) / ${#targets[@]}))
fi
parallel="${SQUISH_FUZZ_PARALLEL:-2}"
((parallel >= 1 && parallel <= 2)) || parallel=2
# SQUISH_FUZZ_LONG_SECONDS: a wall-clock budget instead of an even split of the executions; every
# target then gets the same time (budget x parallel / targets), so the fast readers (requests,
# templates) run more executions than the slow ones (SafeTensors shards, configs).
if [ "$mode" = long ] && [ -n "${SQUISH_FUZZ_LONG_SECONDS:-}" ]; then
  runs=-1
  SQUISH_FUZZ_MAX_TIME=$((SQUISH_FUZZ_LONG_SECONDS * parallel / ${#targets[@]}))
  echo "[fuzz] long: ${SQUISH_FUZZ_MAX_TIME} s per target, $parallel at a time"
fi
logs="$build/fuzz-logs"
mkdir -p "$logs"

# Runs one target for $runs executions; its log goes to $logs/<target>.log.
run_target() {
  local t="$1" corpus="$build/corpus/$t" findings="$build/findings/$t"
  rm -rf "$findings" && mkdir -p "$corpus" "$findings"
  local inputs=("$corpus" "$build/seeds/$t")
  [ -d "$build/seeds/$t" ] || inputs=("$corpus")
  # Allocations above 1 GiB or an input running 30 s count as findings (resource limits).
  nice -n 10 "$build/tests/fuzz/fuzz_$t" -runs="$runs" -dict="$build/dict/$t.dict" -max_len=16384 -timeout=30 \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$findings/" \
      ${SQUISH_FUZZ_MAX_TIME:+-max_total_time=$SQUISH_FUZZ_MAX_TIME} \
      "${inputs[@]}" >"$logs/$t.log" 2>&1
}

fuzz_start=$SECONDS
declare -A status=()
pids=()
names=()
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  ((runs < 0)) && echo "[fuzz] $t: ${SQUISH_FUZZ_MAX_TIME} s" || echo "[fuzz] $t: $runs executions"
  rm -f "$logs/$t.rc"
  ( rc=0; run_target "$t" || rc=$?; echo "$rc" >"$logs/$t.rc" ) &
done
wait
elapsed=$((SECONDS - fuzz_start))

# Report: executions and coverage from libFuzzer's final lines, findings from the log and artifacts.
printf '\n%-18s %12s %8s %8s %8s  %s\n' target executions cov ft exec/s findings
total_execs=0
failed=0
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  findings=""
  grep -q 'ERROR: AddressSanitizer' "$log" && findings+="asan "
  grep -q 'runtime error:' "$log" && findings+="ubsan "
  grep -q 'ERROR: LeakSanitizer' "$log" && findings+="leak "
  grep -q 'ERROR: libFuzzer: timeout' "$log" && findings+="timeout "
  grep -qE 'ERROR: libFuzzer: (out-of-memory|malloc limit)' "$log" && findings+="oom "
  grep -qE 'ERROR: libFuzzer: deadly signal|fuzz: exception' "$log" && findings+="crash "
  rc=$(cat "$logs/$t.rc" 2>/dev/null || echo 1)
  [ "$rc" = 0 ] || [ -n "$findings" ] || findings+="exit-$rc "
  n_art=$(find "$build/findings/$t" -type f | wc -l)
  [ -n "$findings" ] && failed=1 && findings+="($n_art inputs in $build/findings/$t)"
  printf '%-18s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${rate:-?}" "${findings:-none}"
  total_execs=$((total_execs + ${execs:-0}))
done
echo "[fuzz] $mode: $total_execs executions over ${#targets[@]} targets in ${elapsed} s (logs in $logs)"
if [ "$mode" = long ]; then
  goal="${SQUISH_FUZZ_LONG_TOTAL:-10000000}"
  ((total_execs >= goal)) && echo "[fuzz] long: goal of $goal executions reached" ||
    echo "[fuzz] long: goal of $goal executions NOT reached ($total_execs)"
fi
exit $failed
