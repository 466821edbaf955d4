#!/usr/bin/env bash
# Builds llama.cpp's tools (llama-bench, llama-quantize, llama-perplexity, llama-imatrix, llama-server)
# from the llama.cpp that the llama-cpp-python source package vendors, at the version pinned in
# scripts/requirements.txt, offline after the one `pip download`. Two builds, cached outside git:
#   $SQUISH_CACHE/llamacpp/native  GGML_NATIVE=ON (everything this CPU has, AVX-512 included; on
#                                  AMX CPUs everything but AMX, whose matmul crashes: see flags_for)
#   $SQUISH_CACHE/llamacpp/avx2    AVX2 + FMA + F16C only (no AVX-512, no AVX-VNNI)
# Idempotent: a build whose binaries and stamp (version + flags) exist is skipped.
# Usage: bench/build_llamacpp.sh [native|avx2 ...]   (default: both); LLAMACPP_JOBS (default 2).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"

version="$(sed -n 's/^llama-cpp-python==\([^ ;]*\).*/\1/p' "$here/scripts/requirements.txt")"
[ -n "$version" ] || { echo "build_llamacpp: no llama-cpp-python==VERSION pin in scripts/requirements.txt" >&2; exit 1; }
root="$SQUISH_CACHE/llamacpp"
src_dir="$root/src/llama_cpp_python-$version"
# llama-bench and llama-perplexity (its system_info) first, so the benchmark can start on both builds early.
first_targets=(llama-bench llama-perplexity)
later_targets=(llama-quantize llama-imatrix llama-server)
targets=("${first_targets[@]}" "${later_targets[@]}")
jobs="${LLAMACPP_JOBS:-2}"
# The builds are siblings under $root, so with paths made relative to it ccache shares the objects they
# compile alike (everything but ggml-cpu).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1

# Options every build shares: the tools only, static, no network at configure or build time.
common_flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_LLGUIDANCE=OFF -DGGML_CCACHE=ON -DGGML_BACKEND_DL=OFF
  -DGGML_CPU_ALL_VARIANTS=OFF)

flags_for() {
  case "$1" in
    native)  # on AMX CPUs everything but AMX (scripts/env.sh: llamacpp_flags_without_amx)
      local f
      f="$(llamacpp_flags_without_amx)"
      echo "${f:--DGGML_NATIVE=ON}" ;;
    avx2) echo "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
               "-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF" \
               "-DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
    *) echo "build_llamacpp: unknown build '$1' (native or avx2)" >&2; return 1 ;;
  esac
}

fetch_source() {
  bash "$here/scripts/fetch_llamacpp_source.sh" >/dev/null
}

configure() {
  local name="$1" out="$root/$1" extra
  extra="$(flags_for "$name")"
  [ -f "$out/build.ninja" ] && [ "$(cat "$out/configured" 2>/dev/null)" = "$extra" ] && return
  fetch_source
  echo "[llamacpp] $name: configuring ($extra)"
  mkdir -p "$out"
  # shellcheck disable=SC2086
  cmake -S "$src_dir/vendor/llama.cpp" -B "$out" -G Ninja "${common_flags[@]}" $extra >"$out.configure.log" 2>&1 \
    || { echo "build_llamacpp: configure failed, see $out.configure.log" >&2; exit 1; }
  if [ "$name" = avx2 ] && grep -rqs -- '-mavx512\|-march=native' --include=flags.make "$out/ggml"; then
    echo "build_llamacpp: the avx2 build is configured with AVX-512 flags (see $out/ggml/**/flags.make)" >&2
    exit 1
  fi
  echo "$extra" >"$out/configured"
}

stamp_text() { echo "llama-cpp-python $version; ${common_flags[*]} $(flags_for "$1")"; }

up_to_date() {
  local out="$root/$1" t
  for t in "${targets[@]}"; do [ -x "$out/bin/$t" ] || return 1; done
  [ "$(cat "$out/stamp" 2>/dev/null)" = "$(stamp_text "$1")" ]
}

build_targets() {
  local name="$1" out="$root/$1"
  shift
  configure "$name"
  echo "[llamacpp] $name: building $* (-j$jobs; log $out.build.log)"
  cmake --build "$out" -j "$jobs" --target "$@" >>"$out.build.log" 2>&1 \
    || { echo "build_llamacpp: build failed, see $out.build.log" >&2; exit 1; }
}

builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(native avx2)
for b in "${builds[@]}"; do flags_for "$b" >/dev/null; done
todo=()
for b in "${builds[@]}"; do
  if up_to_date "$b"; then echo "[llamacpp] $b: up to date ($root/$b/bin)"; else todo+=("$b"); fi
done
for b in "${todo[@]}"; do build_targets "$b" "${first_targets[@]}"; done
for b in "${todo[@]}"; do
  build_targets "$b" "${later_targets[@]}"
  stamp_text "$b" >"$root/$b/stamp"
  echo "[llamacpp] $b: built $root/$b/bin"
done
