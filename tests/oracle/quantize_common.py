"""Shared by the quantize oracle scripts and tests (no llama_cpp import here).

- TYPES: the mixes squish quantize produces, with llama.cpp's LLAMA_FTYPE numbers.
- tensor_digests(): per-tensor (type, short sha256 of the data) of a GGUF file, the golden form.
- synthetic_imatrix(): a deterministic importance matrix for a model, written in llama.cpp's GGUF
  imatrix format (or the legacy .dat format), so the oracle and the tests use identical input.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import gguf

TYPES = {
    "F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9,
    "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
    "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30,
    "TQ1_0": 36, "TQ2_0": 37,
}

# (model key, mix, imatrix format) quantized with the synthetic imatrix.
IMATRIX_CASES = [("smollm2", t, "gguf") for t in
                 ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                  "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"]]
IMATRIX_CASES += [("smollm2", "Q4_K_M", "dat")]
IMATRIX_CASES += [("gemma3", t, "gguf") for t in ["Q4_0", "Q3_K_M", "Q4_K_S", "Q6_K"]]


def tensor_digests(path: Path | str) -> dict[str, list[str]]:
    """{tensor name: [ggml type name, first 16 hex digits of sha256(data)]}."""
    r = gguf.GGUFReader(str(path))
    out = {}
    for t in r.tensors:
        h = hashlib.sha256(np.ascontiguousarray(t.data).view(np.uint8).tobytes()).hexdigest()[:16]
        out[t.name] = [t.tensor_type.name, h]
    return out


def _imatrix_rows(model: Path | str):
    """(name, columns, mean-of-squares values, count) for every block weight matrix."""
    r = gguf.GGUFReader(str(model))
    for t in r.tensors:
        shape = [int(x) for x in t.shape]
        while len(shape) > 1 and shape[-1] == 1:
            shape.pop()
        if not t.name.startswith("blk.") or not t.name.endswith(".weight") or len(shape) < 2:
            continue
        rng = np.random.default_rng(zlib.crc32(t.name.encode()))
        means = rng.uniform(0.05, 5.0, shape[0]).astype(np.float32)
        yield t.name, shape[0], means, 64


def synthetic_imatrix(model: Path | str, out: Path | str, fmt: str = "gguf") -> Path:
    """Writes the deterministic imatrix of `model` to `out` in llama.cpp's `fmt` (gguf or dat)."""
    out = Path(out)
    rows = list(_imatrix_rows(model))
    if fmt == "dat":
        with open(out, "wb") as f:
            f.write(struct.pack("<i", len(rows)))
            for name, n, means, count in sorted(rows):
                ncall = 1
                f.write(struct.pack("<i", len(name)) + name.encode())
                f.write(struct.pack("<ii", ncall, n))
                f.write((means * np.float32(ncall)).astype("<f4").tobytes())
            f.write(struct.pack("<i", 1))
            f.write(struct.pack("<i", 9) + b"synthetic")
        return out
    w = gguf.GGUFWriter(str(out), arch="imatrix")
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", ["synthetic"])
    w.add_uint32("imatrix.chunk_count", 1)
    w.add_uint32("imatrix.chunk_size", 64)
    for name, n, means, count in sorted(rows):
        w.add_tensor(name + ".in_sum2", (means * np.float32(count)).astype(np.float32).reshape(1, n))
        w.add_tensor(name + ".counts", np.array([[count]], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def imatrix_means(path: Path | str) -> dict[str, np.ndarray]:
    """Per-column importance as llama-quantize derives it (sums / count, float32) from a GGUF imatrix."""
    r = gguf.GGUFReader(str(path))
    t = {x.name: x for x in r.tensors}
    out = {}
    for n in sorted(t):
        if not n.endswith(".in_sum2"):
            continue
        base = n[: -len(".in_sum2")]
        s2 = np.asarray(t[n].data, dtype=np.float32).reshape(-1)
        c = np.asarray(t[base + ".counts"].data, dtype=np.float32).reshape(-1)
        per = s2.size // c.size
        v = np.ones_like(s2)
        for m in range(c.size):
            if c[m] > 0:
                v[m * per:(m + 1) * per] = s2[m * per:(m + 1) * per] / c[m]
        out[base] = np.ascontiguousarray(v, dtype=np.float32)
    return out


# --- A fast GGUF tensor-table reader (gguf.GGUFReader parses whole vocabularies into numpy
# objects, ~10 s for Gemma 3's; the tests only need scalars and tensor data). ---

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class FastGGUF:
    """Header scalars and tensors (name -> (type name, shape, raw uint8 data)) of a GGUF file."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        mv = memoryview(buf)
        pos = 0

        def take(fmt):
            nonlocal pos
            v = struct.unpack_from(fmt, mv, pos)[0]
            pos += struct.calcsize(fmt)
            return v

        def string():
            nonlocal pos
            n = take("<Q")
            s = bytes(mv[pos:pos + n]).decode("utf-8", "replace")
            pos += n
            return s

        def value(t):
            nonlocal pos
            if t in _SCALAR:
                return take(_SCALAR[t])
            if t == 8:
                return string()
            et, n = take("<I"), take("<Q")
            if et in _SCALAR:  # numeric arrays: skip in one step
                pos += n * struct.calcsize(_SCALAR[et])
                return None
            for _ in range(n):
                value(et)
            return None

        assert take("<I") == 0x46554747, "not a GGUF file"
        self.version = take("<I")
        n_tensors, n_kv = take("<Q"), take("<Q")
        self.kv = {}
        for _ in range(n_kv):
            key = string()
            self.kv[key] = value(take("<I"))
        align = int(self.kv.get("general.alignment") or 32)
        infos = []
        for _ in range(n_tensors):
            name = string()
            nd = take("<I")
            shape = [take("<Q") for _ in range(nd)]
            tt = gguf.GGMLQuantizationType(take("<I"))
            infos.append((name, tt, shape, take("<Q")))
        data0 = (pos + align - 1) // align * align
        self.tensors = {}
        for name, tt, shape, off in infos:
            bs, ts = gguf.GGML_QUANT_SIZES[tt]
            nbytes = int(np.prod(shape)) // bs * ts
            raw = buf[data0 + off: data0 + off + nbytes]
            self.tensors[name] = (tt, shape, raw)

    def dequantize(self, name: str) -> np.ndarray:
        """The tensor as float32 through the gguf package's numpy dequantizers."""
        from gguf.quants import dequantize
        tt, shape, raw = self.tensors[name]
        if tt == gguf.GGMLQuantizationType.F32:
            return np.asarray(raw).view(np.float32).copy()
        bs, ts = gguf.GGML_QUANT_SIZES[tt]
        rows = raw.reshape(-1, shape[0] // bs * ts)
        return dequantize(np.asarray(rows), tt).reshape(-1)


def fast_digests(path: Path | str) -> dict[str, list[str]]:
    """tensor_digests() through FastGGUF."""
    f = FastGGUF(path)
    return {n: [tt.name, hashlib.sha256(np.asarray(raw).tobytes()).hexdigest()[:16]]
            for n, (tt, shape, raw) in f.tensors.items()}
