#!/usr/bin/env python3
"""Regenerates tests/goldens/formats/minifloat.bin from ml_dtypes (the oracle for squish's FP8
E4M3 / E5M2 and FP4 E2M1 conversions).

Record per format: "SQMF" u32 format (0 E4M3, 1 E5M2, 2 E2M1), u32 ncodes, f32 decoded[ncodes],
u32 nvalues, f32 values[nvalues], u8 encoded[nvalues].
Values are random magnitudes across the format's range plus every midpoint between adjacent
representable values (the round-to-nearest-even ties) and their float neighbours; all lie within
the range where ml_dtypes' (non-saturating) conversion agrees with OCP saturation.
Run: ~/.cache/squish/venv/bin/python tests/oracle/formats_minifloat_goldens.py   (ml_dtypes==0.6.0)
"""
import struct
from pathlib import Path

import ml_dtypes
import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "goldens" / "formats" / "minifloat.bin"
FORMATS = [(0, ml_dtypes.float8_e4m3fn, 256, 448.0), (1, ml_dtypes.float8_e5m2, 256, 57344.0),
           (2, ml_dtypes.float4_e2m1fn, 16, 6.0)]


def main() -> None:
    rng = np.random.default_rng(5)
    blob = b""
    for fid, dt, ncodes, maxv in FORMATS:
        codes = np.arange(ncodes, dtype=np.uint8)
        decoded = codes.view(dt).astype(np.float32) if ncodes == 256 else \
            np.array([float(np.uint8(c).view(dt)) for c in codes], dtype=np.float32)
        finite = np.unique(np.abs(decoded[np.isfinite(decoded)]))
        mids = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)
        near = np.concatenate([mids, np.nextafter(mids, np.float32(0)), np.nextafter(mids, np.float32(np.inf))])
        rand = np.exp(rng.uniform(np.log(finite[1] / 8), np.log(maxv), 3000)).astype(np.float32)
        vals = np.concatenate([finite, near, rand, [0.0, maxv]]).astype(np.float32)
        vals = vals[vals <= maxv]
        vals = np.concatenate([vals, -vals])
        enc = vals.astype(dt).view(np.uint8) & np.uint8(ncodes - 1)
        blob += (b"SQMF" + struct.pack("<II", fid, ncodes) + decoded.astype("<f4").tobytes()
                 + struct.pack("<I", vals.size) + vals.astype("<f4").tobytes() + enc.tobytes())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(blob)
    print(OUT, OUT.stat().st_size, "ml_dtypes", ml_dtypes.__version__)


if __name__ == "__main__":
    main()
