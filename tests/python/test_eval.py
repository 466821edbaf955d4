"""`squish eval`: perplexity, KL divergence against saved base logits, multiple-choice accuracy.

Oracle: llama.cpp (llama-cpp-python) run on all-F32 copies of the same two models (dequantized by
the gguf package), with the KL-divergence statistics and the HellaSwag scoring computed here in
numpy; squish's F32 forward pass agrees with llama.cpp's to ~1e-3 in the logits, so the statistics
agree closely."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
from conftest import ROOT, SHARED, SMOLLM2, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))
from common import f32_gguf  # noqa: E402
from perplexity_llamacpp import LlamaModel, read_text  # noqa: E402

CTX = 256
CHUNKS = 2


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def llamacpp_scored_log_probs(path: Path, tokens: list[int], bos: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Log-probs of the scored positions (second half of each chunk) and their target tokens."""
    rows, targets = [], []
    first = CTX // 2
    with LlamaModel(path, n_ctx=CTX, n_batch=CTX) as m:
        for c in range(CHUNKS):
            chunk = list(tokens[c * CTX:(c + 1) * CTX])
            if bos is not None:
                chunk[0] = bos
            m.clear()
            logits = m.decode(chunk, 0, output_from=first)[: CTX - 1 - first]
            rows.append(log_softmax(logits))
            targets.extend(tokens[c * CTX + first + 1:(c + 1) * CTX])
    return np.concatenate(rows), np.asarray(targets)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("eval")
    q = d / "smollm2-Q3_K_M.gguf"
    run_squish("quantize", SMOLLM2, q, "--type", "Q3_K_M")
    base = d / "base.sqlogits"
    run_squish("eval", SMOLLM2, "--ctx", CTX, "--chunks", CHUNKS, "--save-base-logits", base, "--json")
    return q, base


def test_kld_statistics_match_llamacpp_and_numpy(quantized):
    q, base = quantized
    r = json.loads(run_squish("eval", q, "--ctx", CTX, "--chunks", CHUNKS, "--base-logits", base,
                              "--json").stdout)
    text = read_text(SHARED / "wikitext-2-test.txt")
    with LlamaModel(f32_gguf(SMOLLM2), n_ctx=CTX, n_batch=CTX) as m:
        tokens = m.tokenize(text[:200000])
        bos = m.bos if m.add_bos else None
    lp, targets = llamacpp_scored_log_probs(f32_gguf(SMOLLM2), tokens, bos)
    lq, _ = llamacpp_scored_log_probs(f32_gguf(q), tokens, bos)
    kld = (np.exp(lp) * (lp - lq)).sum(axis=-1)
    rows = np.arange(len(targets))
    same_top = float(np.mean(lp.argmax(-1) == lq.argmax(-1)))
    dp = np.exp(lq[rows, targets]) - np.exp(lp[rows, targets])
    k = r["kld"]
    assert k["count"] == len(targets)
    assert k["kld_mean"]["value"] == pytest.approx(kld.mean(), rel=0.03)
    assert k["kld"]["median"] == pytest.approx(np.median(kld), rel=0.05)
    assert k["kld"]["p99"] == pytest.approx(np.percentile(kld, 99), rel=0.05)
    assert k["same_top"]["value"] == pytest.approx(same_top, abs=0.02)
    assert k["p_diff_rms"]["value"] == pytest.approx(np.sqrt(np.mean(dp * dp)), rel=0.03)
    ppl_q = float(np.exp(-lq[rows, targets].mean()))
    assert r["ppl"] == pytest.approx(ppl_q, rel=5e-3)


def test_self_comparison_is_zero_and_ppl_equals_perplexity(quantized):
    _, base = quantized
    r = json.loads(run_squish("eval", SMOLLM2, "--ctx", CTX, "--chunks", CHUNKS, "--base-logits",
                              base, "--json").stdout)
    assert r["kld"]["kld_mean"]["value"] < 1e-6
    assert r["kld"]["same_top"]["value"] == 1.0
    p = json.loads(run_squish("perplexity", SMOLLM2, "--ctx", CTX, "--chunks", CHUNKS, "--json").stdout)
    assert r["ppl"] == pytest.approx(p["ppl"], rel=1e-9)


def test_mismatched_base_is_a_one_line_error(quantized):
    q, base = quantized
    p = run_squish("eval", q, "--ctx", 128, "--chunks", 1, "--base-logits", base, check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "context of 256" in p.stderr
    p = run_squish("eval", q, "--ctx", CTX, "--chunks", 9, "--base-logits", base, check=False)
    assert p.returncode == 1 and "positions" in p.stderr


def make_tasks(path: Path, n: int = 6) -> list[dict]:
    """Contexts from the evaluation text; the right ending is the real continuation, the others
    are the same words shuffled (the right answer is obvious to any language model)."""
    rng = random.Random(0)
    lines = [l.strip() for l in read_text(SHARED / "wikitext-2-test.txt").split("\n")
             if len(l.split()) > 60 and not l.strip().startswith("=")]
    tasks = []
    for i in range(n):
        words = lines[i * 3].split()
        ctx, cont = " ".join(words[:25]), words[25:37]
        endings = [" ".join(cont)]
        for _ in range(3):
            w = cont[:]
            rng.shuffle(w)
            endings.append(" ".join(w))
        label = i % 4
        endings[0], endings[label] = endings[label], endings[0]
        tasks.append({"ctx": ctx, "endings": endings, "label": label})
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return tasks


def test_multiple_choice_matches_llamacpp_scoring(tmp_path):
    tasks = make_tasks(tmp_path / "hs.jsonl")
    r = json.loads(run_squish("eval", SMOLLM2, "--ctx", CTX, "--chunks", 1, "--hellaswag",
                              tmp_path / "hs.jsonl", "--json").stdout)["choices"]
    right = right_norm = 0
    with LlamaModel(f32_gguf(SMOLLM2), n_ctx=256, n_batch=256) as m:
        for t in tasks:
            ctx = m.tokenize(t["ctx"])
            scores, norms = [], []
            for e in t["endings"]:
                whole = m.tokenize(t["ctx"] + " " + e)
                k = len(ctx)
                while k > 0 and whole[:k] != ctx[:k]:
                    k -= 1
                m.clear()
                lp = log_softmax(m.decode(whole, 0, output_from=0))
                s = float(sum(lp[i - 1, whole[i]] for i in range(max(k, 1), len(whole))))
                scores.append(s)
                norms.append(s / (len(e.encode()) + 1))
            right += int(np.argmax(scores)) == t["label"]
            right_norm += int(np.argmax(norms)) == t["label"]
    assert r["tasks"] == len(tasks)
    assert r["acc"] == pytest.approx(right / len(tasks))
    assert r["acc_norm"] == pytest.approx(right_norm / len(tasks))
    assert r["acc"] >= 0.5  # real continuations beat shuffled words


def test_bad_hellaswag_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ctx": "a", "endings": ["x", "y"], "label": 5}\n')
    p = run_squish("eval", SMOLLM2, "--ctx", 128, "--chunks", 1, "--hellaswag", bad, check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "bad.jsonl" in p.stderr and "line 1" in p.stderr
