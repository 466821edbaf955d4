"""`squish perplexity` against llama.cpp's perplexity (goldens from tests/oracle/perplexity_goldens.py:
n_ctx 512, batch 512, first 40 chunks of wikitext-2-test).

The two golden comparisons are SLOW (a 40-chunk run per model: about 1-3 minutes each on 2 cores);
the other tests use short contexts and take seconds."""
from __future__ import annotations

import json
import math

import pytest

from conftest import GEMMA3, GOLDENS, SHARED, SMOLLM2, run_squish

WIKI = SHARED / "wikitext-2-test.txt"
MODELS = {"smollm2": SMOLLM2, "gemma3": GEMMA3}


def golden(name: str) -> dict:
    return json.loads((GOLDENS / "perplexity" / f"{name}.json").read_text())


def perplexity_json(model, *args) -> dict:
    p = run_squish("perplexity", model, *args, "--json")
    return json.loads(p.stdout)


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_perplexity_matches_llamacpp_40_chunks(name):
    """Acceptance: within 0.5% of llama.cpp's PPL on the same GGUF file. The tighter check is against
    llama.cpp on the F32 copy of the weights — the network squish computes — within 0.05%."""
    model = MODELS[name]
    if not model.exists():
        pytest.skip(f"{model} not fetched")
    g = golden(name)
    r = perplexity_json(model, "--file", WIKI, "--ctx", 512, "--batch", 512, "--chunks", 40)
    assert r["chunks"] == 40 and r["n_ctx"] == 512
    assert r["n_tokens"] == g["gguf"]["n_scored"] == 40 * 255
    assert r["n_text_tokens"] == g["gguf"]["n_text_tokens"], "tokenization differs from llama.cpp"
    ref = g["gguf"]
    assert abs(r["ppl"] / ref["ppl"] - 1) < 0.005, (r["ppl"], ref["ppl"])
    assert abs(r["stderr"] / ref["stderr"] - 1) < 0.05, (r["stderr"], ref["stderr"])
    if "f32" in g:
        f32 = g["f32"]
        assert abs(r["ppl"] / f32["ppl"] - 1) < 5e-4, (r["ppl"], f32["ppl"])
        for mine, theirs in zip(r["running_ppl"], f32["running_ppl"]):
            assert abs(mine / theirs - 1) < 2e-3, (r["running_ppl"], f32["running_ppl"])


@pytest.fixture(scope="module")
def short_text(tmp_path_factory):
    """The first ~20 KB of wikitext-2-test: enough for several 128-token chunks."""
    p = tmp_path_factory.mktemp("ppl") / "short.txt"
    p.write_bytes(WIKI.read_bytes()[:20000])
    return p


def test_text_output_like_llamacpp(short_text):
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not fetched")
    p = run_squish("perplexity", SMOLLM2, "--file", short_text, "--ctx", 128, "--chunks", 3)
    lines = p.stdout.splitlines()
    running = lines[0].rstrip(",").split(",")
    assert [x.split("]")[0] for x in running] == ["[1", "[2", "[3"]
    assert lines[1].startswith("Final estimate: PPL = ") and " +/- " in lines[1]
    final = float(lines[1].split("=")[1].split("+/-")[0])
    assert final == pytest.approx(float(running[-1].split("]")[1]), abs=1e-4)
    assert 1 < final < 1000


def test_json_and_batching_agree(short_text):
    """Evaluating each chunk in batches of 50 tokens (split around the scored half) gives the same
    result as one batch per chunk."""
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not fetched")
    one = perplexity_json(SMOLLM2, "--file", short_text, "--ctx", 128, "--chunks", 2)
    many = perplexity_json(SMOLLM2, "--file", short_text, "--ctx", 128, "--chunks", 2, "--batch", 50)
    assert one["chunks"] == 2 and one["n_tokens"] == 2 * 63
    assert many["ppl"] == pytest.approx(one["ppl"], rel=1e-4)
    assert one["running_ppl"][-1] == pytest.approx(one["ppl"], rel=1e-12)
    # stderr follows llama.cpp's formula, so it is positive and far below the PPL here
    assert 0 < one["stderr"] < one["ppl"]
    assert one["seconds"] > 0 and math.isfinite(one["ppl"])


def test_too_short_text_is_a_one_line_error(tmp_path):
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not fetched")
    t = tmp_path / "tiny.txt"
    t.write_text("Just a few words.\n")
    p = run_squish("perplexity", SMOLLM2, "--file", t, check=False)
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0
    assert str(t) in p.stderr and "tokens" in p.stderr


def test_missing_text_file_is_a_one_line_error(tmp_path):
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not fetched")
    p = run_squish("perplexity", SMOLLM2, "--file", tmp_path / "nope.txt", check=False)
    assert p.returncode == 1 and "nope.txt" in p.stderr and p.stderr.strip().count("\n") == 0
