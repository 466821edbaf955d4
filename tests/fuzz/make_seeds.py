#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into OUT/<target>/ (bench/fuzz.sh runs it into
build-fuzz/corpus): small files of every format built from the test fixtures (tests/goldens) and the
example recipes, so the fuzzers start from inputs squish accepts. Needs numpy and the gguf package
(the test venv). Usage: make_seeds.py OUT"""
import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import gguf

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "tests" / "goldens"
rng = np.random.default_rng(0)

# The block types squish dequantizes, with (elements, bytes) per block.
BLOCK_TYPES = {
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22),
    "Q5_1": (32, 24), "Q8_0": (32, 34), "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144),
    "Q5_K": (256, 176), "Q6_K": (256, 210), "IQ4_NL": (32, 18), "IQ4_XS": (256, 136),
    "TQ1_0": (256, 54), "TQ2_0": (256, 66),
}


def write_gguf(path: Path, arch: str, fields, tensors):
    """fields: (key, field) pairs from a GGUFReader to copy; tensors: (name, type, shape, bytes)."""
    w = gguf.GGUFWriter(str(path), arch)
    for key, f in fields:
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            vals = [f.contents(i) for i in range(len(f.data))]
            w.add_array(key, vals)
        elif vt == gguf.GGUFValueType.STRING:
            w.add_string(key, f.contents())
        else:
            w.add_key_value(key, f.contents(), vt)
    for name, tname, shape, raw in tensors:  # shape: rows first (numpy order)
        arr = np.frombuffer(raw, dtype=np.uint8).reshape(shape[0], -1)
        w.add_tensor(name, arr, raw_dtype=gguf.GGMLQuantizationType[tname])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_seeds(out: Path):
    d = out / "gguf"
    d.mkdir(parents=True, exist_ok=True)
    # One file per block type: two rows of one block each.
    for tname, (blk, nbytes) in BLOCK_TYPES.items():
        raw = rng.integers(0, 256, size=2 * nbytes, dtype=np.uint8).tobytes()
        if tname == "F32":
            raw = rng.standard_normal(2, dtype=np.float32).tobytes()
        elif tname in ("F16",):
            raw = rng.standard_normal(2).astype(np.float16).tobytes()
        write_gguf(d / f"type_{tname}.gguf", "llama", [], [("t.weight", tname, [2, blk], raw)])
    # The tiny test models' metadata (config, tokenizer) with their two smallest tensors.
    for model in ("tiny_llama", "tiny_qwen2", "tiny_gemma3"):
        r = gguf.GGUFReader(str(GOLDENS / "model" / f"{model}.gguf"))
        arch = r.fields["general.architecture"].contents()
        small = sorted(r.tensors, key=lambda t: t.n_bytes)[:2]
        tensors = [(t.name, t.tensor_type.name, [int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 1],
                    bytes(t.data.tobytes())) for t in small]
        write_gguf(d / f"{model}_meta.gguf", arch, list(r.fields.items()), tensors)
    # Seeds for the tokenizer target are raw text with a mode byte (see fuzz_tokenize.cpp).
    return d


def imatrix_seeds(out: Path):
    d = out / "imatrix"
    d.mkdir(parents=True, exist_ok=True)
    # Legacy .dat: n_entries, then (name, ncall, nval, values), chunk count, dataset name.
    names = ["blk.0.attn_q.weight", "blk.0.ffn_down.weight"]
    blob = struct.pack("<i", len(names))
    for n in names:
        vals = rng.random(64, dtype=np.float32)
        blob += struct.pack("<i", len(n)) + n.encode() + struct.pack("<ii", 3, len(vals)) + vals.tobytes()
    blob += struct.pack("<i", 10) + struct.pack("<i", 5) + b"calib"
    (d / "legacy.dat").write_bytes(blob)
    # GGUF imatrix: <name>.in_sum2 [cols, mats], <name>.counts [1, mats].
    w = gguf.GGUFWriter(str(d / "imatrix.gguf"), "llama")
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", ["calib.txt"])
    w.add_uint32("imatrix.chunk_count", 4)
    w.add_uint32("imatrix.chunk_size", 512)
    for n in names:
        w.add_tensor(n + ".in_sum2", rng.random((2, 32), dtype=np.float32))
        w.add_tensor(n + ".counts", np.array([[4.0], [6.0]], dtype=np.float32))
        w.add_tensor(n + ".in_sum", rng.standard_normal((2, 32), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def copy_seeds(out: Path, target: str, files):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        shutil.copy(f, d / f"{i:02d}_{Path(f).name}")


def text_seeds(out: Path, target: str, texts):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(texts):
        (d / f"{i:02d}.txt").write_bytes(t if isinstance(t, bytes) else t.encode())


def main():
    out = Path(sys.argv[1])
    gguf_seeds(out)
    imatrix_seeds(out)
    st = GOLDENS / "safetensors"
    tiny = sorted(st.glob("tiny/*/hf"))
    copy_seeds(out, "safetensors", [st / "dtypes/single/model.safetensors",
                                    *sorted(st.glob("dtypes/sharded/*.safetensors"))])
    copy_seeds(out, "safetensors_index", [st / "dtypes/sharded/model.safetensors.index.json"])
    copy_seeds(out, "hf_config", [p / n for p in tiny for n in ("config.json", "generation_config.json")])
    copy_seeds(out, "tokenizer_json", [p / "tokenizer.json" for p in tiny])
    copy_seeds(out, "recipe", sorted((ROOT / "docs" / "recipes").glob("*.yaml")))
    samples = ["Hello world!", " leading space and  double", "<|im_start|>user\nhi<|im_end|>",
               "<start_of_turn>user\nhi<end_of_turn>", "numbers 1234567 3.14", "caf\u00e9 \u65e5\u672c\u8a9e \U0001F600",
               "tabs\tand\nnewlines\r\n", "don't we'll I'M"]
    text_seeds(out, "tokenize", [bytes([m]) + s.encode() for m in (0, 1, 2, 3, 4, 0xC2) for s in samples])
    chat = [
        b"\x80{% for m in messages %}<|im_start|>{{m.role}}\n{{m.content}}<|im_end|>\n{% endfor %}\0user\0Hi\0assistant\0Hello",
        b"\x81{{ bos_token }}<start_of_turn>user\0system\0Be brief.\0user\0Hi",
        b"\x01\0system\0s\0user\0u\0assistant\0a",
        b"\x00You are a helpful AI assistant named SmolLM<|im_start|>\0user\0x",
    ]
    text_seeds(out, "chat_template", chat)
    serve = [json.dumps(x) for x in (
        {"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "Hi"}],
         "temperature": 0.5, "top_p": 0.9, "max_tokens": 16, "stop": ["\n", "END"], "stream": True,
         "stream_options": {"include_usage": True}, "seed": 42},
        {"model": "m", "prompt": "Once upon", "max_tokens": 8, "n": 1, "stop": "x"},
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}],
         "options": {"temperature": 0.1, "num_predict": -1, "top_k": 40, "stop": ["a"]}},
        {"name": "m", "prompt": "p", "system": "s", "raw": False, "stream": False},
    )]
    text_seeds(out, "serve_request", serve)


if __name__ == "__main__":
    main()
