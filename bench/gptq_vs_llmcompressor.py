"""GPTQ W4A16 (symmetric, group 64 by default: SmolLM2's 576-wide inputs do not split into 128s; lm_head and embeddings dense): llm-compressor (PyPI, CPU)
vs squish, on SmolLM2's F32 reference network, same calibration tokens (the first N windows of L
tokens of calibration-mix.txt, tokenized by squish), same evaluation (wikitext-2-test perplexity with
transformers on CPU over the same token chunks, each checkpoint loaded from its compressed-tensors
export). Both GPTQ runs use llm-compressor's default column order (actorder "static": decreasing
diag(H), groups fixed from the original weights; squish's `--act-order static`, its default too),
dampening 0.01, lm_head dense. RTN W4A16 (same group size) (squish export) and the unquantized
reference are evaluated alongside.
Fair ground: pass `--model` the off-grid twin (`../shared/tools/offgrid_model.py SRC.gguf OUT.gguf`);
the shipped SmolLM2 Q4_1 lies on a 4-bit grid already. `--samples 32,128` runs both GPTQs per count.
The last line is the perplexity ratio squish GPTQ / llm-compressor GPTQ (of the last sample count).

Usage: ~/.cache/squish/venv/bin/python bench/gptq_vs_llmcompressor.py [--model M.gguf] [--samples 32]
       [--seq-len 512] [--eval-chunks 16] [--chunk 512]
squish's side needs calib's `squish quantize --scheme W4A16 --method gptq --format compressed-tensors`;
without it, the squish GPTQ row is reported as unavailable.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = Path.home() / ".cache/squish/models/SmolLM2-135M-Instruct.Q4_1.gguf"  # --model overrides
SHARED = ROOT.parent / "shared" / "data"  # ../shared beside the repository
CALIB = SHARED / "calibration-mix.txt"
WIKI = SHARED / "wikitext-2-test.txt"
SQUISH = os.environ.get("SQUISH_BIN", str(ROOT / "build" / "squish"))


def squish(*args, **kw):
    env = dict(os.environ, SQUISH_PROGRESS="0")
    return subprocess.run([SQUISH, *map(str, args)], env=env, capture_output=True, text=True, **kw)


def tokens(path: Path, max_bytes: int) -> list[int]:
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(path.read_bytes()[:max_bytes])
    r = squish("tokenize", MODEL, "--file", f.name, "--no-special", "--ids-only", check=True)
    os.unlink(f.name)
    return [int(x) for x in r.stdout.split()]


def perplexity(model_dir: Path, ids: list[int], chunk: int, n_chunks: int) -> float:
    import torch
    import transformers
    kw = {}
    if (model_dir / "config.json").read_text().find("compressed-tensors") >= 0:
        kw["quantization_config"] = transformers.CompressedTensorsConfig(run_compressed=False)
    m = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, **kw).eval()
    nll, n = 0.0, 0
    with torch.no_grad():
        for c in range(n_chunks):
            x = torch.tensor([ids[c * chunk:(c + 1) * chunk]])
            logp = torch.log_softmax(m(x).logits[0, :-1].double(), -1)
            # score the second half of each chunk (llama.cpp's perplexity convention)
            tgt = x[0, 1:]
            lp = logp.gather(1, tgt[:, None])[:, 0]
            nll -= lp[chunk // 2 - 1:].sum().item()
            n += lp[chunk // 2 - 1:].numel()
    return math.exp(nll / n)


def run_llmcompressor(ref: Path, out: Path, calib: list[list[int]], seq_len: int, group: int) -> float:
    import torch
    import transformers
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier

    model = transformers.AutoModelForCausalLM.from_pretrained(str(ref), dtype=torch.float32)
    ds = Dataset.from_dict({"input_ids": calib, "attention_mask": [[1] * len(c) for c in calib]})
    weights = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": group}
    recipe = GPTQModifier(config_groups={"group_0": {"targets": ["Linear"], "weights": weights}},
                          ignore=["lm_head"], dampening_frac=0.01)
    t0 = time.perf_counter()
    oneshot(model=model, dataset=ds, recipe=recipe, max_seq_length=seq_len,
            num_calibration_samples=len(calib))
    dt = time.perf_counter() - t0
    model.save_pretrained(str(out), save_compressed=True)
    return dt


def main() -> None:
    global MODEL
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(MODEL), help="GGUF source (use the off-grid twin for quality)")
    ap.add_argument("--samples", default="32", help="calibration sample counts, comma-separated (e.g. 32,128)")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--eval-chunks", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--group-size", type=int, default=64)
    ap.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    a = ap.parse_args()
    MODEL = Path(a.model)
    counts = [int(x) for x in a.samples.split(",")]
    work = Path(a.work or tempfile.mkdtemp(prefix="gptq-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    ref = work / "ref"
    if not ref.exists():
        squish("export", MODEL, ref, "--format", "unquantized", "--dtype", "float32", check=True)
    most = max(counts)
    calib_ids = tokens(CALIB, 4 * most * a.seq_len * 2)
    if len(calib_ids) < most * a.seq_len:
        sys.exit(f"calibration text too short: {len(calib_ids)} tokens < {most * a.seq_len}")
    windows = [calib_ids[i * a.seq_len:(i + 1) * a.seq_len] for i in range(most)]
    calib_file = work / "calib.ids"  # the very same windows for squish, one sample of token ids a line
    calib_file.write_text("".join(" ".join(map(str, w)) + "\n" for w in windows))
    wiki = tokens(WIKI, 6 * a.chunk * a.eval_chunks)[: a.chunk * a.eval_chunks]
    n_chunks = len(wiki) // a.chunk
    g = f"g{a.group_size}"

    rtn_dir = work / "squish-rtn-w4a16"
    squish("export", MODEL, rtn_dir, "--format", "compressed-tensors", "--bits", "4", "--group-size", a.group_size,
           "--dtype", "float32", "--force", check=True)
    rows = [("unquantized (F32 reference)", perplexity(ref, wiki, a.chunk, n_chunks), None),
            (f"squish RTN W4A16 {g}", perplexity(rtn_dir, wiki, a.chunk, n_chunks), None)]
    side = []  # (samples, llm-compressor PPL, squish PPL)
    for n in counts:
        lc_dir = work / f"llmcompressor-w4a16-{n}"
        t_lc = run_llmcompressor(ref, lc_dir, windows[:n], a.seq_len, a.group_size)
        sq_dir = work / f"squish-gptq-w4a16-{n}"
        t0 = time.perf_counter()
        r = squish("quantize", MODEL, sq_dir, "--scheme", "W4A16", "--method", "gptq", "--group-size", a.group_size,
                   "--format", "compressed-tensors", "--calib", calib_file, "--samples", n,
                   "--seq-len", a.seq_len, "--force")
        t_sq = time.perf_counter() - t0
        p_lc = perplexity(lc_dir, wiki, a.chunk, n_chunks)
        rows.append((f"llm-compressor GPTQ W4A16 {g} n={n}", p_lc, t_lc))
        if r.returncode != 0:
            sys.exit(f"squish GPTQ failed: {r.stderr.strip()[:300]}")
        p_sq = perplexity(sq_dir, wiki, a.chunk, n_chunks)
        rows.append((f"squish GPTQ W4A16 {g} n={n}", p_sq, t_sq))
        side.append((n, p_lc, p_sq))
    print(f"{MODEL.name}, calibration {a.samples} x {a.seq_len} tokens (the same windows for both), "
          f"wikitext-2-test {n_chunks}x{a.chunk} tokens (transformers, CPU)")
    print(f"{'checkpoint':42s} {'PPL':>9s} {'wall s':>8s}")
    for name, ppl, t in rows:
        print(f"{name:42s} {ppl:9.4f} {'' if t is None else f'{t:8.1f}'}")
    print(f"{'samples':>8s} {'llm-compressor':>15s} {'squish':>9s} {'ratio':>7s}")
    for n, p_lc, p_sq in side:
        print(f"{n:8d} {p_lc:15.4f} {p_sq:9.4f} {p_sq / p_lc:7.4f}")
    n, p_lc, p_sq = side[-1]
    print(f"perplexity ratio squish/llm-compressor GPTQ W4A16 {g} n={n}: {p_sq / p_lc:.4f}")


if __name__ == "__main__":
    main()
