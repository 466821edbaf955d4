#!/usr/bin/env python3
"""Regenerates tests/goldens/perplexity/<model>.json: llama.cpp's perplexity (n_ctx 512, batch 512,
first 40 chunks of ../shared/data/wikitext-2-test.txt) on each default model's GGUF file and on its
all-F32 copy (tests/oracle/common.py f32_gguf), through llama-cpp-python's low-level API.

Usage: perplexity_goldens.py [--models smollm2 gemma3] [--variants gguf f32] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import llama_cpp  # noqa: E402

import perplexity_llamacpp as oracle  # noqa: E402

MODELS_DIR = Path(os.environ.get("SQUISH_MODELS", Path.home() / ".cache" / "squish" / "models"))
MODELS = {
    "smollm2": MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": MODELS_DIR / "gemma-3-270m-q4_k_m.gguf",
}
TEXT = ROOT.parent / "shared" / "data" / "wikitext-2-test.txt"
GOLDENS = ROOT / "tests" / "goldens" / "perplexity"
N_CTX, N_BATCH, N_CHUNKS = 512, 512, 40


def model_file(name: str, variant: str) -> Path:
    if variant == "gguf":
        return MODELS[name]
    from common import f32_gguf  # the model helper's F32 copy writer (cached)
    return Path(f32_gguf(MODELS[name]))


def run(name: str, variant: str, threads: int) -> dict:
    path = model_file(name, variant)
    text = oracle.read_text(TEXT)
    with oracle.LlamaModel(path, n_ctx=N_CTX, n_batch=N_BATCH, n_threads=threads) as m:
        r = oracle.perplexity(m, text, N_CHUNKS)
    print(f"{name}/{variant}: PPL = {r.ppl:.4f} +/- {r.stderr:.5f} ({r.seconds:.1f} s)", flush=True)
    return {
        "file": path.name,
        "ppl": r.ppl,
        "stderr": r.stderr,
        "n_text_tokens": r.n_text_tokens,
        "n_scored": r.n_scored,
        "chunks": r.chunks,
        "running_ppl": r.running_ppl,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--variants", nargs="+", default=["gguf", "f32"], choices=["gguf", "f32"])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    GOLDENS.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        out = GOLDENS / f"{name}.json"
        golden = json.loads(out.read_text()) if out.exists() else {}
        golden.update({
            "oracle": f"llama.cpp via llama-cpp-python {llama_cpp.__version__}",
            "text": "wikitext-2-test.txt",
            "n_ctx": N_CTX,
            "n_batch": N_BATCH,
        })
        for variant in args.variants:
            golden[variant] = run(name, variant, args.threads)
            out.write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
