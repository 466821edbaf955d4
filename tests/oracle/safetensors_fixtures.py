#!/usr/bin/env python3
"""Writes SafeTensors fixtures covering every dtype squish reads, with the F32 values numpy /
ml_dtypes give for them, into tests/goldens/safetensors/dtypes/.

    ~/.cache/squish/venv/bin/python tests/oracle/safetensors_fixtures.py [OUTDIR]

Files are written by the real `safetensors` package (safetensors.numpy.save_file); BF16 and FP8
arrays come from ml_dtypes. Outputs:
  single/model.safetensors               every tensor in one file (+ __metadata__)
  sharded/model-0000{1,2,3}-of-00003.safetensors + model.safetensors.index.json
  expected.json   name -> {dtype, shape, offset, count}: F32 values at `offset` floats in expected.f32
  expected.f32    little-endian float32 values (numpy's conversion of each tensor)
"""
import json
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "tests" / "goldens" / "safetensors" / "dtypes"


def all_bytes(dtype):
    """Every one of the 256 bit patterns of a one-byte type."""
    return np.arange(256, dtype=np.uint8).view(dtype)


def make_tensors(rng: np.random.Generator) -> dict:
    f32 = rng.standard_normal((3, 5, 7)).astype(np.float32)
    f32.flat[:6] = [np.inf, -np.inf, -0.0, 1e-45, 3.4e38, -1.5]
    f16 = (rng.standard_normal((4, 33)) * 10).astype(np.float16)
    f16.flat[:6] = np.array([0x0001, 0x03FF, 0x7C00, 0xFC00, 0x8000, 0x7BFF], np.uint16).view(np.float16)
    bf16 = (rng.standard_normal((17, 9)) * 100).astype(ml_dtypes.bfloat16)
    bf16.flat[:5] = np.array([0x0001, 0x7F80, 0xFF80, 0x8000, 0x7F7F], np.uint16).view(ml_dtypes.bfloat16)
    i32 = rng.integers(-(2**31), 2**31, size=(6, 5), dtype=np.int64).astype(np.int32)
    i32.flat[:4] = [np.iinfo(np.int32).min, np.iinfo(np.int32).max, 0, -1]
    i64 = rng.integers(-(2**62), 2**62, size=(11,), dtype=np.int64)
    i64[:4] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max, 16777217, -16777219]
    return {
        "model.layers.0.weight_f32": f32,
        "model.layers.0.weight_f16": f16,
        "model.layers.1.weight_bf16": bf16,
        "fp8.e4m3_all": all_bytes(ml_dtypes.float8_e4m3fn).reshape(16, 16),
        "fp8.e5m2_all": all_bytes(ml_dtypes.float8_e5m2).reshape(2, 128),
        "ints.i8_all": all_bytes(np.int8),
        "ints.u8_all": np.arange(256, dtype=np.uint8).reshape(8, 4, 8),
        "ints.i32": i32,
        "ints.i64": i64,
        "scalar_f32": np.array(2.5, dtype=np.float32),  # 0-d tensor
        "empty_f16": np.zeros((0, 4), dtype=np.float16),  # zero elements
        "vector_bf16": np.array([1, -2, 0.5], dtype=ml_dtypes.bfloat16),
    }


DTYPE_NAMES = {
    np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(ml_dtypes.bfloat16): "BF16",
    np.dtype(ml_dtypes.float8_e4m3fn): "F8_E4M3", np.dtype(ml_dtypes.float8_e5m2): "F8_E5M2",
    np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.int32): "I32",
    np.dtype(np.int64): "I64",
}


def write(out: Path) -> None:
    rng = np.random.default_rng(20240611)
    tensors = make_tensors(rng)
    (out / "single").mkdir(parents=True, exist_ok=True)
    (out / "sharded").mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "single" / "model.safetensors"),
              metadata={"format": "pt", "producer": "squish oracle"})

    names = list(tensors)
    shards = [names[0::3], names[1::3], names[2::3]]
    weight_map = {}
    total = 0
    for i, part in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: tensors[n] for n in part}, str(out / "sharded" / fname), metadata={"format": "pt"})
        for n in part:
            weight_map[n] = fname
            total += tensors[n].nbytes
    (out / "sharded" / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")

    manifest = {}
    values = []
    offset = 0
    for n in names:
        a = tensors[n]
        f = a.astype(np.float32).ravel()
        manifest[n] = {"dtype": DTYPE_NAMES[a.dtype], "shape": list(a.shape), "offset": offset,
                       "count": int(f.size)}
        values.append(f)
        offset += f.size
    (out / "expected.json").write_text(json.dumps(manifest, indent=1) + "\n")
    np.concatenate(values).astype("<f4").tofile(out / "expected.f32")


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    write(out)
    print(f"wrote {out}")
