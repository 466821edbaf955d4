#!/usr/bin/env python3
"""Regenerates tests/goldens/formats/dequant_*.bin: ggml block bytes plus their F32 dequantization
as computed by the gguf package (gguf.quants.dequantize), the oracle for squish::dequantize_row.

Record format (little-endian, records concatenated):
  char[4] "SQDQ"; u32 ggml type id; u64 n elements; u64 n bytes; bytes[n bytes]; f32[n].
Files:
  dequant_random.bin  per type: gguf-quantized random data (where gguf can quantize the type) and
                      random block bytes with sane F16 scales (incl. zero/subnormal/negative scales).
  dequant_models.bin  a few rows of every tensor type found in the two reference models.
Run: ~/.cache/squish/venv/bin/python tests/oracle/formats_goldens.py
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "goldens" / "formats"
MODELS = Path.home() / ".cache" / "squish" / "models"
MODEL_FILES = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]

TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
         T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K, T.IQ4_NL, T.IQ4_XS,
         T.TQ1_0, T.TQ2_0]
QUANTIZABLE = {T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0}

# Byte offsets of the F16 scale fields inside one block, per type.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64],
}


def dequantize(raw: np.ndarray, qtype: T) -> np.ndarray:
    """The oracle: gguf.quants.dequantize (Q8_K, which gguf lacks, is d * q computed in numpy)."""
    if qtype == T.Q8_K:
        blocks = raw.reshape(-1, 292)
        d = blocks[:, :4].copy().view(np.float32)
        q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1).astype(np.float32)
    return np.asarray(gguf.quants.dequantize(raw, qtype), dtype=np.float32).reshape(-1)


def record(qtype: T, raw: np.ndarray) -> bytes:
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    vals = dequantize(raw, qtype)
    return (b"SQDQ" + struct.pack("<IQQ", int(qtype), vals.size, raw.size) + raw.tobytes()
            + vals.astype("<f4").tobytes())


def sane_f16(rng: np.random.Generator, k: int) -> np.ndarray:
    """F16 scales: mostly normal magnitudes of both signs, plus zero and subnormals."""
    v = (rng.standard_normal(k) * 0.05).astype(np.float16)
    specials = np.array([0.0, -0.0, 6e-8, -3e-6, 1e-4, 65504.0 / 1024], dtype=np.float16)
    idx = rng.choice(k, size=min(k, 3), replace=False)
    v[idx] = rng.choice(specials, size=idx.size)
    return v


def random_blocks(rng: np.random.Generator, qtype: T, nblocks: int) -> np.ndarray:
    bs, ts = GGML_QUANT_SIZES[qtype]
    if qtype == T.F32:
        v = rng.standard_normal(nblocks * 64).astype(np.float32)
        v[:4] = [0.0, -0.0, 1e-40, -3.4e38]
        return v.view(np.uint8)
    if qtype in (T.F16, T.BF16):  # every bit pattern but NaNs
        bits = rng.integers(0, 1 << 16, size=nblocks * 64, dtype=np.uint16)
        exp_all = 0x7C00 if qtype == T.F16 else 0x7F80
        mant = 0x03FF if qtype == T.F16 else 0x007F
        nan = ((bits & exp_all) == exp_all) & ((bits & mant) != 0)
        bits[nan] &= ~np.uint16(exp_all)
        return bits.view(np.uint8)
    raw = rng.integers(0, 256, size=(nblocks, ts), dtype=np.uint8)
    if qtype == T.Q8_K:
        raw[:, :4] = (rng.standard_normal((nblocks, 1)) * 0.01).astype(np.float32).view(np.uint8)
    for off in F16_FIELDS.get(qtype, []):
        raw[:, off:off + 2] = sane_f16(rng, nblocks).view(np.uint8).reshape(nblocks, 2)
    return raw.reshape(-1)


def random_goldens() -> bytes:
    rng = np.random.default_rng(20240531)
    out = b""
    for qtype in TYPES:
        bs, _ = GGML_QUANT_SIZES[qtype]
        nblocks = 16 if bs == 32 else (8 if bs == 256 else 1)
        out += record(qtype, random_blocks(rng, qtype, nblocks))
        if qtype in QUANTIZABLE:
            x = (rng.standard_normal(1024) * rng.uniform(0.01, 2.0)).astype(np.float32)
            x[rng.integers(0, x.size, 8)] *= 20  # outliers
            q = gguf.quants.quantize(x.reshape(1, -1), qtype)
            out += record(qtype, np.asarray(q).view(np.uint8))
    return out


def model_goldens() -> bytes:
    out = b""
    for name in MODEL_FILES:
        path = MODELS / name
        if not path.exists():
            sys.exit(f"missing model {path}")
        reader = gguf.GGUFReader(str(path))
        seen: dict[int, int] = {}
        for t in reader.tensors:
            qtype = T(int(t.tensor_type))
            if qtype not in TYPES or len(t.shape) < 2 or seen.get(qtype, 0) >= 2:
                continue
            seen[qtype] = seen.get(qtype, 0) + 1
            data = np.asarray(t.data).view(np.uint8)
            rows = data.reshape(-1, data.shape[-1] if data.ndim > 1 else data.size)
            pick = [0, rows.shape[0] - 1]  # first and last row
            for r in pick:
                out += record(qtype, rows[r])
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dequant_random.bin").write_bytes(random_goldens())
    (OUT / "dequant_models.bin").write_bytes(model_goldens())
    for f in sorted(OUT.glob("dequant_*.bin")):
        print(f, f.stat().st_size)


if __name__ == "__main__":
    main()
