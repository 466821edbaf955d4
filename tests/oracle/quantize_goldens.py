"""Regenerates tests/goldens/quantize/llamacpp_digests.json.gz: for SmolLM2 and Gemma 3, every mix
squish quantize supports, quantized by llama.cpp itself (llama_model_quantize through
llama-cpp-python's ctypes bindings, allow_requantize, 2 threads), recorded as per-tensor type and
sha256 prefix; plus the IMATRIX_CASES with the synthetic imatrix of quantize_common.py.

Usage: ~/.cache/squish/venv/bin/python tests/oracle/quantize_goldens.py [MIX ...]
With mix names, only those mixes' entries are (re)computed and merged into the existing file.
"""
from __future__ import annotations

import ctypes
import gzip
import json
import sys
import tempfile
from pathlib import Path

import llama_cpp as L

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from quantize_common import IMATRIX_CASES, TYPES, imatrix_means, synthetic_imatrix, tensor_digests  # noqa: E402

MODELS_DIR = Path.home() / ".cache" / "squish" / "models"
MODELS = {"smollm2": MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf",
          "gemma3": MODELS_DIR / "gemma-3-270m-q4_k_m.gguf"}
OUT = HERE.parent / "goldens" / "quantize" / "llamacpp_digests.json.gz"


def llama_quantize(inp: Path, out: Path, ftype: int, imatrix: dict | None = None, threads: int = 2) -> None:
    """llama.cpp's own quantizer (the C API behind llama-quantize)."""
    p = L.llama_model_quantize_default_params()
    p.ftype = ftype
    p.allow_requantize = True
    p.nthread = threads
    keep = []
    if imatrix:
        arr = (L.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, v) in enumerate(sorted(imatrix.items())):
            nm = name.encode()
            keep += [nm, v]
            arr[i].name = nm
            arr[i].data = v.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = v.size
        arr[len(imatrix)].name = None
        keep.append(arr)
        p.imatrix = ctypes.cast(arr, ctypes.POINTER(L.llama_model_imatrix_data))
    rc = L.llama_model_quantize(str(inp).encode(), str(out).encode(), ctypes.byref(p))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed for {inp} ftype {ftype}")


def main() -> None:
    only = set(sys.argv[1:])
    goldens = {"llama_cpp_python": L.__version__, "plain": {}, "imatrix": {}}
    if only:
        with gzip.open(OUT, "rt") as f:
            goldens = json.load(f)
        goldens["llama_cpp_python_" + "_".join(sorted(only))] = L.__version__
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for key, model in MODELS.items():
            for name, ftype in TYPES.items():
                if only and name not in only:
                    continue
                out = tmp / f"{key}-{name}.gguf"
                llama_quantize(model, out, ftype)
                goldens["plain"][f"{key}/{name}"] = tensor_digests(out)
                out.unlink()
                print(key, name, flush=True)
            im = synthetic_imatrix(model, tmp / f"{key}.imatrix.gguf")
            means = imatrix_means(im)
            for mkey, name, fmt in IMATRIX_CASES:
                if mkey != key or (only and name not in only):
                    continue
                out = tmp / f"{key}-{name}-imatrix.gguf"
                llama_quantize(model, out, TYPES[name], means)
                goldens["imatrix"][f"{key}/{name}/{fmt}"] = tensor_digests(out)
                out.unlink()
                print(key, name, "imatrix", fmt, flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt") as f:
        json.dump(goldens, f, separators=(",", ":"), sort_keys=True)
    print("wrote", OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
