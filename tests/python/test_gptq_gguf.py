"""`squish quantize --method gptq`: a calibrated GGUF (GPTQ inside Q4_0/Q5_0/Q8_0 blocks) is a plain
GGUF — the gguf package reads it and llama.cpp runs it — deterministic for a seed, and bad
calibration input fails with a one-line error before any long work."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from conftest import GOLDENS, ROOT, SHARED, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))

TINY = GOLDENS / "model" / "tiny_llama.gguf"
CAL = ["--samples", "4", "--seq-len", "64"]


@pytest.mark.parametrize("mix", ["Q4_0", "Q8_0"])
def test_calibrated_gguf_reads_runs_and_beats_rounding(tmp_path, mix):
    out = tmp_path / "g.gguf"
    p = run_squish("quantize", TINY, out, "--type", mix, "--method", "gptq", *CAL, "-v")
    m = re.search(r"GPTQ in (\d+) tensors: mean relative output error ([\d.]+) vs ([\d.]+)", p.stdout)
    assert m and int(m.group(1)) == 14 and float(m.group(2)) < float(m.group(3))
    r = gguf.GGUFReader(str(out))
    assert int(r.fields["general.file_type"].contents()) == {"Q4_0": 2, "Q8_0": 7}[mix]
    blocks = [t for t in r.tensors if t.name.startswith("blk.") and t.name.endswith("_v.weight")]
    assert blocks and all(t.tensor_type.name == mix or t.tensor_type.name == "Q8_0" for t in blocks)
    from perplexity_llamacpp import LlamaModel
    with LlamaModel(out, n_ctx=64, n_batch=64) as lm:
        logits = lm.decode(lm.tokenize("The quick brown fox jumps")[:6], 0, output_from=0)
        assert np.isfinite(logits).all()
    again = tmp_path / "again.gguf"
    run_squish("quantize", TINY, again, "--type", mix, "--method", "gptq", *CAL)
    assert again.read_bytes() == out.read_bytes()  # deterministic for a seed
    plain = tmp_path / "plain.gguf"
    run_squish("quantize", TINY, plain, "--type", mix)
    assert plain.read_bytes() != out.read_bytes()


def test_bad_calibration_input(tmp_path):
    def fails(*extra, match):
        p = run_squish("quantize", TINY, tmp_path / "o.gguf", "--type", "Q4_0", *extra, check=False)
        assert p.returncode == 1 and p.stderr.count("\n") == 1 and match in p.stderr, p.stderr
        assert not (tmp_path / "o.gguf").exists()
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    short = tmp_path / "short.txt"
    short.write_text("just a few words")
    bad_jsonl = tmp_path / "c.jsonl"
    bad_jsonl.write_text('{"txt": "no text field"}\n')
    fails("--method", "gptq", "--calib", SHARED / "wikitext-2-test.txt", match="evaluation text")
    fails("--method", "gptq", "--calib", empty, match="empty")
    fails("--method", "gptq", "--calib", short, *CAL, match="tokens")
    fails("--method", "gptq", "--calib", bad_jsonl, match="line 1")
    fails("--method", "awq-ish", match="unknown method")
