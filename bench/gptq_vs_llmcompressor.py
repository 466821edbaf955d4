"""GPTQ W4A16 (symmetric, group 64 by default: SmolLM2's 576-wide inputs do not split into 128s; lm_head and embeddings dense): llm-compressor (PyPI, CPU)
vs squish, on SmolLM2's F32 reference network, same calibration tokens (the first N windows of L
tokens of calibration-mix.txt, tokenized by squish), same evaluation (wikitext-2-test perplexity with
transformers on CPU over the same token chunks, each checkpoint loaded from its compressed-tensors
export). Both GPTQ runs use llm-compressor's default column order (actorder "static": decreasing
diag(H), groups fixed from the original weights; squish's `--act-order static`, its default too),
dampening 0.01, lm_head dense. RTN W4A16 (same group size) (squish export) and the unquantized
reference are evaluated alongside.
The last line is the wall-time ratio squish / llm-compressor.

Usage: ~/.cache/squish/venv/bin/python bench/gptq_vs_llmcompressor.py [--samples 32] [--seq-len 512]
       [--eval-chunks 16] [--chunk 512]
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
MODEL = Path.home() / ".cache/squish/models/SmolLM2-135M-Instruct.Q4_1.gguf"
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--eval-chunks", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--group-size", type=int, default=64)
    ap.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="gptq-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    ref = work / "ref"
    if not ref.exists():
        squish("export", MODEL, ref, "--format", "unquantized", "--dtype", "float32", check=True)
    calib_ids = tokens(CALIB, 4 * a.samples * a.seq_len * 2)
    need = a.samples * a.seq_len
    if len(calib_ids) < need:  # noqa: SIM102
        sys.exit(f"calibration text too short: {len(calib_ids)} tokens < {need}")
    calib = [calib_ids[i * a.seq_len:(i + 1) * a.seq_len] for i in range(a.samples)]
    calib_file = work / "calib.txt"  # the same windows' text for squish: re-tokenization identical
    calib_file.write_bytes(CALIB.read_bytes()[:4 * a.samples * a.seq_len * 2])
    wiki = tokens(WIKI, 6 * a.chunk * a.eval_chunks)[: a.chunk * a.eval_chunks]
    n_chunks = len(wiki) // a.chunk

    rows = []
    lc_dir = work / "llmcompressor-w4a16"
    t_lc = run_llmcompressor(ref, lc_dir, calib, a.seq_len, a.group_size)

    rtn_dir = work / "squish-rtn-w4a16"
    squish("export", MODEL, rtn_dir, "--format", "compressed-tensors", "--bits", "4", "--group-size", a.group_size,
           "--dtype", "float32", "--force", check=True)

    sq_dir = work / "squish-gptq-w4a16"
    t0 = time.perf_counter()
    r = squish("quantize", MODEL, sq_dir, "--scheme", "W4A16", "--method", "gptq", "--group-size", a.group_size,
               "--format", "compressed-tensors", "--calib", calib_file, "--samples", a.samples,
               "--seq-len", a.seq_len, "--force")
    t_sq = time.perf_counter() - t0 if r.returncode == 0 else float("nan")

    rows.append(("unquantized (F32 reference)", perplexity(ref, wiki, a.chunk, n_chunks), None))
    g = f"g{a.group_size}"
    rows.append((f"squish RTN W4A16 {g}", perplexity(rtn_dir, wiki, a.chunk, n_chunks), None))
    rows.append((f"llm-compressor GPTQ W4A16 {g}", perplexity(lc_dir, wiki, a.chunk, n_chunks), t_lc))
    if r.returncode == 0:
        rows.append((f"squish GPTQ W4A16 {g}", perplexity(sq_dir, wiki, a.chunk, n_chunks), t_sq))
    else:
        print(f"squish GPTQ unavailable: {r.stderr.strip()[:300]}")
    print(f"SmolLM2-135M, {a.samples}x{a.seq_len} calibration tokens, wikitext-2-test "
          f"{n_chunks}x{a.chunk} tokens (transformers, CPU)")
    print(f"{'checkpoint':34s} {'PPL':>9s} {'wall s':>8s}")
    for name, ppl, t in rows:
        print(f"{name:34s} {ppl:9.4f} {'' if t is None else f'{t:8.1f}'}")
    ratio = t_sq / t_lc if t_lc > 0 else float("nan")
    print(f"wall-time ratio squish/llm-compressor GPTQ W4A16 {g}: {ratio:.3f}")


if __name__ == "__main__":
    main()
