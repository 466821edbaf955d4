"""The flags mean the same thing in every subcommand (llama.cpp's short flags where squish has the
same option), earlier spellings still work, and `squish --version` prints the project's version."""
import json
import re
from pathlib import Path

from conftest import ROOT, SHARED, SMOLLM2, run_squish

TEXT = SHARED / "wikitext-2-test.txt"


def test_version_matches_the_project():
    version = re.search(r"project\(squish VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert run_squish("--version").stdout.strip() == f"squish {version}"


def test_model_as_argument_or_dash_m():
    pos = run_squish("tokenize", SMOLLM2, "-p", "Hello world", "--ids-only").stdout
    flag = run_squish("tokenize", "-m", SMOLLM2, "--prompt", "Hello world", "--ids-only").stdout
    old = run_squish("tokenize", "--model", SMOLLM2, "--text", "Hello world", "--ids-only").stdout
    assert pos == flag == old and len(pos.split()) >= 2


def test_perplexity_short_and_long_spellings_agree():
    common = ["--chunks", "1", "--json"]
    a = json.loads(run_squish("perplexity", "-m", SMOLLM2, "-f", TEXT, "-c", "64", "-t", "1", *common).stdout)
    b = json.loads(run_squish("perplexity", SMOLLM2, "--file", TEXT, "--ctx-size", "64", "--threads", "2", *common).stdout)
    c = json.loads(run_squish("perplexity", SMOLLM2, "--file", TEXT, "--ctx", "64", *common).stdout)
    assert a["ppl"] == b["ppl"] == c["ppl"]


def test_quantize_dash_t_is_threads(tmp_path: Path):
    one = tmp_path / "one.gguf"
    run_squish("quantize", SMOLLM2, one, "--type", "Q8_0", "-t", "1")
    two = tmp_path / "two.gguf"
    run_squish("quantize", SMOLLM2, two, "--type", "Q8_0", "--threads", "2")
    assert one.read_bytes() == two.read_bytes()
    # The earlier meaning (-t TYPE) is now a clear one-line error, and nothing is written.
    p = run_squish("quantize", SMOLLM2, tmp_path / "bad.gguf", "-t", "Q4_0", check=False)
    assert p.returncode != 0 and "-t" in p.stderr and not (tmp_path / "bad.gguf").exists()
    # -f is no longer quantize's --force: an existing output needs --force.
    p = run_squish("quantize", SMOLLM2, one, "--type", "Q8_0", "-f", check=False)
    assert p.returncode != 0
    run_squish("quantize", SMOLLM2, one, "--type", "Q8_0", "--force")


def test_output_and_text_aliases(tmp_path: Path):
    args = ["-c", "64", "--chunks", "1", "-t", "2"]
    run_squish("imatrix", SMOLLM2, "-o", tmp_path / "a.gguf", "-f", SHARED / "calibration-mix.txt", *args)
    run_squish("imatrix", SMOLLM2, "--output", tmp_path / "b.gguf", "--text", SHARED / "calibration-mix.txt", *args)
    assert (tmp_path / "a.gguf").read_bytes() == (tmp_path / "b.gguf").read_bytes()
