#!/usr/bin/env bash
# Configures and builds squish (Release, Ninja) into $SQUISH_BUILD.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
cmake -S . -B "$SQUISH_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$SQUISH_BUILD" -j "$(nproc)"
