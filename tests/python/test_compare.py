"""`squish compare`: the matrix table, results, cache, and charts a person can open (SVG parsed as
XML, PNG decoded here with zlib)."""
from __future__ import annotations

import json
import shutil
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED, SMOLLM2, run_squish

ARGS = ["--types", "Q8_0,Q2_K", "--ctx", "256", "--chunks", "1"]


def decode_png(path: Path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        if kind == b"IHDR":
            size = struct.unpack(">IIBBBBB", body)
            assert size[2:5] == (8, 2, 0)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h = size[0], size[1]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, 3)


def test_compare_table_results_and_charts(tmp_path):
    out, cache = tmp_path / "report", tmp_path / "cache"
    p = run_squish("compare", SMOLLM2, *ARGS, "-o", out, "--cache", cache)
    lines = [l for l in p.stdout.splitlines() if l.startswith("| ")]
    assert [l.split("|")[1].strip() for l in lines[1:]] == ["input", "Q8_0", "Q2_K"]
    rows = json.loads((out / "results.json").read_text())
    base, q8, q2 = rows
    assert base["kld"] == 0 and base["same_top"] == 1
    assert 0 < q8["kld"] < q2["kld"]            # fewer bits, more divergence
    assert q2["bytes"] < q8["bytes"] and q2["same_top"] < q8["same_top"]
    assert abs(q8["ppl"] - base["ppl"]) < abs(q2["ppl"] - base["ppl"])
    svg = ET.parse(out / "kld_vs_size.svg").getroot()
    circles = svg.findall(".//{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 2 and {c.find("{http://www.w3.org/2000/svg}title").text for c in circles} == {"Q8_0", "Q2_K"}
    ET.parse(out / "ppl_vs_bpw.svg")
    for name in ("kld_vs_size.png", "ppl_vs_bpw.png"):
        img = decode_png(out / name)
        assert img.shape == (500, 800, 3)
        assert (img != 255).any(axis=2).mean() > 0.005            # something is drawn
        blue = (img == np.array([0x1f, 0x77, 0xb4], dtype=np.uint8)).all(axis=2)
        assert blue.sum() > 60                                      # the points' markers
    # A second run reuses the cache and gives the same numbers; existing reports need --force.
    again = run_squish("compare", SMOLLM2, *ARGS, "-o", out, "--cache", cache, check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    run_squish("compare", SMOLLM2, *ARGS, "-o", out, "--cache", cache, "--force")
    assert json.loads((out / "results.json").read_text()) == rows
    # The cache is keyed by content: the same bytes under another name hit the same entry.
    copy = tmp_path / SMOLLM2.name
    shutil.copyfile(SMOLLM2, copy)
    run_squish("compare", copy, *ARGS, "-o", tmp_path / "report2", "--cache", cache)
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 1
    assert json.loads((tmp_path / "report2" / "results.json").read_text())[1:] == rows[1:]


def test_unknown_type_suggests(tmp_path):
    p = run_squish("compare", SMOLLM2, "--types", "Q4_K_N", "-o", tmp_path / "o", "--cache",
                   tmp_path / "c", check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "Q4_K_M" in p.stderr


def test_methods_are_checked_before_any_work(tmp_path):
    """An unknown method, and GPTQ calibrated on the evaluation text, are one-line errors; nothing is
    quantized or written."""
    p = run_squish("compare", SMOLLM2, "--types", "Q4_0", "--methods", "rtn,gptx", "-o", tmp_path / "o",
                   "--cache", tmp_path / "c", check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "gptx" in p.stderr and "gptq" in p.stderr
    p = run_squish("compare", SMOLLM2, "--types", "Q4_0:gptx", "-o", tmp_path / "o", "--cache", tmp_path / "c",
                   check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "Q4_0:gptx" in p.stderr
    p = run_squish("compare", SMOLLM2, "--types", "Q4_0", "--methods", "gptq", "--calib",
                   SHARED / "wikitext-2-test.txt", "-o", tmp_path / "o", "--cache", tmp_path / "c",
                   check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "wikitext" in p.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


def test_compare_schemes_groups_methods_and_formats(tmp_path):
    """SafeTensors schemes join the matrix: scheme × group size × method × format, each checkpoint
    written by the calibration engine and measured by loading it back; combinations that cannot work
    (SmolLM2's 576-wide inputs in groups of 128) are left out with the reason in the report."""
    out, cache = tmp_path / "report", tmp_path / "cache"
    p = run_squish("compare", SMOLLM2, "--schemes", "W4A16/g64:rtn,W4A16:awq", "--group-sizes", "64,128",
                   "--samples", "4", "--seq-len", "128", "--ctx", "128", "--chunks", "2", "-o", out, "--cache", cache)
    rows = json.loads((out / "results.json").read_text())
    assert [r["config"] for r in rows] == ["input", "W4A16/g64 rtn [ct]", "W4A16/g64 awq [ct]"]
    base, rtn, awq = rows
    assert 0 < awq["kld"] < rtn["kld"]                  # AWQ's scales help on the same grid
    assert rtn["bytes"] == awq["bytes"] and 4 < rtn["bpw"] < 16   # bf16 embeddings + int4 linears
    report = (out / "report.md").read_text()
    assert "W4A16/g128 awq [ct]" in report and "does not divide the input size 576" in report
    assert "skipped W4A16/g128 awq" in p.stderr
    ckpt = [d for d in next(d for d in cache.iterdir() if d.is_dir()).iterdir() if d.name.startswith("ckpt-W4A16-g64-rtn")]
    config = json.loads((ckpt[0] / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "compressed-tensors"


@pytest.mark.parametrize("args, words", [
    (["--schemes", "W8A8:awq"], ["awq", "W8A8"]),                       # AWQ needs weight-only INT
    (["--schemes", "W4A16/g128:gptq"], ["128", "576"]),                 # explicit: an error, not a skip
    (["--schemes", "W4A17"], ["W4A16"]),                                # suggestions
    (["--schemes", "W4A16", "--formats", "gguf"], ["gguf"]),
    (["--schemes", "W8A8", "--formats", "gptq"], ["weight-only"]),      # every combination impossible
    (["--schemes", "W4A16", "--group-sizes", "6x"], ["6x"]),
])
def test_compare_scheme_errors_before_any_work(tmp_path, args, words):
    p = run_squish("compare", SMOLLM2, *args, "-o", tmp_path / "o", "--cache", tmp_path / "c", check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    for w in words:
        assert w.lower() in p.stderr.lower(), p.stderr
    assert not (tmp_path / "c").exists()
