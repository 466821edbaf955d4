#!/usr/bin/env bash
# Fetches and unpacks the llama-cpp-python source package pinned in scripts/requirements.txt into
# $SQUISH_CACHE/llamacpp/src/llama_cpp_python-VERSION (its vendor/llama.cpp holds llama.cpp's
# convert_hf_to_gguf.py and gguf-py, which the tests run, and the sources bench/build_llamacpp.sh
# builds). Idempotent: an unpacked tree is kept. Prints the unpacked directory.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"

version="$(sed -n 's/^llama-cpp-python==\([^ ;]*\).*/\1/p' "$here/scripts/requirements.txt")"
[ -n "$version" ] || { echo "fetch_llamacpp_source: no llama-cpp-python==VERSION pin in scripts/requirements.txt" >&2; exit 1; }
root="$SQUISH_CACHE/llamacpp/src"
src_dir="$root/llama_cpp_python-$version"
if [ ! -f "$src_dir/vendor/llama.cpp/CMakeLists.txt" ]; then
  py="$SQUISH_VENV/bin/python"
  [ -x "$py" ] || { echo "fetch_llamacpp_source: no venv at $SQUISH_VENV (run scripts/setup.sh)" >&2; exit 1; }
  mkdir -p "$root"
  tarball="$root/llama_cpp_python-$version.tar.gz"
  if [ ! -f "$tarball" ]; then
    echo "[llamacpp] downloading the llama-cpp-python $version source package" >&2
    # Only llama-cpp-python itself as source: its build requirements may come as wheels.
    "$py" -m pip download --quiet --no-binary llama-cpp-python --no-deps "llama-cpp-python==$version" -d "$root" >&2
  fi
  echo "[llamacpp] extracting $tarball" >&2
  tmp="$root/.extract.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  tar -xzf "$tarball" -C "$tmp"
  rm -rf "$src_dir" && mv "$tmp/llama_cpp_python-$version" "$src_dir" && rm -rf "$tmp"
fi
echo "$src_dir"
