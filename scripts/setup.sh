#!/usr/bin/env bash
# Installs what squish needs and fetches the default models from PyPI. Idempotent: a second run
# only verifies.
#   setup.sh          everything, for the tests: the main job's set plus the Python oracles
#   setup.sh --main   only what the main job needs (compiler, CMake, Debian libraries, the models)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"

log() { printf '[setup] %s\n' "$*" >&2; }

profile=test
case "${1:-}" in
  "") ;;
  --main) profile=main ;;
  *) echo "setup.sh: error: unknown option '$1' (use --main or nothing)" >&2; exit 2 ;;
esac

# --- Debian packages -------------------------------------------------------------------------
apt_packages=(build-essential cmake ninja-build ccache pkg-config nlohmann-json3-dev libcli11-dev
              libfmt-dev libgtest-dev libbenchmark-dev libcpp-httplib-dev libeigen3-dev zlib1g-dev unzip
              libyaml-cpp-dev python3-venv)
# The Python package's tests build the extension module (`pip install .`): Python's headers.
[ "$profile" = test ] && apt_packages+=(python3-dev time)  # time: GNU time, peak RSS of a child in tests
log "profile '$profile': Debian packages ${apt_packages[*]}; a Python venv at $SQUISH_VENV ($(
  [ "$profile" = main ] && echo 'pip only, to fetch the models' ||
  echo "with the test oracles of scripts/requirements.txt: $(grep -v '^#' "$here/scripts/requirements.txt" | tr '\n' ' ')"
)); the default models in $SQUISH_MODELS"
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Python venv (pip fetches the models; the test profile adds the oracles) ------------------
if [ ! -x "$SQUISH_VENV/bin/python" ]; then
  log "creating Python venv at $SQUISH_VENV"
  python3 -m venv "$SQUISH_VENV"
fi
stamp="$SQUISH_VENV/.squish-requirements"
no_amx="$(llamacpp_flags_without_amx)"  # empty but on AMX CPUs
[ -z "$no_amx" ] || export CMAKE_ARGS="$no_amx"
if [ "$profile" = test ] && ! cmp -s "$here/scripts/requirements.txt" "$stamp" 2>/dev/null; then
  log "installing Python packages (llama-cpp-python builds llama.cpp from source: several minutes)"
  "$SQUISH_VENV/bin/pip" install -q --upgrade pip >/dev/null
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$SQUISH_VENV/bin/pip" install -q -r "$here/scripts/requirements.txt"
  cp "$here/scripts/requirements.txt" "$stamp"
fi
# On an AMX CPU the llama.cpp inside llama-cpp-python must be built without AMX (see env.sh); a
# venv made before that rule (or copied from another machine) is rebuilt once.
if [ "$profile" = test ] && [ -n "$no_amx" ] &&
   "$SQUISH_VENV/bin/python" -c "import llama_cpp, sys; sys.exit(b'AMX_INT8 = 1' not in llama_cpp.llama_print_system_info())" 2>/dev/null; then
  log "rebuilding llama-cpp-python without AMX (its AMX matmul crashes on this CPU)"
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$SQUISH_VENV/bin/pip" install -q --no-cache-dir --force-reinstall --no-deps \
    "$(grep '^llama-cpp-python==' "$here/scripts/requirements.txt")"
fi

# --- llama.cpp's own sources (the tests run its convert_hf_to_gguf.py) ------------------------
if [ "$profile" = test ]; then
  log "llama.cpp sources from the llama-cpp-python source package: $(bash "$here/scripts/fetch_llamacpp_source.sh")"
fi

# --- Default models --------------------------------------------------------------------------
"$SQUISH_VENV/bin/python" "$here/scripts/fetch_models.py" --dest "$SQUISH_MODELS"
log "ready: models in $SQUISH_MODELS, venv in $SQUISH_VENV"
