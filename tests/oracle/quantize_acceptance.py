"""Acceptance run of `squish quantize` against llama.cpp (llama-cpp-python), printing what it measures:

1. llama.cpp loads every squish output (17 mixes × SmolLM2 and Gemma 3) and evaluates a few tokens
   with finite logits;
2. llama.cpp's perplexity on wikitext-2-test (n_ctx 512, --chunks N, default 40) of squish's Q4_K_M
   vs llama.cpp's own Q4_K_M of the same input (llama_model_quantize), without and with an
   importance matrix computed by `squish imatrix` on calibration-mix.txt (never the evaluation text);
   relative difference must be within 0.5%.

Usage: ~/.cache/squish/venv/bin/python tests/oracle/quantize_acceptance.py [--chunks 40] [--imatrix-chunks 40]
       [--skip-load] [--squish build/squish]
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from perplexity_llamacpp import LlamaModel, perplexity, read_text  # noqa: E402
from quantize_common import TYPES, imatrix_means  # noqa: E402
from quantize_goldens import MODELS, llama_quantize  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def squish(binary: str, *args) -> None:
    env = dict(os.environ, SQUISH_PROGRESS="0")
    subprocess.run([binary, *map(str, args)], check=True, env=env, stdout=subprocess.DEVNULL)


def runs_in_llamacpp(path: Path) -> float:
    """Loads with llama.cpp, evaluates 8 tokens, returns max |logit| (finite or raises)."""
    with LlamaModel(path, n_ctx=64, n_batch=64) as m:
        toks = m.tokenize("The quick brown fox jumps over the lazy dog")[:8]
        logits = m.decode(toks, 0, output_from=0)
        if logits is None or not np.all(np.isfinite(logits)):
            raise AssertionError(f"{path}: non-finite logits")
        return float(np.abs(logits).max())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=40)
    ap.add_argument("--imatrix-chunks", type=int, default=40)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--squish", default=str(ROOT / os.environ.get("SQUISH_BUILD", "build") / "squish"))
    a = ap.parse_args()
    text = read_text(SHARED / "wikitext-2-test.txt")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not a.skip_load:
            print("== llama.cpp loads and runs every squish output")
            for key, model in MODELS.items():
                for mix in TYPES:
                    out = tmp / f"{key}-{mix}.gguf"
                    squish(a.squish, "quantize", model, out, "--type", mix)
                    mx = runs_in_llamacpp(out)
                    print(f"{key:8s} {mix:7s} ok  max|logit| {mx:8.3f}", flush=True)
                    out.unlink()
        print(f"== perplexity (llama.cpp, wikitext-2-test, n_ctx 512, {a.chunks} chunks): squish Q4_K_M vs llama.cpp Q4_K_M")
        print("| model | imatrix | llama.cpp's Q4_K_M | squish's Q4_K_M | Δ |")
        print("|---|---|---|---|---|")
        for key, model in MODELS.items():
            im = tmp / f"{key}.imatrix.gguf"
            squish(a.squish, "imatrix", model, "-o", im, "--chunks", a.imatrix_chunks,
                   "--text", SHARED / "calibration-mix.txt")
            for use_im in (False, True):
                ours, theirs = tmp / f"{key}-squish.gguf", tmp / f"{key}-llama.gguf"
                extra = ["--imatrix", im] if use_im else []
                squish(a.squish, "quantize", model, ours, "--type", "Q4_K_M", "--force", *extra)
                llama_quantize(model, theirs, TYPES["Q4_K_M"], imatrix_means(im) if use_im else None)
                ppl = {}
                for name, path in (("llama", theirs), ("squish", ours)):
                    with LlamaModel(path, n_ctx=512, n_batch=512) as m:
                        ppl[name] = perplexity(m, text, a.chunks).ppl
                d = (ppl["squish"] - ppl["llama"]) / ppl["llama"]
                ok = math.isfinite(d) and abs(d) <= 0.005
                failures += not ok
                print(f"| {key} | {'yes' if use_im else 'no'} | {ppl['llama']:.4f} | {ppl['squish']:.4f} | "
                      f"{100 * d:+.3f}% {'ok' if ok else 'FAIL'} |", flush=True)
                ours.unlink()
                theirs.unlink()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
