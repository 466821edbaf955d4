# Sourced by the scripts: where squish keeps its venv, models and build (all outside git).
export SQUISH_CACHE="${SQUISH_CACHE:-$HOME/.cache/squish}"
export SQUISH_VENV="${SQUISH_VENV:-$SQUISH_CACHE/venv}"
export SQUISH_MODELS="${SQUISH_MODELS:-$SQUISH_CACHE/models}"
export SQUISH_BUILD="${SQUISH_BUILD:-build}"
# ccache: paths relative to the checkout and no working directory in the hash, so every clone or
# worktree of the repository shares one cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
