# Sourced by the scripts: where squish keeps its venv, models and build (all outside git).
export SQUISH_CACHE="${SQUISH_CACHE:-$HOME/.cache/squish}"
export SQUISH_VENV="${SQUISH_VENV:-$SQUISH_CACHE/venv}"
export SQUISH_MODELS="${SQUISH_MODELS:-$SQUISH_CACHE/models}"
export SQUISH_BUILD="${SQUISH_BUILD:-build}"
