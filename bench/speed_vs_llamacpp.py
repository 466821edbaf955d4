#!/usr/bin/env python3
"""Inference speed of squish vs llama.cpp (llama-cpp-python's low-level API), same thread count, with
llama-bench's definitions: pp512 = tokens/s evaluating a 512-token random prompt in one batch from an
empty cache; tg128 = tokens/s generating 128 tokens one at a time from an empty cache. Each test is
run once untimed, then --reps times; the rate is the mean of the per-repetition rates.

Prints a table and the squish/llama.cpp ratio per test; the last line is the headline ratio (the
geometric mean of all ratios). Not a test: no target yet (quantized kernels come later).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "oracle"))

import perplexity_llamacpp as oracle  # noqa: E402

MODELS_DIR = Path(os.environ.get("SQUISH_MODELS", Path.home() / ".cache" / "squish" / "models"))
MODELS = {
    "SmolLM2-135M Q4_1": MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "Gemma3-270M Q4_K_M": MODELS_DIR / "gemma-3-270m-q4_k_m.gguf",
}


def squish_speed(binary: str, model: Path, n_prompt: int, n_gen: int, threads: int, reps: int) -> dict:
    p = subprocess.run([binary, "bench", str(model), "-p", str(n_prompt), "-n", str(n_gen),
                        "--threads", str(threads), "--reps", str(reps), "--json"],
                       capture_output=True, text=True, env=dict(os.environ, SQUISH_PROGRESS="0"))
    if p.returncode != 0:
        raise SystemExit(f"squish bench failed: {p.stderr.strip()}")
    return {t["test"]: t["tokens_per_second"] for t in json.loads(p.stdout)["tests"]}


def mean_rate(n_tokens: int, seconds: list[float]) -> float:
    return sum(n_tokens / s for s in seconds) / len(seconds)


def llamacpp_speed(model: Path, n_prompt: int, n_gen: int, threads: int, reps: int) -> dict:
    out = {}
    with oracle.LlamaModel(model, n_ctx=max(n_prompt, n_gen), n_batch=max(n_prompt, 1),
                           n_threads=threads) as m:
        if n_prompt:
            oracle.bench_pp(m, n_prompt, seed=0)  # warm-up
            out[f"pp{n_prompt}"] = mean_rate(n_prompt, [oracle.bench_pp(m, n_prompt, seed=r + 1) for r in range(reps)])
        if n_gen:
            oracle.bench_tg(m, 1, seed=0)  # warm-up
            out[f"tg{n_gen}"] = mean_rate(n_gen, [oracle.bench_tg(m, n_gen, seed=r + 1) for r in range(reps)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--squish", default=os.environ.get(
        "SQUISH_BIN", str(ROOT / os.environ.get("SQUISH_BUILD", "build") / "squish")))
    args = ap.parse_args()

    rows, ratios = [], []
    for label, path in MODELS.items():
        if not path.exists():
            print(f"skipping {label}: {path} not found", file=sys.stderr)
            continue
        sq = squish_speed(args.squish, path, args.n_prompt, args.n_gen, args.threads, args.reps)
        ll = llamacpp_speed(path, args.n_prompt, args.n_gen, args.threads, args.reps)
        for test in ll:
            ratio = sq[test] / ll[test]
            ratios.append(ratio)
            rows.append((label, test, sq[test], ll[test], ratio))

    print(f"threads: {args.threads}, repetitions: {args.reps}")
    print("| model | test | squish t/s | llama.cpp t/s | squish/llama.cpp |")
    print("|---|---|---:|---:|---:|")
    for label, test, s, l_, r in rows:
        print(f"| {label} | {test} | {s:.2f} | {l_:.2f} | {r:.3f}x |")
    if not ratios:
        raise SystemExit("no model measured")
    headline = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"headline squish/llama.cpp speed ratio (geometric mean of {len(ratios)}): {headline:.3f}x")


if __name__ == "__main__":
    main()
