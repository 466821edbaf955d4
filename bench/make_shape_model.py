#!/usr/bin/env python3
"""Benchmark models of real shapes: llama-architecture GGUFs with seeded random weights.

Speed does not depend on weight values, so a model of Llama-3.2-1B's shape with random weights times
exactly as the real one does. This writes one (F16, normal(0, 0.02) weights, norm weights 1) with the
real tokenizer of a default model (every tokenizer.* key of SmolLM2-135M-Instruct, vocab 49152) and the
llama.* keys llama.cpp needs, then the quantized variants with `squish quantize IN OUT --type T`
(byte-identical to llama-quantize for these types). Files are written atomically (temp + rename) and
cached under ~/.cache/squish/bench/shapes/ as SHAPE[-LN][-sS].TYPE.gguf; tensors are written one at a
time, so an 8B F16 (16 GB) never sits in memory.

    make_shape_model.py --shape llama-3.2-1b --types F16,Q4_0,Q4_K_M
    make_shape_model.py --shape llama-3.1-8b --layers 4 --types Q4_K_M
    make_shape_model.py --shape tiny --out /tmp/tiny.gguf          # just the F16 file, at that path

Prints the path of each file it made or found, one a line.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "oracle"))

CACHE = Path(os.environ.get("SQUISH_CACHE", Path.home() / ".cache" / "squish"))
SHAPES_DIR = CACHE / "bench" / "shapes"
TOKENIZER_SOURCE = Path(os.environ.get("SQUISH_MODELS", CACHE / "models")) / "SmolLM2-135M-Instruct.Q4_1.gguf"
TYPES = ["F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"]
SIGMA = 0.02
ROWS_PER_CHUNK = 4096  # rows generated at a time (bounds the F32 scratch of a tensor)


@dataclass(frozen=True)
class Shape:
    """The dimensions of a llama-architecture model."""
    width: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    tied: bool
    context: int = 131072
    rope_base: float = 500000.0
    rms_eps: float = 1e-5


SHAPES = {
    "llama-3.2-1b": Shape(width=2048, layers=16, heads=32, kv_heads=8, head_dim=64, ffn=8192, tied=True),
    "llama-3.2-3b": Shape(width=3072, layers=28, heads=24, kv_heads=8, head_dim=128, ffn=8192, tied=True),
    "llama-3.1-8b": Shape(width=4096, layers=32, heads=32, kv_heads=8, head_dim=128, ffn=14336, tied=False),
    # for tests: small and fast, the same tensor layout
    "tiny": Shape(width=256, layers=2, heads=4, kv_heads=2, head_dim=64, ffn=512, tied=True, context=2048),
}


class ShapeError(Exception):
    """Bad arguments or inputs (reported as one line)."""


def tensor_plan(s: Shape, n_vocab: int) -> list[tuple[str, tuple[int, ...], bool]]:
    """(name, numpy shape, is a norm) of every tensor, in file order."""
    q, kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
    plan = [("token_embd.weight", (n_vocab, s.width), False)]
    for i in range(s.layers):
        b = f"blk.{i}."
        plan += [(b + "attn_norm.weight", (s.width,), True),
                 (b + "attn_q.weight", (q, s.width), False),
                 (b + "attn_k.weight", (kv, s.width), False),
                 (b + "attn_v.weight", (kv, s.width), False),
                 (b + "attn_output.weight", (s.width, q), False),
                 (b + "ffn_norm.weight", (s.width,), True),
                 (b + "ffn_gate.weight", (s.ffn, s.width), False),
                 (b + "ffn_up.weight", (s.ffn, s.width), False),
                 (b + "ffn_down.weight", (s.width, s.ffn), False)]
    plan.append(("output_norm.weight", (s.width,), True))
    if not s.tied:
        plan.append(("output.weight", (n_vocab, s.width), False))
    return plan


def tensor_values(index: int, shape: tuple[int, ...], norm: bool, seed: int):
    """The tensor's values in row chunks: norms F32 ones, weights F16 normal(0, SIGMA) from a generator
    seeded by (seed, tensor index), so a file depends only on its shape and seed."""
    if norm:
        yield np.ones(shape, dtype=np.float32)
        return
    rng = np.random.default_rng([seed, index])
    rows, cols = shape
    for r0 in range(0, rows, ROWS_PER_CHUNK):
        n = min(ROWS_PER_CHUNK, rows - r0)
        chunk = rng.standard_normal((n, cols), dtype=np.float32)
        chunk *= SIGMA
        yield chunk.astype(np.float16)


def write_f16_model(shape: Shape, name: str, out: Path, seed: int, tokenizer_source: Path) -> None:
    """Writes the F16 GGUF of `shape` to `out` (atomically), one tensor chunk at a time."""
    import gguf
    from common import copy_metadata

    if not tokenizer_source.exists():
        raise ShapeError(f"{tokenizer_source}: tokenizer source model not found")
    reader = gguf.GGUFReader(tokenizer_source)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if tokens is None:
        raise ShapeError(f"{tokenizer_source}: no tokenizer.ggml.tokens")
    n_vocab = len(tokens.data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    w = gguf.GGUFWriter(tmp, "llama")
    try:
        w.add_name(f"{name} (random weights, seed {seed})")
        w.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16))
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_vocab_size(n_vocab)
        w.add_context_length(shape.context)
        w.add_embedding_length(shape.width)
        w.add_block_count(shape.layers)
        w.add_feed_forward_length(shape.ffn)
        w.add_head_count(shape.heads)
        w.add_head_count_kv(shape.kv_heads)
        w.add_key_length(shape.head_dim)
        w.add_value_length(shape.head_dim)
        w.add_rope_dimension_count(shape.head_dim)
        w.add_rope_freq_base(shape.rope_base)
        w.add_layer_norm_rms_eps(shape.rms_eps)
        copy_metadata(reader, w, skip=[k for k in reader.fields if not k.startswith("tokenizer.")])
        plan = tensor_plan(shape, n_vocab)
        for tname, tshape, norm in plan:
            dtype = np.float32 if norm else np.float16
            w.add_tensor_info(tname, tshape, np.dtype(dtype), int(np.prod(tshape)) * np.dtype(dtype).itemsize)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        fout = w.fout[0]
        for index, (tname, tshape, norm) in enumerate(plan):
            w.write_padding(fout, fout.tell())  # as write_tensor_data aligns each tensor
            nbytes = 0
            for chunk in tensor_values(index, tshape, norm, seed):
                chunk.tofile(fout)
                nbytes += chunk.nbytes
            w.write_padding(fout, nbytes)
        w.close()
        os.replace(tmp, out)
    finally:
        w.close()
        tmp.unlink(missing_ok=True)


def squish_binary() -> str:
    """$SQUISH_BIN, else the worktree's build/squish."""
    return os.environ.get("SQUISH_BIN", str(ROOT / os.environ.get("SQUISH_BUILD", "build") / "squish"))


def quantize(binary: str, source: Path, out: Path, qtype: str) -> None:
    """`squish quantize source out --type qtype`, atomically."""
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.gguf")
    try:
        p = subprocess.run([binary, "quantize", str(source), str(tmp), "--type", qtype],
                           capture_output=True, text=True, env=dict(os.environ, SQUISH_PROGRESS="0"))
        if p.returncode != 0:
            lines = (p.stderr.strip() or p.stdout.strip() or f"exit code {p.returncode}").splitlines()
            raise ShapeError(f"squish quantize {source.name} --type {qtype} failed: {lines[-1]}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_shape(name: str, layers: int | None) -> Shape:
    """The preset `name`, cut to `layers` layers when given."""
    if name not in SHAPES:
        raise ShapeError(f"--shape {name}: unknown shape (valid: {', '.join(SHAPES)})")
    shape = SHAPES[name]
    if layers is not None:
        if not 1 <= layers <= shape.layers:
            raise ShapeError(f"--layers {layers}: {name} has 1..{shape.layers} layers")
        shape = replace(shape, layers=layers)
    return shape


def model_stem(name: str, layers: int | None, seed: int) -> str:
    """File stem of a cached shape model: SHAPE[-LN][-sS]."""
    full = SHAPES[name].layers
    return name + (f"-L{layers}" if layers not in (None, full) else "") + (f"-s{seed}" if seed else "")


def shape_model(name: str, qtype: str = "F16", layers: int | None = None, seed: int = 0,
                binary: str | None = None, out_dir: Path = SHAPES_DIR,
                tokenizer_source: Path = TOKENIZER_SOURCE, log=None) -> Path:
    """Path of the cached model `name` (cut to `layers`) in type qtype, made (F16 first) if missing."""
    shape = resolve_shape(name, layers)
    if qtype not in TYPES:
        raise ShapeError(f"--types {qtype}: unknown type (valid: {', '.join(TYPES)})")
    stem = model_stem(name, layers, seed)
    base = out_dir / f"{stem}.F16.gguf"
    if not base.exists():
        if log:
            log(f"writing {base} ({shape.layers} layers, {shape.width} wide, random F16, seed {seed})")
        write_f16_model(shape, stem, base, seed, tokenizer_source)
    if qtype == "F16":
        return base
    out = out_dir / f"{stem}.{qtype}.gguf"
    if not out.exists() or out.stat().st_mtime < base.stat().st_mtime:
        if log:
            log(f"quantizing {out.name} with squish quantize --type {qtype}")
        quantize(binary or squish_binary(), base, out, qtype)
    return out


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line: `SCRIPT: message` (SCRIPT without .py)."""

    def error(self, message: str):
        self.exit(2, f"{Path(self.prog).stem}: {message}\n")


def main() -> None:
    ap = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="llama-3.2-1b", help=f"one of: {', '.join(SHAPES)}")
    ap.add_argument("--layers", type=int, help="keep only the first N layers")
    ap.add_argument("--types", default="F16", help=f"comma-separated, of: {','.join(TYPES)}")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    ap.add_argument("--out-dir", type=Path, default=SHAPES_DIR, help="cache directory")
    ap.add_argument("--out", type=Path, help="write only the F16 model, to this path (not cached)")
    ap.add_argument("--tokenizer-from", type=Path, default=TOKENIZER_SOURCE,
                    help="GGUF whose tokenizer.* keys are copied")
    args = ap.parse_args()
    try:
        if args.seed < 0:
            raise ShapeError(f"--seed {args.seed}: must be >= 0")
        if args.out is not None:
            shape = resolve_shape(args.shape, args.layers)
            write_f16_model(shape, model_stem(args.shape, args.layers, args.seed), args.out, args.seed,
                            args.tokenizer_from)
            print(args.out)
            return
        types = [t for t in args.types.split(",") if t]
        if not types:
            raise ShapeError("--types: empty list")
        resolve_shape(args.shape, args.layers)
        for t in types:
            if t not in TYPES:
                raise ShapeError(f"--types {t}: unknown type (valid: {', '.join(TYPES)})")
        log = lambda msg: print(f"[shape] {msg}", file=sys.stderr, flush=True)
        for t in types:
            print(shape_model(args.shape, t, args.layers, args.seed, out_dir=args.out_dir,
                              tokenizer_source=args.tokenizer_from, log=log), flush=True)
    except ShapeError as e:
        raise SystemExit(f"make_shape_model: {e}")
    except OSError as e:
        raise SystemExit(f"make_shape_model: {e.filename or ''}: {e.strerror or e}")


if __name__ == "__main__":
    main()
