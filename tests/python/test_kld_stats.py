"""Independent numpy reference for squish's KL-divergence statistics (llama.cpp definitions).

Used two ways:
  * pytest: checks the reference itself against hand-computed values;
  * `python test_kld_stats.py DIR`: the C++ test (tests/cpp/test_kld_stats.cpp) writes random
    logits into DIR and reads back DIR/reference.json, comparing every statistic.

DIR holds: quant.f32 and base.f32 (N×V float32 raw logits), tokens.i32 (N int32), and the
squish base logits files base_f32.sqlogits / base_u16.sqlogits (format: include/squish/eval/
kld_stats.h), which this script decodes on its own.
"""
import json
import sys
from pathlib import Path

import numpy as np


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def per_position(lp: np.ndarray, quant_logits: np.ndarray, tokens: np.ndarray) -> dict:
    """Per-position KLD, nll, nll_base, Δp, same-top from base log-probs and quant logits."""
    lq = log_softmax(quant_logits)
    p = np.exp(lp)
    kld = np.where(p > 0, p * (lp - lq), 0.0).sum(axis=-1)
    rows = np.arange(len(tokens))
    nll = -lq[rows, tokens]
    nll_base = -lp[rows, tokens]
    return {
        "kld": kld,
        "nll": nll,
        "nll_base": nll_base,
        "p_diff": np.exp(-nll) - np.exp(-nll_base),
        "same_top": np.argmax(lq, axis=-1) == np.argmax(lp, axis=-1),
    }


def mean_unc(x: np.ndarray) -> dict:
    n = len(x)
    mean = float(np.mean(x))
    var = float(np.mean(x * x)) - mean * mean  # llama.cpp's E[x²]-E[x]² form
    err = np.sqrt(var / (n - 1)) if (var > 0 and n > 10) else 0.0
    return {"value": mean, "error": float(err)}


def quantiles(x: np.ndarray) -> dict:
    q = lambda f: float(np.percentile(x, 100 * f))  # numpy 'linear' = interpolation at f·(n-1)
    return {"max": float(x.max()), "p99.9": q(0.999), "p99": q(0.99), "p95": q(0.95),
            "p90": q(0.90), "p75": q(0.75), "median": float(np.median(x)), "p25": q(0.25),
            "p10": q(0.10), "p5": q(0.05), "p1": q(0.01), "p0.1": q(0.001), "min": float(x.min())}


def statistics(pp: dict) -> dict:
    n = len(pp["kld"])
    lq, lb = mean_unc(pp["nll"]), mean_unc(pp["nll_base"])
    cov = 0.0 if n < 10 else (np.mean(pp["nll"] * pp["nll_base"]) - np.mean(pp["nll"]) * np.mean(pp["nll_base"])) / (n - 1)
    ppl = np.exp(lq["value"])
    ppl_b = np.exp(lb["value"])
    ratio_unc = np.sqrt(max(0.0, lq["error"] ** 2 + lb["error"] ** 2 - 2 * cov))
    ln_ratio = lq["value"] - lb["value"]
    ppl_unc, ppl_b_unc = ppl * lq["error"], ppl_b * lb["error"]
    d2 = pp["p_diff"] ** 2
    mse = mean_unc(d2)
    rms = np.sqrt(mse["value"])
    f = float(np.mean(pp["same_top"]))
    return {
        "count": n,
        "ppl": {"value": ppl, "error": ppl_unc},
        "ppl_base": {"value": ppl_b, "error": ppl_b_unc},
        "ln_ppl_correlation": cov / (lq["error"] * lb["error"]) if lq["error"] > 0 and lb["error"] > 0 else 0.0,
        "ln_ppl_ratio": {"value": ln_ratio, "error": ratio_unc},
        "ppl_ratio": {"value": np.exp(ln_ratio), "error": np.exp(ln_ratio) * ratio_unc},
        "ppl_diff": {"value": ppl - ppl_b,
                     "error": np.sqrt(max(0.0, ppl_unc ** 2 + ppl_b_unc ** 2 - 2 * ppl * ppl_b * cov))},
        "kld_mean": mean_unc(pp["kld"]),
        "kld": quantiles(pp["kld"]),
        "p_diff_mean": mean_unc(pp["p_diff"]),
        "p_diff": quantiles(pp["p_diff"]),
        "p_diff_rms": {"value": rms, "error": 0.5 / rms * mse["error"] if rms > 0 else 0.0},
        "same_top": {"value": f, "error": np.sqrt(f * (1 - f) / (n - 1))},
    }


def read_base_logits(path: Path):
    """Decodes a squish base logits file: returns (normalised log-probs N×V float64, tokens N)."""
    raw = path.read_bytes()
    assert raw[:8] == b"SQLOGITS"
    version, enc, n_vocab, n_ctx = np.frombuffer(raw, "<u4", 4, 8)
    n_pos, n_tok = np.frombuffer(raw, "<u8", 2, 24)
    meta_bytes = int(np.frombuffer(raw, "<u4", 1, 40)[0])
    assert version == 1
    off = -(-(48 + meta_bytes + 4 * int(n_tok)) // 8) * 8
    v = int(n_vocab)
    if enc == 0:
        rec = np.dtype([("tok", "<i4"), ("lp", "<f4", (v,))])
        recs = np.frombuffer(raw, rec, int(n_pos), off)
        lp = recs["lp"].astype(np.float64)
    else:
        size = -(-(16 + 2 * v) // 4) * 4
        rec = np.dtype({"names": ["tok", "target", "floor", "step", "code"],
                        "formats": ["<i4", "<f4", "<f4", "<f4", ("<u2", (v,))],
                        "offsets": [0, 4, 8, 12, 16], "itemsize": size})
        recs = np.frombuffer(raw, rec, int(n_pos), off)
        lp = recs["floor"].astype(np.float64)[:, None] + recs["step"].astype(np.float64)[:, None] * recs["code"]
        lp[np.arange(len(recs)), recs["tok"]] = recs["target"]  # the target's log-prob is exact
    assert off + len(recs) * rec.itemsize == len(raw)
    m = lp.max(axis=-1, keepdims=True)
    lp = lp - (m + np.log(np.exp(lp - m).sum(axis=-1, keepdims=True)))
    return lp, recs["tok"].astype(np.int64)


def reference(d: Path) -> dict:
    tokens = np.fromfile(d / "tokens.i32", "<i4").astype(np.int64)
    n = len(tokens)
    quant = np.fromfile(d / "quant.f32", "<f4").reshape(n, -1)
    base = np.fromfile(d / "base.f32", "<f4").reshape(n, -1)
    out = {"exact": statistics(per_position(log_softmax(base), quant, tokens))}
    for enc in ("f32", "u16"):
        lp, toks = read_base_logits(d / f"base_{enc}.sqlogits")
        assert (toks == tokens).all()
        out[enc] = statistics(per_position(lp, quant, toks))
    return out


# ---- pytest: the reference against hand-computed values ----

def test_kld_of_known_distributions():
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.25, 0.25, 0.5])
    pp = per_position(np.log(p)[None], np.log(q)[None].astype(np.float32), np.array([0]))
    # KL = 0.5 ln 2 + 0 + 0.25 ln 0.5 = 0.25 ln 2
    assert abs(pp["kld"][0] - 0.25 * np.log(2)) < 1e-7
    assert abs(pp["p_diff"][0] - (0.25 - 0.5)) < 1e-7
    assert not pp["same_top"][0]


def test_percentile_is_llama_cpp_interpolation():
    x = np.arange(11, dtype=np.float64) ** 2  # sorted
    f = 0.93
    pos = f * (len(x) - 1)
    i = int(pos)
    expect = (1 - (pos - i)) * x[i] + (pos - i) * x[i + 1]
    assert abs(quantiles(x)["p90"] - float(np.percentile(x, 90))) < 1e-12
    assert abs(float(np.percentile(x, 100 * f)) - expect) < 1e-9


def test_same_top_uncertainty():
    pp = {"kld": np.zeros(101), "nll": np.ones(101), "nll_base": np.ones(101),
          "p_diff": np.full(101, 0.1), "same_top": np.arange(101) < 80}
    s = statistics(pp)
    f = 80 / 101
    assert abs(s["same_top"]["value"] - f) < 1e-12
    assert abs(s["same_top"]["error"] - np.sqrt(f * (1 - f) / 100)) < 1e-12
    assert abs(s["p_diff_rms"]["value"] - 0.1) < 1e-12


if __name__ == "__main__":
    d = Path(sys.argv[1])
    (d / "reference.json").write_text(json.dumps(reference(d), default=float))
