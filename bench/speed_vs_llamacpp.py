#!/usr/bin/env python3
"""Inference speed of squish vs llama.cpp (llama-cpp-python's low-level API), same thread count, with
llama-bench's definitions: pp512 = tokens/s evaluating a 512-token random prompt in one batch from an
empty cache; tg128 = tokens/s generating 128 tokens one at a time from an empty cache. Each test is
run once untimed, then --reps times; the rate is the mean of the per-repetition rates.

Both run the same GGUF files: each default model converted by `squish quantize` (byte-identical to
llama-quantize's output) to Q4_0, Q4_K_M, Q8_0 and F16 (--formats), cached under
~/.cache/squish/bench. squish runs the weights in their block format (--weights quantized). For tg
the table also gives the achieved weight-read bandwidth and its share of the machine's measured
read bandwidth (the decoding roofline).

Prints a table and the squish/llama.cpp ratio per test; the last line is the headline ratio (the
geometric mean of all ratios). Target (issue #5): >= 1.0x on every test.
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


BENCH_DIR = Path(os.environ.get("SQUISH_CACHE", Path.home() / ".cache" / "squish")) / "bench"


def squish_bench(binary: str, model: Path, n_prompt: int, n_gen: int, threads: int, reps: int,
                 roofline: bool) -> dict:
    p = subprocess.run([binary, "bench", str(model), "-p", str(n_prompt), "-n", str(n_gen),
                        "--threads", str(threads), "--reps", str(reps), "--json",
                        *([] if roofline else ["--no-roofline"])],
                       capture_output=True, text=True, env=dict(os.environ, SQUISH_PROGRESS="0"))
    if p.returncode != 0:
        raise SystemExit(f"squish bench failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def converted(binary: str, source: Path, fmt: str) -> Path:
    """The model in format fmt (made once by squish quantize, atomically)."""
    out = BENCH_DIR / f"{source.stem}-{fmt}.gguf"
    if not out.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([binary, "quantize", str(source), str(out), "--type", fmt],
                           capture_output=True, text=True, env=dict(os.environ, SQUISH_PROGRESS="0"))
        if p.returncode != 0:
            raise SystemExit(f"squish quantize failed: {p.stderr.strip()}")
    return out


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
    ap.add_argument("--formats", default="Q4_0,Q4_K_M,Q8_0,F16",
                    help="comma-separated GGUF types the default models are converted to")
    args = ap.parse_args()

    rows, ratios, machine_bw = [], [], 0.0
    for label, source in MODELS.items():
        if not source.exists():
            print(f"skipping {label}: {source} not found", file=sys.stderr)
            continue
        for fmt in args.formats.split(","):
            path = converted(args.squish, source, fmt)
            sq = squish_bench(args.squish, path, args.n_prompt, args.n_gen, args.threads, args.reps,
                              roofline=machine_bw == 0.0)
            machine_bw = machine_bw or sq["machine_read_bandwidth"]
            step_bytes = sq["decode_bytes_per_token"]
            ll = llamacpp_speed(path, args.n_prompt, args.n_gen, args.threads, args.reps)
            for t in sq["tests"]:
                test = t["test"]
                ratio = t["tokens_per_second"] / ll[test]
                ratios.append(ratio)
                share = lambda rate: f"{100 * rate * step_bytes / machine_bw:.0f}%" if test.startswith("tg") else ""
                rows.append((f"{label.split()[0]} {fmt}", test, t["tokens_per_second"], ll[test], ratio,
                             share(t["tokens_per_second"]), share(ll[test])))

    print(f"threads: {args.threads}, repetitions: {args.reps}, machine read bandwidth {machine_bw / 1e9:.1f} GB/s")
    print("(models re-quantized from the shipped Q4_1 / Q4_K_M files; roofline = weight bytes per token x t/s"
          " / machine read bandwidth)")
    print("| model | test | squish t/s | llama.cpp t/s | squish/llama.cpp | squish roofline | llama.cpp roofline |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, test, s, l_, r, rs, rl in rows:
        print(f"| {label} | {test} | {s:.2f} | {l_:.2f} | {r:.3f}x | {rs} | {rl} |")
    if not ratios:
        raise SystemExit("no model measured")
    headline = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"headline squish/llama.cpp speed ratio (geometric mean of {len(ratios)}): {headline:.3f}x")


if __name__ == "__main__":
    main()
