"""bench/make_shape_model.py: its tiny shape (256 wide, 2 layers, random F16 weights, SmolLM2's
tokenizer) is a GGUF that squish and llama.cpp both load and decode alike, the same bytes for the
same seed, quantizable by squish; bad arguments give a one-line error."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SMOLLM2, run_squish

sys.path.insert(0, str(ROOT / "bench"))
import make_shape_model as shapes  # noqa: E402

SCRIPT = ROOT / "bench" / "make_shape_model.py"
TINY = shapes.SHAPES["tiny"]


def generator(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, SQUISH_PROGRESS="0"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shape") / "tiny.gguf"
    p = generator("--shape", "tiny", "--out", out)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(out)
    return out


def test_tiny_metadata_and_tensors(tiny: Path):
    import gguf
    import numpy as np

    r = gguf.GGUFReader(tiny)
    src = gguf.GGUFReader(SMOLLM2)
    f = {k: v.contents() for k, v in r.fields.items()}
    assert f["general.architecture"] == "llama"
    assert (f["llama.embedding_length"], f["llama.block_count"], f["llama.feed_forward_length"],
            f["llama.attention.head_count"], f["llama.attention.head_count_kv"]) == (
        TINY.width, TINY.layers, TINY.ffn, TINY.heads, TINY.kv_heads)
    assert f["llama.rope.freq_base"] == 500000.0
    tok_keys = sorted(k for k in src.fields if k.startswith("tokenizer."))
    assert tok_keys and sorted(k for k in f if k.startswith("tokenizer.")) == tok_keys
    for k in tok_keys:
        assert f[k] == src.fields[k].contents(), k
    tensors = {t.name: t for t in r.tensors}
    assert "output.weight" not in tensors  # tied
    assert len(tensors) == 2 + 9 * TINY.layers
    q = np.asarray(tensors["blk.0.attn_q.weight"].data)
    assert q.dtype == np.float16 and q.shape == (TINY.heads * TINY.head_dim, TINY.width)
    assert abs(float(q.astype(np.float32).std()) - shapes.SIGMA) < 0.1 * shapes.SIGMA
    assert (np.asarray(tensors["blk.1.ffn_norm.weight"].data) == 1).all()


def test_deterministic_for_a_seed(tiny: Path, tmp_path: Path):
    same, other = tmp_path / "same.gguf", tmp_path / "other.gguf"
    shapes.write_f16_model(TINY, "tiny", same, 0, shapes.TOKENIZER_SOURCE)
    shapes.write_f16_model(TINY, "tiny", other, 1, shapes.TOKENIZER_SOURCE)
    assert same.read_bytes() == tiny.read_bytes()
    assert other.stat().st_size == tiny.stat().st_size
    assert other.read_bytes() != tiny.read_bytes()
    assert not list(tmp_path.glob(".*tmp*"))  # temp files renamed or removed


def test_squish_and_llamacpp_load_and_decode_alike(tiny: Path):
    llama_cpp = pytest.importorskip("llama_cpp")
    info = run_squish("inspect", tiny).stdout
    assert "architecture:  llama" in info and "llama.block_count" in info
    ours = run_squish("generate", tiny, "-p", "The capital of France is", "-n", 3, "--threads", 1).stdout
    assert ours.strip()
    m = llama_cpp.Llama(model_path=str(tiny), n_ctx=64, n_threads=1, verbose=False, n_gpu_layers=0)
    assert (m.n_embd(), m.n_vocab()) == (TINY.width, 49152)
    theirs = m("The capital of France is", max_tokens=3, temperature=0.0)["choices"][0]["text"]
    # random weights: the first greedy token has a wide margin, so both must pick it
    first = m.tokenize(theirs.encode(), add_bos=False, special=False)[0]
    assert m.tokenize(ours.encode(), add_bos=False, special=False)[0] == first, (ours, theirs)


def test_quantized_variant_cached_and_loadable(tiny: Path, tmp_path: Path):
    base = tmp_path / "tiny.F16.gguf"
    base.write_bytes(tiny.read_bytes())
    out = shapes.shape_model("tiny", "Q4_K_M", out_dir=tmp_path)
    assert out == tmp_path / "tiny.Q4_K_M.gguf"
    assert out.stat().st_size < base.stat().st_size / 2
    mtime = out.stat().st_mtime_ns
    assert shapes.shape_model("tiny", "Q4_K_M", out_dir=tmp_path) == out
    assert out.stat().st_mtime_ns == mtime  # cached, not remade
    j = json.loads(run_squish("bench", out, "-p", 8, "-n", 2, "--reps", 1, "--threads", 1,
                              "--no-roofline", "--json").stdout)
    assert {t["test"] for t in j["tests"]} == {"pp8", "tg2"}


@pytest.mark.parametrize("args, message", [
    (["--shape", "llama-9b"], "--shape llama-9b: unknown shape"),
    (["--shape", "tiny", "--layers", "3"], "--layers 3: tiny has 1..2 layers"),
    (["--layers", "two"], "invalid int value"),
    (["--types", "Q9_K"], "--types Q9_K: unknown type"),
    (["--seed", "-1"], "--seed -1"),
    (["--shape", "tiny", "--out", "/tmp/x.gguf", "--tokenizer-from", "/nonexistent.gguf"],
     "/nonexistent.gguf: tokenizer source model not found"),
])
def test_bad_arguments_one_line_error(args, message, tmp_path: Path):
    p = generator(*args, "--out-dir", tmp_path)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("make_shape_model: ") and message in lines[0], p.stderr
    assert not list(tmp_path.iterdir())
