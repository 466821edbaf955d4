"""Quantization throughput (input MB/s) of `squish quantize` vs llama.cpp's quantizer
(llama_model_quantize, the C API behind llama-quantize, via llama-cpp-python) for Q4_K_M and Q8_0,
same thread count, on the F32 reference copies of SmolLM2 and Gemma 3 (tests/oracle/common.py's
f32_gguf, so every tensor is really quantized rather than copied). Best of --reps runs each.
The last line is the headline ratio (geometric mean of squish/llama.cpp over all cases).

Usage: ~/.cache/squish/venv/bin/python bench/quantize_vs_llamacpp.py [--threads 2] [--reps 2]
"""
from __future__ import annotations

import argparse
import ctypes
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "oracle"))
import llama_cpp as L  # noqa: E402
from common import GEMMA3, SMOLLM2, f32_gguf  # noqa: E402
from perplexity_llamacpp import quiet_logs  # noqa: E402

FTYPES = {"Q4_K_M": 15, "Q8_0": 7}


def time_squish(binary: str, inp: Path, out: Path, mix: str, threads: int) -> float:
    env = dict(os.environ, SQUISH_PROGRESS="0")
    t0 = time.perf_counter()
    subprocess.run([binary, "quantize", str(inp), str(out), "--type", mix, "--threads", str(threads),
                    "--force"], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def time_llama(inp: Path, out: Path, mix: str, threads: int) -> float:
    p = L.llama_model_quantize_default_params()
    p.ftype = FTYPES[mix]
    p.nthread = threads
    p.allow_requantize = True
    t0 = time.perf_counter()
    if L.llama_model_quantize(str(inp).encode(), str(out).encode(), ctypes.byref(p)) != 0:
        raise RuntimeError("llama_model_quantize failed")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--squish", default=str(ROOT / os.environ.get("SQUISH_BUILD", "build") / "squish"))
    a = ap.parse_args()
    quiet_logs()
    ratios = []
    print(f"threads {a.threads}, best of {a.reps}; input = F32 reference GGUF")
    print("| model | mix | input MB | squish MB/s | llama.cpp MB/s | ratio |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in (("SmolLM2-135M", SMOLLM2), ("Gemma3-270M", GEMMA3)):
            inp = f32_gguf(model)
            mb = inp.stat().st_size / 1e6
            inp.read_bytes()  # warm the page cache for both
            for mix in FTYPES:
                out = Path(tmp) / "out.gguf"
                ts = min(time_squish(a.squish, inp, out, mix, a.threads) for _ in range(a.reps))
                tl = min(time_llama(inp, out, mix, a.threads) for _ in range(a.reps))
                ratios.append(tl / ts)
                print(f"| {name} | {mix} | {mb:.0f} | {mb / ts:.1f} | {mb / tl:.1f} | {tl / ts:.2f}x |", flush=True)
                out.unlink(missing_ok=True)
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"squish/llama.cpp quantization throughput ratio (geomean, Q4_K_M+Q8_0): {geo:.2f}x")


if __name__ == "__main__":
    main()
