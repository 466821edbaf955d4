#!/usr/bin/env python3
"""Regenerates tests/goldens/formats/quant_{inputs,llama}.bin: F32 rows (+ importance vectors) and
the bytes llama.cpp's own quantizer produces for them, the oracle for squish::quantize_row.

The quantizer is ggml_quantize_chunk from the libggml-base.so bundled with llama-cpp-python,
called through ctypes, with and without an importance matrix. For the legacy types the gguf
package's reference quantizers (gguf.quants.quantize) are checked against llama.cpp here too.

quant_inputs.bin records: "SQIN" u32 id, u64 nrows, u64 n_per_row, f32 src[nrows*n], f32 imatrix[n]
quant_llama.bin records:  "SQQB" u32 input id, u32 ggml type, u32 with_imatrix, u64 nbytes, bytes
Run: ~/.cache/squish/venv/bin/python tests/oracle/formats_quant_goldens.py
"""
from __future__ import annotations

import ctypes
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
TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K,
         T.IQ4_NL, T.IQ4_XS, T.TQ1_0, T.TQ2_0]
LEGACY = {T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0}


def load_ggml() -> ctypes.CDLL:
    import llama_cpp  # noqa: F401  (locates the bundled libraries)
    libdir = Path(llama_cpp.__file__).parent / "lib"
    lib = ctypes.CDLL(str(libdir / "libggml-base.so"))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.quantize_row_q8_K_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    return lib


def llama_quantize(lib, qtype: T, src: np.ndarray, imatrix: np.ndarray | None) -> bytes:
    nrows, n = src.shape
    bs, ts = GGML_QUANT_SIZES[qtype]
    out = np.zeros(nrows * (n // bs) * ts, dtype=np.uint8)
    src = np.ascontiguousarray(src, dtype=np.float32)
    imp = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32)
    if qtype == T.Q8_K:  # not in ggml_quantize_chunk; its reference quantizer is exported
        lib.quantize_row_q8_K_ref(src.ctypes.data, out.ctypes.data, nrows * n)
        blocks = out.reshape(-1, ts)
        zero = ~np.any(src.reshape(-1, bs), axis=1)
        blocks[zero, 260:] = 0  # ggml leaves bsums of all-zero blocks uninitialised
        return out.tobytes()
    lib.ggml_quantize_init(int(qtype))
    size = lib.ggml_quantize_chunk(int(qtype), src.ctypes.data, out.ctypes.data, 0, nrows, n,
                                   None if imp is None else imp.ctypes.data)
    assert size == out.size, (qtype, size, out.size)
    return out.tobytes()


def model_rows(path: Path, tensor: str, rows: int) -> np.ndarray:
    reader = gguf.GGUFReader(str(path))
    t = next(t for t in reader.tensors if t.name == tensor)
    data = np.asarray(t.data)
    qtype = T(int(t.tensor_type))
    step = max(1, data.shape[0] // rows)
    raw = data[::step][:rows]
    return np.asarray(gguf.quants.dequantize(raw, qtype), dtype=np.float32)


def edge_rows(rng: np.random.Generator) -> np.ndarray:
    """Blocks that stress the special cases: zeros, constants, spikes, tiny/huge values."""
    blocks = [
        np.zeros(256), np.full(256, 0.75), np.full(256, -0.3),
        np.where(np.arange(256) == 17, 5.0, 0.0), np.where(np.arange(256) == 200, -5.0, 1e-3),
        rng.standard_normal(256) * 1e-20, rng.standard_normal(256) * 1e4,
        -np.abs(rng.standard_normal(256)), np.abs(rng.standard_normal(256)) + 2.0,
        np.repeat(rng.standard_normal(8), 32), np.concatenate([np.zeros(128), rng.standard_normal(128)]),
        np.concatenate([rng.standard_normal(32), np.zeros(224)]),
    ]
    return np.concatenate(blocks).astype(np.float32).reshape(3, -1)


def inputs(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    x = rng.standard_normal((8, 512)).astype(np.float32)
    x *= rng.uniform(0.001, 3.0, size=(8, 1)).astype(np.float32)
    x[rng.random(x.shape) < 0.01] *= 15
    imp = rng.exponential(1.0, 512).astype(np.float32)
    imp[rng.integers(0, 512, 6)] = 0.0
    out.append((x, imp))
    for name, tensor, rows in [("SmolLM2-135M-Instruct.Q4_1.gguf", "blk.3.ffn_down.weight", 4),
                               ("gemma-3-270m-q4_k_m.gguf", "blk.5.ffn_down.weight", 3)]:
        path = MODELS / name
        if not path.exists():
            sys.exit(f"missing model {path}")
        rows_ = model_rows(path, tensor, rows)
        imp = np.exp(rng.standard_normal(rows_.shape[1]) * 1.5).astype(np.float32)
        out.append((rows_, imp))
    e = edge_rows(rng)
    out.append((e, rng.exponential(1.0, e.shape[1]).astype(np.float32)))
    # 13 legacy blocks per row: not a multiple of 256 (k-quants skip it) nor of 8 blocks.
    odd = (rng.standard_normal((3, 416)) * 0.1).astype(np.float32)
    out.append((odd, rng.exponential(1.0, 416).astype(np.float32)))
    return out


def main() -> None:
    lib = load_ggml()
    rng = np.random.default_rng(7)
    ins = inputs(rng)
    inputs_blob = b""
    llama_blob = b""
    for idx, (src, imp) in enumerate(ins):
        nrows, n = src.shape
        inputs_blob += (b"SQIN" + struct.pack("<IQQ", idx, nrows, n) + src.astype("<f4").tobytes()
                        + imp.astype("<f4").tobytes())
        for qtype in TYPES:
            if n % GGML_QUANT_SIZES[qtype][0]:
                continue
            for with_imp in (0, 1):
                got = llama_quantize(lib, qtype, src, imp if with_imp else None)
                if qtype in LEGACY and not with_imp:
                    ref = np.asarray(gguf.quants.quantize(src, qtype)).tobytes()
                    if ref != got:
                        print(f"note: gguf and llama.cpp differ for {qtype.name} input {idx}")
                llama_blob += (b"SQQB" + struct.pack("<IIIQ", idx, int(qtype), with_imp, len(got)) + got)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quant_inputs.bin").write_bytes(inputs_blob)
    (OUT / "quant_llama.bin").write_bytes(llama_blob)
    for f in ("quant_inputs.bin", "quant_llama.bin"):
        print(OUT / f, (OUT / f).stat().st_size)


if __name__ == "__main__":
    main()
