#!/usr/bin/env python3
"""Logits goldens for the tiny HF models of hf_tiny_models.py, from two independent oracles:

  1. llama.cpp (llama-cpp-python) running the converted GGUF (<arch>/model.gguf);
  2. a numpy forward pass written from the HF transformers modeling code (HF layout and semantics:
     rotate_half RoPE, Gemma3RMSNorm's (1 + w), query_pre_attn_scalar, sliding-window mask) run on
     the safetensors weights in <arch>/hf/.

The script asserts the two agree (so the conversion rules are right), then writes llama.cpp's
logits to <arch>/logits.json (tokens + all-position logits) for tests/cpp/test_hf_logits.cpp.

    ~/.cache/squish/venv/bin/python tests/oracle/hf_logits_goldens.py [TINYDIR]
"""
import json
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "tests" / "goldens" / "safetensors" / "tiny"
PROMPT = b"the thin man ran in the sun"


def load_hf(d: Path):
    cfg = json.loads((d / "config.json").read_text())
    w = {}
    for f in sorted(d.glob("*.safetensors")):
        w.update({k: v.astype(np.float32) for k, v in load_file(str(f)).items()})
    return cfg, w


def rms(x, w, eps, gemma):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * ((1.0 + w) if gemma else w)


def rope(x, pos, theta):
    """HF apply_rotary_pos_emb: x [T, H, hd], halves rotated (rotate_half)."""
    hd = x.shape[-1]
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    f = np.outer(pos, inv)
    emb = np.concatenate([f, f], axis=-1)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * cos + np.concatenate([-x2, x1], axis=-1) * sin


def gelu_tanh(x):
    """HF gelu_pytorch_tanh as ggml's CPU backend evaluates it: through an F16 table
    (f16(gelu(f16(x))), identity above 10, zero below -10). Exact tanh-GELU differs from llama.cpp
    by ~2e-4 relative on these logits; the table brings the two oracles to ~1e-5."""
    xh = x.astype(np.float16).astype(np.float64)
    y = 0.5 * xh * (1 + np.tanh(np.sqrt(2 / np.pi) * (xh + 0.044715 * xh ** 3)))
    y = y.astype(np.float16).astype(np.float64)
    return np.where(x <= -10, 0.0, np.where(x >= 10, x, y))


def converter_norm_rounding(cfg: dict, w: dict) -> None:
    """Gemma3RMSNorm multiplies by (1 + w); convert_hf_to_gguf stores 1 + w computed in the
    checkpoint dtype (bf16 here), which is part of the converted network."""
    if not cfg["model_type"].startswith("gemma3") or cfg.get("torch_dtype") != "bfloat16":
        return
    for k in w:
        if k.endswith("norm.weight"):
            w[k] = (w[k] + 1).astype(ml_dtypes.bfloat16).astype(np.float32) - 1


def hf_forward(cfg: dict, w: dict, tokens: list) -> np.ndarray:
    gemma = cfg["model_type"].startswith("gemma3")
    E, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", E // H)
    eps = cfg["rms_norm_eps"]
    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = w["model.embed_tokens.weight"][tokens].astype(np.float64)
    if gemma:
        x = x * np.sqrt(E)
    lin = lambda h, name: h @ w[name + ".weight"].T + (w[name + ".bias"] if name + ".bias" in w else 0)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"], eps, gemma)
        q = lin(h, p + "self_attn.q_proj").reshape(T, H, hd)
        k = lin(h, p + "self_attn.k_proj").reshape(T, KV, hd)
        v = lin(h, p + "self_attn.v_proj").reshape(T, KV, hd)
        sliding = gemma and cfg["layer_types"][i] == "sliding_attention"
        if gemma:
            q = rms(q, w[p + "self_attn.q_norm.weight"], eps, True)
            k = rms(k, w[p + "self_attn.k_norm.weight"], eps, True)
            theta = cfg["rope_local_base_freq"] if sliding else cfg["rope_theta"]
            scale = cfg["query_pre_attn_scalar"] ** -0.5
        else:
            theta, scale = cfg["rope_theta"], hd ** -0.5
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        k = np.repeat(k, H // KV, axis=1)
        v = np.repeat(v, H // KV, axis=1)
        s = np.einsum("thd,shd->hts", q, k) * scale
        ti, si = np.arange(T)[:, None], np.arange(T)[None, :]
        allowed = si <= ti
        if sliding:
            allowed &= (ti - si) < cfg["sliding_window"]
        s = np.where(allowed[None], s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = np.einsum("hts,shd->thd", s, v).reshape(T, H * hd)
        a = lin(a, p + "self_attn.o_proj")
        if gemma:
            x = x + rms(a, w[p + "post_attention_layernorm.weight"], eps, True)
            h = rms(x, w[p + "pre_feedforward_layernorm.weight"], eps, True)
            m = lin(gelu_tanh(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
            x = x + rms(m, w[p + "post_feedforward_layernorm.weight"], eps, True)
        else:
            x = x + a
            h = rms(x, w[p + "post_attention_layernorm.weight"], eps, False)
            g = lin(h, p + "mlp.gate_proj")
            m = lin(g / (1 + np.exp(-g)) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
            x = x + m
    x = rms(x, w["model.norm.weight"], eps, gemma)
    out = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ out.T


def llama_cpp_logits(gguf_path: Path):
    import llama_cpp
    m = llama_cpp.Llama(model_path=str(gguf_path), logits_all=True, n_ctx=64, n_threads=1, type_k=0, type_v=0,
                        verbose=False)
    tokens = m.tokenize(PROMPT, add_bos=False, special=True)
    m.eval(tokens)
    n_vocab = m.n_vocab()
    return tokens, np.array(m.scores[: len(tokens), :n_vocab], dtype=np.float32)


def main(tiny: Path) -> None:
    for arch in ("llama", "qwen2", "gemma3"):
        tokens, ref = llama_cpp_logits(tiny / arch / "model.gguf")
        cfg, w = load_hf(tiny / arch / "hf")
        converter_norm_rounding(cfg, w)
        hf = hf_forward(cfg, w, tokens)[:, : ref.shape[1]]
        err = float(np.max(np.abs(hf - ref)))
        print(f"{arch}: {len(tokens)} tokens, max |HF numpy - llama.cpp| = {err:.2e}, "
              f"max |logit| = {np.max(np.abs(ref)):.2f}")
        assert err < 2e-3, f"{arch}: the converted GGUF does not compute the HF network"
        (tiny / arch / "logits.json").write_text(json.dumps(
            {"prompt": PROMPT.decode(), "tokens": tokens, "n_vocab": int(ref.shape[1]),
             "logits": [[float(f"{v:.7g}") for v in row] for row in ref]}) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
