"""SafeTensors through the CLI: files written at test time by the real `safetensors` package (single
and sharded, every dtype) are listed by `squish inspect` with the right dtypes, shapes and sizes;
bad files give one-line errors naming the file and a non-zero exit."""
import json
import shutil
import struct
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import ROOT, run_squish

sys.path.insert(0, str(ROOT / "tests" / "oracle"))
import hf_tiny_models  # noqa: E402

DTYPES = {
    "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "I8": np.int8, "U8": np.uint8, "I32": np.int32, "I64": np.int64,
}


def random_tensors(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for i, (name, dt) in enumerate(DTYPES.items()):
        shape = tuple(int(x) for x in rng.integers(1, 9, size=1 + i % 3))
        out[f"t{i}.{name.lower()}"] = (rng.standard_normal(shape) * 50).astype(dt)
    out["scalar"] = np.array(3.0, dtype=np.float32)
    return out


def inspect_json(path) -> dict:
    return json.loads(run_squish("inspect", path, "--json").stdout)


def check_listing(report: dict, tensors: dict) -> None:
    by_name = {t["name"]: t for t in report["tensors"]}
    assert set(by_name) == set(tensors)
    for name, a in tensors.items():
        t = by_name[name]
        assert t["type"] == [k for k, v in DTYPES.items() if np.dtype(v) == a.dtype][0]
        assert [int(x) for x in t["shape"]] == list(a.shape) or (a.ndim == 0 and t["shape"] == [])
        assert t["bytes"] == a.nbytes
    assert report["total_bytes"] == sum(a.nbytes for a in tensors.values())


def test_inspect_single_file(tmp_path, squish_bin):
    tensors = random_tensors(7)
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    r = inspect_json(tmp_path / "model.safetensors")
    check_listing(r, tensors)
    assert any(m["key"] == "safetensors.format" for m in r["metadata"])


def test_inspect_sharded_dir(tmp_path, squish_bin):
    tensors = random_tensors(8)
    names = list(tensors)
    weight_map = {}
    for s, part in enumerate((names[:4], names[4:])):
        fname = f"model-{s + 1:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, str(tmp_path / fname))
        weight_map.update({n: fname for n in part})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    r = inspect_json(tmp_path)
    check_listing(r, tensors)
    assert "2 shards" in r["format"]


def test_inspect_tiny_hf_dirs(tmp_path, squish_bin):
    for arch in ("llama", "qwen2", "gemma3"):
        out = hf_tiny_models.make_model(arch, tmp_path / arch)
        r = inspect_json(out / "hf")
        assert r["architecture"] in (arch, "gemma3_text")
        assert any(t["name"] == "model.layers.0.self_attn.q_proj.weight" for t in r["tensors"])


def one_line_error(path, needle: str) -> None:
    p = run_squish("inspect", path, check=False)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert str(path) in lines[0] and needle in lines[0], lines[0]
    assert "terminate" not in p.stderr and p.returncode < 128


def write_raw(path: Path, header: str, data: bytes = b"") -> Path:
    h = header.encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)
    return path


@pytest.mark.parametrize("case,needle", [
    ("truncated", "beyond the data section"),
    ("short", "truncated"),
    ("header_len", "exceeds the file"),
    ("bad_json", "not valid JSON"),
    ("offsets", "beyond the data section"),
    ("dtype_shape", "needs 12"),
    ("overlap", "overlaps"),
    ("missing_shard", "missing shard"),
])
def test_bad_input_one_line_errors(tmp_path, squish_bin, case, needle):
    good = tmp_path / "good.safetensors"
    save_file(random_tensors(9), str(good))
    data = good.read_bytes()
    bad = tmp_path / f"{case}.safetensors"
    if case == "truncated":
        bad.write_bytes(data[:-7])
    elif case == "short":
        bad.write_bytes(data[:3])
    elif case == "header_len":
        bad.write_bytes(struct.pack("<Q", 1 << 40) + data[8:])
    elif case == "bad_json":
        n = struct.unpack("<Q", data[:8])[0]
        header = data[8:8 + n]
        last = header.rstrip().rfind(b"}")  # same length, no longer JSON
        bad.write_bytes(data[:8] + header[:last] + b"," + header[last + 1:] + data[8 + n:])
    elif case == "offsets":
        write_raw(bad, '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', b"\0" * 8)
    elif case == "dtype_shape":
        write_raw(bad, '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}', b"\0" * 16)
    elif case == "overlap":
        write_raw(bad, '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},'
                       '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', b"\0" * 16)
    elif case == "missing_shard":
        d = tmp_path / "sharded"
        d.mkdir()
        shutil.copy(good, d / "model-00001-of-00002.safetensors")
        (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
            "t0.f32": "model-00001-of-00002.safetensors", "x": "model-00002-of-00002.safetensors"}}))
        bad = d
    one_line_error(bad, needle)
