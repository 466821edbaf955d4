"""Shared pytest fixtures: the squish binary, the default models, shared data, goldens."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("SQUISH_MODELS", Path.home() / ".cache" / "squish" / "models"))
BUILD = ROOT / os.environ.get("SQUISH_BUILD", "build")
SMOLLM2 = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = MODELS / "gemma-3-270m-q4_k_m.gguf"
SHARED = ROOT.parent / "shared" / "data"
GOLDENS = ROOT / "tests" / "goldens"


@pytest.fixture(scope="session")
def squish_bin() -> Path:
    path = Path(os.environ.get("SQUISH_BIN", BUILD / "squish"))
    if not path.exists():
        pytest.fail(f"squish binary not found at {path}; run scripts/build.sh")
    return path


def run_squish(*args, check=True, env_extra=None, **kw) -> subprocess.CompletedProcess:
    """Runs the squish CLI and returns the completed process (text mode); env_extra: variables
    added to its environment."""
    binary = os.environ.get("SQUISH_BIN", str(BUILD / "squish"))
    env = dict(os.environ, SQUISH_PROGRESS="0", **(env_extra or {}))
    p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, env=env, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"squish {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p


@pytest.fixture(params=["smollm2", "gemma3"])
def model_path(request) -> Path:
    return {"smollm2": SMOLLM2, "gemma3": GEMMA3}[request.param]
