"""The committed formats goldens still agree with the installed oracles (gguf, ml_dtypes, and
llama.cpp when importable), so a package upgrade that changes the contract is noticed."""
import struct

import numpy as np
import pytest

from conftest import GOLDENS

gguf = pytest.importorskip("gguf")
FORMATS = GOLDENS / "formats"


def records(path, magic):
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 4] == magic
        yield data, pos
        if magic == b"SQDQ":
            _, n, nbytes = struct.unpack_from("<IQQ", data, pos + 4)
            pos += 24 + nbytes + 4 * n


def test_dequant_goldens_match_gguf():
    from gguf import GGMLQuantizationType as T
    checked = 0
    for name in ("dequant_random.bin", "dequant_models.bin"):
        for data, pos in records(FORMATS / name, b"SQDQ"):
            qtype, n, nbytes = struct.unpack_from("<IQQ", data, pos + 4)
            raw = np.frombuffer(data, np.uint8, nbytes, pos + 24)
            want = np.frombuffer(data, "<f4", n, pos + 24 + nbytes)
            if T(qtype) == T.Q8_K:
                continue  # gguf has no Q8_K dequantizer; the golden is d * q
            got = np.asarray(gguf.quants.dequantize(raw.copy(), T(qtype)), np.float32).reshape(-1)
            assert got.tobytes() == want.tobytes(), T(qtype).name
            checked += 1
    assert checked > 30


def test_minifloat_goldens_match_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dts = {0: ml_dtypes.float8_e4m3fn, 1: ml_dtypes.float8_e5m2, 2: ml_dtypes.float4_e2m1fn}
    data = (FORMATS / "minifloat.bin").read_bytes()
    pos = 0
    seen = 0
    while pos < len(data):
        fid, ncodes = struct.unpack_from("<II", data, pos + 4)
        pos += 12 + 4 * ncodes
        (nvals,) = struct.unpack_from("<I", data, pos)
        vals = np.frombuffer(data, "<f4", nvals, pos + 4)
        enc = np.frombuffer(data, np.uint8, nvals, pos + 4 + 4 * nvals)
        got = vals.astype(dts[fid]).view(np.uint8) & np.uint8(ncodes - 1)
        assert np.array_equal(got, enc)
        pos += 4 + 5 * nvals
        seen += 1
    assert seen == 3
