"""`squish quantize HF_DIR OUT.gguf`: HF SafeTensors directories convert to GGUF the way llama.cpp's
convert_hf_to_gguf.py does. Both default models go GGUF → `squish export --format unquantized
--dtype float32` → `squish quantize DIR` and come back as the same network: tensors equal to the
original dequantized to F32 (read by the `gguf` package), the same tokenizer metadata and token ids,
and llama.cpp's logits equal to those of the F32 original. gemma3's export carries its SentencePiece
vocabulary as tokenizer.json (byte-fallback BPE) and tokenizer.model; should a directory lack the
latter, the test rebuilds it from the GGUF's pieces, scores and types."""
from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from conftest import GEMMA3, GOLDENS, ROOT, SHARED, SMOLLM2, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))
from common import f32_gguf  # noqa: E402

MODELS = {"smollm2": SMOLLM2, "gemma3": GEMMA3}
TOKENIZER_KEYS = ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                  "tokenizer.ggml.merges", "tokenizer.ggml.scores", "tokenizer.ggml.bos_token_id",
                  "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                  "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token",
                  "tokenizer.ggml.pre", "tokenizer.chat_template"]


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _len_field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def write_sentencepiece(reader, path: Path) -> None:
    """A SentencePiece ModelProto with the GGUF's pieces, scores and types (add_dummy_prefix off)."""
    tokens = field(reader, "tokenizer.ggml.tokens")
    scores = field(reader, "tokenizer.ggml.scores")
    types = field(reader, "tokenizer.ggml.token_type")
    out = bytearray()
    for t, s, ty in zip(tokens, scores, types):
        piece = _len_field(1, t.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", s) + _varint(3 << 3) + _varint(ty)
        out += _len_field(1, piece)
    out += _len_field(3, _varint(3 << 3) + _varint(0))
    path.write_bytes(bytes(out))


def export_dir(model: Path, out: Path) -> Path:
    run_squish("export", model, out, "--format", "unquantized", "--dtype", "float32")
    if not (out / "tokenizer.json").exists():  # gemma3: SentencePiece
        r = gguf.GGUFReader(model)
        write_sentencepiece(r, out / "tokenizer.model")
        tokens = field(r, "tokenizer.ggml.tokens")
        cfg = {k: tokens[field(r, f"tokenizer.ggml.{g}_token_id")]
               for k, g in [("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unknown"),
                            ("pad_token", "padding")]}
        cfg.update(add_bos_token=bool(field(r, "tokenizer.ggml.add_bos_token")),
                   add_eos_token=bool(field(r, "tokenizer.ggml.add_eos_token")))
        (out / "tokenizer_config.json").write_text(json.dumps(cfg))
    return out


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def converted(request, tmp_path_factory):
    """(original model, its F32 copy, the HF export, the export converted back to F32 GGUF)."""
    model = MODELS[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    d = export_dir(model, tmp / "hf")
    out = tmp / "out.f32.gguf"
    run_squish("quantize", d, out, "--type", "F32")
    return model, f32_gguf(model), d, out


def test_tensors_equal_the_dequantized_original(converted):
    _, ref, _, out = converted
    a, b = gguf.GGUFReader(ref), gguf.GGUFReader(out)
    ours = {t.name: t for t in b.tensors}
    assert sorted(ours) == sorted(t.name for t in a.tensors)
    for t in a.tensors:
        o = ours[t.name]
        assert o.tensor_type == gguf.GGMLQuantizationType.F32, t.name
        assert list(o.shape) == list(t.shape), t.name
        x, y = np.asarray(t.data, np.float32), np.asarray(o.data, np.float32)
        if t.name.endswith("norm.weight") and field(a, "general.architecture") == "gemma3":
            # export stores w - 1 (gemma3's HF norm) in float32 and the converter adds 1 back:
            # exact unless |w| < 1 loses low bits in the round trip.
            np.testing.assert_allclose(y, x, rtol=0, atol=2e-7, err_msg=t.name)
        else:
            assert np.array_equal(x, y), t.name


def test_hyperparameters_read_back(converted):
    _, ref, _, out = converted
    a, b = gguf.GGUFReader(ref), gguf.GGUFReader(out)
    arch = field(a, "general.architecture")
    assert field(b, "general.architecture") == arch
    assert field(b, "general.file_type") == 0
    for k in ["context_length", "embedding_length", "block_count", "feed_forward_length",
              "attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
              "rope.freq_base", "attention.key_length", "attention.value_length",
              "attention.sliding_window", "rope.dimension_count", "vocab_size"]:
        if field(a, f"{arch}.{k}") is not None:
            assert field(b, f"{arch}.{k}") == pytest.approx(field(a, f"{arch}.{k}")), k


def test_tokenizer_metadata_equals_the_original(converted):
    model, _, _, out = converted
    a, b = gguf.GGUFReader(model), gguf.GGUFReader(out)
    for k in TOKENIZER_KEYS:
        va, vb = field(a, k), field(b, k)
        if va is None:
            continue
        if k == "tokenizer.ggml.scores":
            assert np.array_equal(np.asarray(va, np.float32), np.asarray(vb, np.float32)), k
        else:
            assert va == vb, k


def test_token_ids_identical_on_wikitext(converted, tmp_path):
    model, _, _, out = converted
    text = (SHARED / "wikitext-2-test.txt").read_text(encoding="utf-8")[:20000]
    f = tmp_path / "sample.txt"
    f.write_text(text, encoding="utf-8")
    ids = [run_squish("tokenize", m, "--file", f, "--ids-only").stdout for m in (model, out)]
    assert len(ids[0].split()) > 1000
    assert ids[0] == ids[1]


def test_llamacpp_logits_match_the_f32_original(converted):
    pytest.importorskip("llama_cpp")
    from perplexity_llamacpp import LlamaModel

    _, ref, _, out = converted
    prompt = "The capital of France is Paris. The capital of Germany is"
    logits = []
    for path in (ref, out):
        with LlamaModel(path, n_ctx=128, n_batch=128) as m:
            toks = m.tokenize(prompt)
            logits.append(m.decode(toks, 0, output_from=0))
    assert logits[0].shape == logits[1].shape
    assert np.array_equal(logits[0].argmax(-1), logits[1].argmax(-1))
    assert np.abs(logits[0] - logits[1]).max() < 1e-3


def test_q8_0_tensors_equal_quantizing_the_f32_original(converted, tmp_path):
    """Q8_0 from the HF directory writes the same tensor bytes as Q8_0 from the F32 original. The
    files differ only in metadata the converter writes differently (general.name and the original's
    extra general.* keys), as llama.cpp's own converter output would."""
    _, ref, d, _ = converted
    a_path, b_path = tmp_path / "ref.q8_0.gguf", tmp_path / "hf.q8_0.gguf"
    run_squish("quantize", ref, a_path, "--type", "Q8_0")
    run_squish("quantize", d, b_path, "--type", "Q8_0")
    a, b = gguf.GGUFReader(a_path), gguf.GGUFReader(b_path)
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    arch = field(a, "general.architecture")
    for t, o in zip(a.tensors, b.tensors):
        assert t.tensor_type == o.tensor_type, t.name
        if arch == "gemma3" and t.name.endswith("norm.weight"):
            continue  # F32 norms: see test_tensors_equal_the_dequantized_original
        assert bytes(t.data.tobytes()) == bytes(o.data.tobytes()), t.name


def _expect_one_line_error(d: Path, tmp_path: Path, needle: str) -> None:
    out = tmp_path / "out.gguf"
    p = run_squish("quantize", d, out, "--type", "F32", check=False)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"squish: error: {d}"), lines[0]
    assert needle in lines[0], lines[0]
    assert not out.exists()
    assert not list(tmp_path.glob("out.gguf*"))


def _tiny_copy(arch: str, tmp_path: Path) -> Path:
    d = tmp_path / "hf"
    shutil.copytree(GOLDENS / "safetensors" / "tiny" / arch / "hf", d)
    return d


def test_unsupported_architecture_is_a_one_line_error(tmp_path):
    d = _tiny_copy("llama", tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(model_type="mamba", architectures=["MambaForCausalLM"])
    (d / "config.json").write_text(json.dumps(cfg))
    _expect_one_line_error(d, tmp_path, "mamba")


def test_missing_tensor_is_a_one_line_error(tmp_path):
    d = _tiny_copy("qwen2", tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["num_hidden_layers"] += 1
    (d / "config.json").write_text(json.dumps(cfg))
    _expect_one_line_error(d, tmp_path, "missing tensor blk.2.")


def test_missing_tokenizer_is_a_one_line_error(tmp_path):
    d = _tiny_copy("gemma3", tmp_path)
    (d / "tokenizer.json").unlink()
    _expect_one_line_error(d, tmp_path, "missing tokenizer.json")


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
def test_tiny_checkpoints_convert_and_run(arch, tmp_path):
    d = GOLDENS / "safetensors" / "tiny" / arch / "hf"
    out = tmp_path / "out.gguf"
    run_squish("quantize", d, out, "--type", "F32")
    # random weights: the text may be any bytes
    gen = run_squish("generate", out, "--prompt", "the thin man", "--max-tokens", "4", errors="replace")
    assert gen.returncode == 0


QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def test_qwen2_pre_tokenizer_is_named_qwen2(tmp_path):
    """Qwen2's tokenizer.json (NFC normalizer, its Split regex before a regex-less ByteLevel)."""
    d = _tiny_copy("qwen2", tmp_path)
    tj = json.loads((d / "tokenizer.json").read_text())
    tj["normalizer"] = {"type": "NFC"}
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
    (d / "tokenizer.json").write_text(json.dumps(tj))
    out = tmp_path / "out.gguf"
    run_squish("quantize", d, out, "--type", "F32")
    r = gguf.GGUFReader(out)
    assert field(r, "tokenizer.ggml.model") == "gpt2"
    assert field(r, "tokenizer.ggml.pre") == "qwen2"


def test_quantized_checkpoint_converts_to_its_dequantized_weights(tmp_path):
    """A compressed-tensors W4A16 checkpoint converts to the weights squish runs it with."""
    d = tmp_path / "ct"
    run_squish("export", SMOLLM2, d, "--format", "compressed-tensors", "--bits", "4", "--group-size", "64")
    out = tmp_path / "ct.gguf"
    run_squish("quantize", d, out, "--type", "F32")
    text = SHARED / "wikitext-2-test.txt"
    ppl = [json.loads(run_squish("perplexity", m, "--file", text, "--ctx", "128", "--chunks", "2",
                                 "--json").stdout)["ppl"] for m in (d, out)]
    assert ppl[0] == ppl[1]
