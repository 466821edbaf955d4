"""`squish sensitivity`: per-tensor KLD, checked against a file-based route — a GGUF in which only
that tensor was quantized by the gguf package's reference quantizer, evaluated with `squish eval`
against the same base — plus the heat map outputs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from conftest import ROOT, SMOLLM2, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))
from common import copy_metadata, f32_gguf  # noqa: E402

ARGS = ["--ctx", "128", "--chunks", "1"]


def with_one_tensor_quantized(src: Path, dst: Path, name: str, qtype) -> None:
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    copy_metadata(r, w)
    for t in r.tensors:
        data = np.asarray(t.data).reshape([int(x) for x in reversed(t.shape)])
        if t.name == name:
            w.add_tensor(t.name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(t.name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_sensitivity_matches_a_file_with_only_that_tensor_quantized(tmp_path):
    out = tmp_path / "s"
    run_squish("sensitivity", SMOLLM2, "--type", "Q4_0", "--layers", "0,29", "--kinds",
               "attn_v,ffn_down", *ARGS, "-o", out)
    rep = json.loads((out / "sensitivity.json").read_text())
    cells = {(c["layer"], c["kind"]): c for c in rep["cells"]}
    assert len(cells) == 4 and all(c["type"] == "Q4_0" and c["kld"] > 0 for c in cells.values())
    assert rep["kld_by_tensor"]["blk.29.ffn_down.weight"] == cells[(29, "ffn_down")]["kld"]

    ref = f32_gguf(SMOLLM2)
    base = tmp_path / "base.sqlogits"
    run_squish("eval", ref, *ARGS, "--save-base-logits", base, "--json")
    one = tmp_path / "one.gguf"
    with_one_tensor_quantized(ref, one, "blk.29.ffn_down.weight", gguf.GGMLQuantizationType.Q4_0)
    r = json.loads(run_squish("eval", one, *ARGS, "--base-logits", base, "--json").stdout)
    assert r["kld"]["kld_mean"]["value"] == pytest.approx(cells[(29, "ffn_down")]["kld"], rel=1e-3)

    for name in ("sensitivity.svg", "sensitivity.png", "sensitivity.md"):
        assert (out / name).stat().st_size > 200


def test_fewer_bits_hurt_more_and_bad_input(tmp_path):
    def kld(t):
        p = run_squish("sensitivity", SMOLLM2, "--type", t, "--layers", "29", "--kinds", "ffn_down", *ARGS)
        return float(p.stdout.strip().splitlines()[-1].split("|")[2])
    assert kld("Q8_0") < kld("Q4_K") < kld("Q2_K")
    p = run_squish("sensitivity", SMOLLM2, "--layers", "30", *ARGS, check=False)
    assert p.returncode == 1 and "layer 30 out of range" in p.stderr and p.stderr.count("\n") == 1
    p = run_squish("sensitivity", SMOLLM2, "--kinds", "attn_x", *ARGS, check=False)
    assert p.returncode == 1 and "unknown linear kind" in p.stderr
