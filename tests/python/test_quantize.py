"""`squish quantize` against its oracles:

- llama.cpp's own quantizer (llama_model_quantize, recorded by tests/oracle/quantize_goldens.py as
  per-tensor type + sha256 prefix): squish's output has the same tensor types and the same bytes,
  for every mix on SmolLM2 and Gemma 3, and with an importance matrix (GGUF and legacy .dat);
- the gguf package: every output reads with GGUFReader, its numpy dequantizers give bit-for-bit
  squish's dequantization, and for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 gguf.quants.quantize gives squish's bytes;
- metadata of every GGUF value type (nested arrays too) and general.alignment survive the writer.

gguf.GGUFReader takes ~2 s on SmolLM2's and ~11 s on Gemma 3's vocabulary, so most checks read tensor
tables with quantize_common.FastGGUF; GGUFReader itself reads every SmolLM2 output and the Gemma 3
Q4_K_M one (SQUISH_FULL_TESTS=1: every output, ~3 extra minutes).
"""
from __future__ import annotations

import os

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf.quants import quantize  # noqa: E402

from conftest import GEMMA3, GOLDENS, ROOT, SMOLLM2, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))
from quantize_common import IMATRIX_CASES, TYPES, FastGGUF, fast_digests, synthetic_imatrix  # noqa: E402

MODELS = {"smollm2": SMOLLM2, "gemma3": GEMMA3}


@pytest.fixture(scope="module")
def goldens() -> dict:
    with gzip.open(GOLDENS / "quantize" / "llamacpp_digests.json.gz", "rt") as f:
        return json.load(f)


def _assert_same_as_llamacpp(out: Path, want: dict[str, list[str]]) -> None:
    got = fast_digests(out)
    assert sorted(got) == sorted(want), "tensor names differ from llama.cpp's output"
    wrong_type = {n: (got[n][0], want[n][0]) for n in want if got[n][0] != want[n][0]}
    assert not wrong_type, f"tensor types differ from llama.cpp's (squish, llama.cpp): {wrong_type}"
    wrong_bytes = [n for n in want if got[n][1] != want[n][1]]
    assert not wrong_bytes, f"{len(wrong_bytes)} tensors differ from llama.cpp's bytes: {wrong_bytes[:5]}"


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("mix", list(TYPES))
def test_bytes_equal_llamacpp_quantizer(tmp_path, goldens, model, mix):
    out = tmp_path / f"{model}-{mix}.gguf"
    p = run_squish("quantize", MODELS[model], out, "--type", mix, "--threads", "2")
    assert "bits per weight" in p.stdout
    _assert_same_as_llamacpp(out, goldens["plain"][f"{model}/{mix}"])
    f = FastGGUF(out)
    assert f.kv["general.file_type"] == TYPES[mix]
    assert f.kv["general.quantization_version"] == 2
    if model == "smollm2" or mix == "Q4_K_M" or os.environ.get("SQUISH_FULL_TESTS"):
        r = gguf.GGUFReader(str(out))  # reads with the gguf package
        assert len(r.tensors) == len(f.tensors)
        assert int(r.fields["general.file_type"].contents()) == TYPES[mix]


@pytest.mark.parametrize("model", list(MODELS))
def test_metadata_and_tokenizer_carried_over(tmp_path, model):
    out = tmp_path / "o.gguf"
    run_squish("quantize", MODELS[model], out, "--type", "Q4_K_M")
    src, r = gguf.GGUFReader(str(MODELS[model])), gguf.GGUFReader(str(out))
    for key, field in src.fields.items():
        if key.startswith("GGUF.") or key in ("general.file_type", "general.quantization_version"):
            continue
        assert key in r.fields, key
        assert r.fields[key].types == field.types, key
        assert r.fields[key].contents() == field.contents(), key


@pytest.mark.parametrize("model,mix,fmt", IMATRIX_CASES)
def test_imatrix_bytes_equal_llamacpp(tmp_path, goldens, model, mix, fmt):
    im = synthetic_imatrix(MODELS[model], tmp_path / f"im.{fmt}", fmt)
    out = tmp_path / "out.gguf"
    p = run_squish("quantize", MODELS[model], out, "--type", mix, "--imatrix", im)
    assert "importance matrix" in p.stdout
    _assert_same_as_llamacpp(out, goldens["imatrix"][f"{model}/{mix}/{fmt}"])


def test_imatrix_changes_the_result(tmp_path, goldens):
    # Guards the test above against an imatrix that is silently ignored.
    plain, weighted = goldens["plain"]["smollm2/Q4_K_M"], goldens["imatrix"]["smollm2/Q4_K_M/gguf"]
    assert sum(plain[n][1] != weighted[n][1] for n in plain) > 100


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize("mix", list(TYPES))
def test_gguf_dequantizers_match_squish_bit_for_bit(tmp_path, mix):
    out = tmp_path / "q.gguf"
    run_squish("quantize", SMOLLM2, out, "--type", mix)
    # squish's dequantization of every tensor: converting the file to F32 dequantizes each one.
    f32 = tmp_path / "f32.gguf"
    run_squish("quantize", out, f32, "--type", "F32")
    q, ref = FastGGUF(out), FastGGUF(f32)
    seen: dict[str, int] = {}
    for name, (tt, shape, raw) in sorted(q.tensors.items(), key=lambda kv: kv[1][2].size):
        if seen.get(tt.name, 0) >= 3:  # the three smallest tensors of each type
            continue
        seen[tt.name] = seen.get(tt.name, 0) + 1
        ours = np.asarray(ref.tensors[name][2]).view(np.float32)
        theirs = q.dequantize(name)
        assert np.array_equal(_bits(ours), _bits(theirs)), f"{name} ({tt.name}) differs"
    assert seen


@pytest.fixture(scope="module")
def smol_f32(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("f32") / "smol-f32.gguf"
    run_squish("quantize", SMOLLM2, path, "--type", "F32")
    return path


@pytest.mark.parametrize("mix", ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"])
def test_legacy_bytes_equal_gguf_reference_quantizers(tmp_path, smol_f32, mix):
    out = tmp_path / "q.gguf"
    run_squish("quantize", smol_f32, out, "--type", mix, "--pure")
    qtype = gguf.GGMLQuantizationType[mix]
    src, q = FastGGUF(smol_f32), FastGGUF(out)
    n = 0
    for name, (tt, shape, raw) in q.tensors.items():
        if tt != qtype:
            continue
        if not name.startswith(("token_embd", "blk.0.", "blk.17.", "blk.29.")):
            continue  # token_embd and three whole blocks (gguf's numpy quantizers are slow)
        x = np.asarray(src.tensors[name][2]).view(np.float32).reshape(-1, shape[0])
        want = quantize(x, qtype)
        assert np.asarray(raw).tobytes() == want.tobytes(), name
        n += 1
    assert n >= 22


def test_every_metadata_type_and_alignment_survive(tmp_path):
    src = tmp_path / "in.gguf"
    w = gguf.GGUFWriter(str(src), arch="llama")
    w.add_uint32("llama.block_count", 1)
    w.add_uint32("general.alignment", 64)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float32("t.f32", 0.1)
    w.add_float64("t.f64", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo\nwörld")
    w.add_array("t.arr_str", ["a", "", "ccc"])
    w.add_array("t.arr_f32", [1.5, -2.0])
    w.add_array("t.nested", [[1, 2], [3], [4, 5, 6]])  # the gguf writer rejects empty arrays
    rng = np.random.default_rng(0)
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((8, 64)).astype(np.float32))
    w.add_tensor("blk.0.attn_norm.weight", rng.standard_normal(64).astype(np.float32))
    w.add_tensor("blk.0.ffn_up.weight", rng.standard_normal((3, 96)).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    out = tmp_path / "out.gguf"
    run_squish("quantize", src, out, "--type", "F16")
    a, b = gguf.GGUFReader(str(src)), gguf.GGUFReader(str(out))
    assert b.alignment == 64
    assert all(t.data_offset % 64 == 0 for t in b.tensors)
    for key, field in a.fields.items():
        if key.startswith("GGUF."):
            continue
        assert b.fields[key].types == field.types, key
        assert b.fields[key].contents() == field.contents(), key
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    assert tb["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32  # 1-D kept
    assert tb["blk.0.attn_q.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    np.testing.assert_array_equal(np.asarray(tb["blk.0.attn_q.weight"].data),
                                  np.asarray(ta["blk.0.attn_q.weight"].data).astype(np.float16))
    np.testing.assert_array_equal(np.asarray(tb["blk.0.ffn_up.weight"].data),
                                  np.asarray(ta["blk.0.ffn_up.weight"].data))
