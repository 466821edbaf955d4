"""`pip wheel .` (scripts/python_api.sh builds it as $SQUISH_WHEEL): the wheel holds the package, the
native module and the `squish` command, and works when installed into a venv of its own."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_api import SMOLLM2

WHEEL = os.environ.get("SQUISH_WHEEL", "")


@pytest.fixture(scope="module")
def wheel() -> Path:
    if not WHEEL:
        pytest.skip("SQUISH_WHEEL not set (scripts/python_api.sh builds the wheel and sets it)")
    return Path(WHEEL)


def test_wheel_holds_the_package_module_and_command(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "squish/__init__.py" in names and "squish/_squish.pyi" in names and "squish/py.typed" in names
    assert any(n.startswith("squish/_squish") and n.endswith(".so") for n in names)
    assert any(n.endswith(".data/scripts/squish") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "Name: squish" in zipfile.ZipFile(wheel).read(metadata).decode()


def test_wheel_installs_and_runs_in_a_venv_of_its_own(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # numpy (the one dependency) from pip's cache or the index; the wheel itself from the file.
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
    code = ("import squish, sys; t = squish.tensors(sys.argv[1]); "
            "print(squish.__version__, len(t), squish.inspect(sys.argv[1])['architecture'])")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(SMOLLM2)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0] == subprocess.run([str(venv / "bin" / "squish"), "--version"], check=True, capture_output=True,
                                    text=True).stdout.split()[-1]
    assert int(out[1]) > 0 and out[2] == "llama"
