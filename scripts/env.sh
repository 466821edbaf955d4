# Sourced by the scripts: where squish keeps its venv, models and build (all outside git).
export SQUISH_CACHE="${SQUISH_CACHE:-$HOME/.cache/squish}"
export SQUISH_VENV="${SQUISH_VENV:-$SQUISH_CACHE/venv}"
export SQUISH_MODELS="${SQUISH_MODELS:-$SQUISH_CACHE/models}"
export SQUISH_BUILD="${SQUISH_BUILD:-build}"
# ccache: paths relative to the checkout and no working directory in the hash, so every clone or
# worktree of the repository shares one cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

# llama.cpp's CMake flags for everything this CPU has but AMX, printed on AMX CPUs only (nothing
# elsewhere): its AMX matmul segfaults on them (ggml_backend_amx_mul_mat, ggml-org/llama.cpp#20824,
# open; ollama and dspy drop the AMX variant for it). Used for llama-cpp-python's build (setup.sh)
# and the benchmark tools' native build (bench/build_llamacpp.sh).
llamacpp_flags_without_amx() {
  grep -qw amx_int8 /proc/cpuinfo || return 0
  local f="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON" on
  for on in avx_vnni:AVX_VNNI avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
    if grep -qw "${on%%:*}" /proc/cpuinfo; then f+=" -DGGML_${on#*:}=ON"; else f+=" -DGGML_${on#*:}=OFF"; fi
  done
  echo "$f -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
}
