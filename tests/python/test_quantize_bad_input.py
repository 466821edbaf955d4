"""Bad input to `squish quantize` / `squish imatrix`: one-line errors naming the file, exit code 1,
and nothing partial left behind (no output, no temporary) — including a full disk (simulated with
RLIMIT_FSIZE, so writes fail with EFBIG) and an interrupted run (SIGTERM / SIGINT)."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, GEMMA3, SMOLLM2, SHARED

BIN = os.environ.get("SQUISH_BIN", str(BUILD / "squish"))


def squish(*args, preexec=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SQUISH_PROGRESS="0")
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=env,
                          preexec_fn=preexec, timeout=300)


def one_line_error(p: subprocess.CompletedProcess, *needles: str) -> str:
    assert p.returncode == 1, (p.returncode, p.stderr)
    errors = [l for l in p.stderr.splitlines() if l.startswith("squish: error:")]
    assert len(errors) == 1, p.stderr
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


def test_unknown_type_suggests_valid_ones(tmp_path):
    p = squish("quantize", SMOLLM2, tmp_path / "o.gguf", "--type", "q4km")
    line = one_line_error(p, "q4km", "did you mean Q4_K_M", "Q8_0", "Q6_K")
    assert not list(tmp_path.iterdir()), line


def test_unwritable_output_directory(tmp_path):
    p = squish("quantize", SMOLLM2, tmp_path / "missing" / "o.gguf", "--type", "Q8_0")
    one_line_error(p, "o.gguf", "directory")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions")
        p = squish("quantize", SMOLLM2, ro / "o.gguf", "--type", "Q8_0")
        one_line_error(p, "o.gguf")
        assert not list(ro.iterdir())
    finally:
        ro.chmod(0o700)


def test_output_equal_to_input(tmp_path):
    copy = tmp_path / "m.gguf"
    copy.write_bytes(SMOLLM2.read_bytes())
    before = copy.stat().st_mtime_ns
    for out in (copy, tmp_path / "." / "m.gguf"):
        p = squish("quantize", copy, out, "--type", "Q8_0", "--force")
        one_line_error(p, "same file as the input")
    assert copy.stat().st_mtime_ns == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.gguf"]


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "o.gguf"
    out.write_text("keep me")
    one_line_error(squish("quantize", SMOLLM2, out, "--type", "Q8_0"), "exists", "--force")
    assert out.read_text() == "keep me"
    p = squish("quantize", SMOLLM2, out, "--type", "Q8_0", "--force")
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:4] == b"GGUF"
    one_line_error(squish("imatrix", SMOLLM2, "-o", out, "--chunks", "1"), "exists")


def test_missing_and_bad_inputs(tmp_path):
    one_line_error(squish("quantize", tmp_path / "nope.gguf", tmp_path / "o.gguf", "--type", "Q8_0"),
                   "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    one_line_error(squish("quantize", junk, tmp_path / "o.gguf", "--type", "Q8_0"), "junk.gguf")
    bad_im = tmp_path / "bad.imatrix"
    bad_im.write_bytes(b"\x05\x00\x00\x00garbage")
    one_line_error(squish("quantize", SMOLLM2, tmp_path / "o.gguf", "--type", "Q4_K_M", "--imatrix", bad_im),
                   "bad.imatrix")
    # An imatrix of another model: entries whose sizes do not match.
    im = tmp_path / "gemma.imatrix.gguf"
    sys_path = Path(__file__).resolve().parents[1] / "oracle"
    import sys
    sys.path.insert(0, str(sys_path))
    from quantize_common import synthetic_imatrix
    synthetic_imatrix(GEMMA3, im)
    one_line_error(squish("quantize", SMOLLM2, tmp_path / "o.gguf", "--type", "Q4_K_M", "--imatrix", im),
                   "gemma.imatrix.gguf", "values")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.imatrix", "gemma.imatrix.gguf", "junk.gguf"]


def test_imatrix_refuses_evaluation_text(tmp_path):
    p = squish("imatrix", SMOLLM2, "-o", tmp_path / "im.gguf", "--text", SHARED / "wikitext-2-test.txt")
    one_line_error(p, "wikitext-2-test.txt", "evaluation")
    short = tmp_path / "short.txt"
    short.write_text("too short")
    one_line_error(squish("imatrix", SMOLLM2, "-o", tmp_path / "im.gguf", "--text", short), "short.txt", "tokens")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["short.txt"]


def _limit_file_size(nbytes: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes then fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


def test_disk_full_leaves_nothing(tmp_path):
    out = tmp_path / "o.gguf"
    p = squish("quantize", SMOLLM2, out, "--type", "Q8_0", preexec=_limit_file_size(10 << 20))
    one_line_error(p, "o.gguf", "write failed")
    assert not list(tmp_path.iterdir())


def test_disk_full_on_a_tiny_tmpfs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        p = squish("quantize", SMOLLM2, mnt / "o.gguf", "--type", "Q8_0")
        one_line_error(p, "o.gguf", "No space left")
        assert not list(mnt.iterdir())
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def writing_into(pid: int, d: Path) -> bool:
    """Whether process pid holds a file open in directory d (an O_TMPFILE shows as d/#N (deleted))."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link.startswith(str(d) + "/") for link in links)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_leaves_nothing(tmp_path, sig):
    out = tmp_path / "o.gguf"
    env = dict(os.environ, SQUISH_PROGRESS="0")
    proc = subprocess.Popen([BIN, "quantize", str(GEMMA3), str(out), "--type", "F32"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 30
    while time.time() < deadline and not writing_into(proc.pid, tmp_path):
        time.sleep(0.02)  # wait until the (unnamed) temporary is open, i.e. writing has started
    assert writing_into(proc.pid, tmp_path)
    time.sleep(0.2)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not list(tmp_path.iterdir())
