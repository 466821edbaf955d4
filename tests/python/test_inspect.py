"""`squish inspect`: every tensor's type, shape and byte size and every metadata key agree with the gguf
package's reader; totals and bits per weight follow from them; SafeTensors files and HF directories
are listed too."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from conftest import run_squish

gguf = pytest.importorskip("gguf")


def inspect_json(path) -> dict:
    return json.loads(run_squish("inspect", path, "--json").stdout)


_READERS: dict = {}


def reader(path):
    """The gguf package's reader of a model (parsed once per session: big vocabularies are slow)."""
    if path not in _READERS:
        _READERS[path] = gguf.GGUFReader(path)
    return _READERS[path]


def test_gguf_matches_the_gguf_package(model_path):
    if not model_path.exists():
        pytest.skip(f"{model_path} not fetched")
    r = inspect_json(model_path)
    ref = reader(model_path)
    assert r["format"] == "GGUF v3"
    assert r["architecture"] == ref.fields["general.architecture"].contents()
    keys = [k for k in ref.fields if not k.startswith("GGUF.")]
    assert [m["key"] for m in r["metadata"]] == keys
    assert len(r["tensors"]) == len(ref.tensors) == r["n_tensors"]
    for mine, t in zip(r["tensors"], ref.tensors):
        assert mine["name"] == t.name
        assert mine["type"] == t.tensor_type.name
        assert mine["shape"] == [int(x) for x in t.shape]
        assert mine["bytes"] == int(t.n_bytes)
        assert mine["n_elements"] == int(t.n_elements)
        assert mine["bits_per_weight"] == pytest.approx(8 * t.n_bytes / t.n_elements)
    assert r["total_bytes"] == sum(int(t.n_bytes) for t in ref.tensors)
    assert r["total_elements"] == sum(int(t.n_elements) for t in ref.tensors)
    assert r["bits_per_weight"] == pytest.approx(8 * r["total_bytes"] / r["total_elements"])
    assert sum(b["bytes"] for b in r["by_type"]) == r["total_bytes"]
    assert r["file_bytes"] == model_path.stat().st_size


def test_arrays_are_summarised(model_path):
    if not model_path.exists():
        pytest.skip(f"{model_path} not fetched")
    r = inspect_json(model_path)
    tokens = next(m for m in r["metadata"] if m["key"] == "tokenizer.ggml.tokens")
    ref = reader(model_path).fields["tokenizer.ggml.tokens"]
    assert tokens["type"] == "array[string]"
    assert tokens["value"]["length"] == len(ref.data)
    assert len(tokens["value"]["head"]) == 8
    assert tokens["value"]["head"][1] == ref.contents(1)


def test_text_listing(model_path):
    if not model_path.exists():
        pytest.skip(f"{model_path} not fetched")
    out = run_squish("inspect", model_path).stdout
    r = inspect_json(model_path)
    assert f"architecture:  {r['architecture']}" in out
    assert "token_embd.weight" in out
    assert f"{r['bits_per_weight']:.3f} bits per weight" in out
    # long arrays are shortened, so the listing stays small
    assert len(out.splitlines()) < len(r["metadata"]) + len(r["tensors"]) + 40
    assert max(len(line) for line in out.splitlines()) < 400


def _write_safetensors(path, tensors: dict, metadata=None):
    header, blobs, off = {}, [], 0
    names = {np.float32: "F32", np.float16: "F16", np.int8: "I8"}
    for name, a in tensors.items():
        b = a.tobytes()
        header[name] = {"dtype": names[a.dtype.type], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_safetensors_file_and_hf_directory(tmp_path):
    d = tmp_path / "hf"
    d.mkdir()
    _write_safetensors(d / "model.safetensors", {
        "model.embed_tokens.weight": np.zeros((10, 4), np.float16),
        "model.norm.weight": np.ones(4, np.float32),
        "lm_head.weight": np.zeros((10, 4), np.int8),
    }, {"format": "pt"})
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                                               "hidden_size": 4}))
    r = inspect_json(d)
    assert r["format"] == "SafeTensors"
    assert r["architecture"] == "llama"
    by_name = {t["name"]: t for t in r["tensors"]}
    assert by_name["model.embed_tokens.weight"]["type"] == "F16"
    assert by_name["model.embed_tokens.weight"]["shape"] == [10, 4]
    assert by_name["model.embed_tokens.weight"]["bits_per_weight"] == 16
    assert by_name["lm_head.weight"]["bytes"] == 40
    assert r["total_bytes"] == 80 + 16 + 40
    assert r["total_elements"] == 84
    keys = {m["key"]: m["value"] for m in r["metadata"]}
    assert keys["config.hidden_size"] == 4 and keys["safetensors.format"] == "pt"
    single = inspect_json(d / "model.safetensors")
    assert single["tensors"] == r["tensors"]


def test_bad_safetensors_is_a_one_line_error(tmp_path):
    f = tmp_path / "bad.safetensors"
    f.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    p = run_squish("inspect", f, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith(f"squish: error: {f}") and p.stderr.strip().count("\n") == 0


def test_missing_path_is_a_one_line_error(tmp_path):
    p = run_squish("inspect", tmp_path / "nope.gguf", check=False)
    assert p.returncode == 1 and "nope.gguf: no such file" in p.stderr
