"""Shared oracle helpers: F32 reference copies of GGUF models and llama.cpp (llama-cpp-python) runners.

The reference network of a quantized GGUF is its weights dequantized to F32. `f32_gguf` writes that
copy once (cached under ~/.cache/squish/oracle/) with the gguf package's own dequantizers, keeping all
metadata (tokenizer included), so llama.cpp runs exactly the network squish computes.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("SQUISH_MODELS", Path.home() / ".cache" / "squish" / "models"))
SMOLLM2 = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3 = MODELS / "gemma-3-270m-q4_k_m.gguf"
ORACLE_CACHE = Path(os.environ.get("SQUISH_ORACLE_CACHE", Path.home() / ".cache" / "squish" / "oracle"))
GOLDENS = ROOT / "tests" / "goldens"


def copy_metadata(reader, writer, skip=()) -> None:
    """Copies every metadata key of a GGUFReader into a GGUFWriter (except GGUF.* and `skip`)."""
    import gguf

    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture" or key in skip:
            continue
        vtype = field.types[0]
        value = field.contents()
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            writer.add_key_value(key, value, vtype, sub_type=sub)
        else:
            writer.add_key_value(key, value, vtype)


def f32_gguf(model_path: str | Path) -> Path:
    """Path of an all-F32 copy of `model_path` (written once, then reused from the cache)."""
    import gguf

    model_path = Path(model_path)
    ORACLE_CACHE.mkdir(parents=True, exist_ok=True)
    out = ORACLE_CACHE / (model_path.stem + ".f32.gguf")
    if out.exists() and out.stat().st_mtime >= model_path.stat().st_mtime:
        return out
    reader = gguf.GGUFReader(model_path)
    arch = reader.fields["general.architecture"].contents()
    tmp = out.with_suffix(".tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    copy_metadata(reader, writer, skip=("general.file_type",))
    writer.add_file_type(int(gguf.LlamaFileType.ALL_F32))
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = [int(x) for x in reversed(t.shape)]  # numpy order
        writer.add_tensor(t.name, np.ascontiguousarray(data.reshape(shape)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def llama(model: Path, n_ctx: int = 512, n_threads: int = 2, logits_all: bool = True):
    """A llama_cpp.Llama on `model` with an F32 KV cache, no flash attention, no GPU."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(model), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=n_threads,
        n_threads_batch=n_threads, logits_all=logits_all, verbose=False, n_gpu_layers=0,
        type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, flash_attn=False,
        seed=0)


def pack_logits(logits: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Fixed-point form of a logits row: (offset, step, uint16 codes); error <= step / 2."""
    logits = np.asarray(logits, dtype=np.float64)
    lo, hi = float(logits.min()), float(logits.max())
    step = max(hi - lo, 1e-6) / 65535.0
    codes = np.rint((logits - lo) / step).astype(np.uint16)
    return lo, step, codes
