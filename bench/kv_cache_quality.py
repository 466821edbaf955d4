#!/usr/bin/env python3
"""KV-cache quantization at a long context: wikitext-2-test perplexity with n_ctx 4096 (llama.cpp's
chunked definition, second half of each chunk scored) for every --kv-cache-dtype, relative to the F16
cache, with the cache's size at 4096 tokens. Weights run quantized (the shipped GGUF files).

Issue #5 acceptance: INT8 and FP8 within 1% of F16 with the cache memory halved; INT4 measured.
The last line is the headline: the worst INT8/FP8 perplexity ratio to F16."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("SQUISH_MODELS", Path.home() / ".cache" / "squish" / "models"))
MODELS = {"SmolLM2-135M": MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf",
          "Gemma3-270M": MODELS_DIR / "gemma-3-270m-q4_k_m.gguf"}
DTYPES = ["f16", "bf16", "fp8", "int8", "int4"]


def squish(binary: str, *args) -> dict:
    p = subprocess.run([binary, *map(str, args), "--json"], capture_output=True, text=True,
                       env=dict(os.environ, SQUISH_PROGRESS="0"))
    if p.returncode != 0:
        raise SystemExit(p.stderr.strip())
    return json.loads(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--chunks", type=int, default=3)
    ap.add_argument("--squish", default=os.environ.get(
        "SQUISH_BIN", str(ROOT / os.environ.get("SQUISH_BUILD", "build") / "squish")))
    args = ap.parse_args()
    rows, worst = [], 0.0
    for label, model in MODELS.items():
        if not model.exists():
            continue
        base = None
        for kv in DTYPES:
            r = squish(args.squish, "perplexity", model, "--ctx", args.ctx, "--chunks", args.chunks,
                       "--weights", "quantized", "--kv-cache-dtype", kv)
            b = squish(args.squish, "bench", model, "-p", 8, "-n", 0, "-r", 1, "--no-roofline",
                       "--kv-cache-dtype", kv)["kv_cache_bytes_per_token"] * args.ctx
            base = base or (r["ppl"], b)
            ratio = r["ppl"] / base[0]
            if kv in ("int8", "fp8"):
                worst = max(worst, abs(ratio - 1))
            rows.append((label, kv, r["ppl"], ratio, b, b / base[1]))
    print(f"wikitext-2-test, n_ctx {args.ctx}, {args.chunks} chunks; cache size at {args.ctx} tokens")
    print("| model | KV cache | PPL | vs F16 | cache MiB | vs F16 |")
    print("|---|---|---:|---:|---:|---:|")
    for label, kv, p, ratio, b, br in rows:
        print(f"| {label} | {kv} | {p:.4f} | {100 * (ratio - 1):+.2f}% | {b / 2**20:.1f} | {br:.2f}x |")
    print(f"headline: worst INT8/FP8 perplexity change vs the F16 cache: {100 * worst:.2f}%")


if __name__ == "__main__":
    main()
