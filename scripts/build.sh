#!/usr/bin/env bash
# Configures and builds squish (Release, Ninja) into $SQUISH_BUILD: every target, or the ones named
# (e.g. `build.sh squish`: the CLI alone, as the main job needs).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
cmake -S . -B "$SQUISH_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=(); for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$SQUISH_BUILD" -j "$(nproc)" "${targets[@]}"
