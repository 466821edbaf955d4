"""squish tokenize: CLI behaviour, a Unicode sweep against llama.cpp, and HF tokenizer.json loading.

Goldens come from tests/oracle/tokenizer_goldens.py (llama.cpp via llama-cpp-python); the HF
tokenizer.json is built from SmolLM2's GGUF by tests/oracle/tokenizer_hf_json.py, and HF's
`tokenizers` package is used as a second oracle on it when it is installed.
"""
import gzip
import hashlib
import json
import struct
import sys
from pathlib import Path

import pytest

from conftest import GEMMA3, GOLDENS, ROOT, SHARED, SMOLLM2, run_squish

sys.path.insert(0, str(ROOT / "tests" / "oracle"))

GOLD = GOLDENS / "tokenizer"
MODELS = {"smollm2": SMOLLM2, "gemma3": GEMMA3}


@pytest.fixture(scope="module")
def cases():
    return json.loads((GOLD / "cases.json").read_text())


def wikitext_golden(name):
    data = gzip.decompress((GOLD / f"wikitext_{name}.u32.gz").read_bytes())
    return list(struct.unpack(f"<{len(data) // 4}I", data))


def ids_of(model, text_bytes, tmp_path, *flags):
    f = tmp_path / "input.txt"
    f.write_bytes(text_bytes)
    out = run_squish("tokenize", model, "--file", f, "--ids-only", *flags).stdout
    return [int(x) for x in out.split()]


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_cli_matches_llamacpp_on_tricky_strings(name, cases, tmp_path):
    results = cases["models"][name]["results"]
    picked = [i for i, c in enumerate(cases["cases"]) if any(
        k in c["text"] for k in ("<|im_start|>", "<start_of_turn>", "👨", "Привет", "  leading", "1234567890"))]
    assert len(picked) >= 5
    for i in picked:
        text = bytes.fromhex(cases["cases"][i]["hex"])
        assert ids_of(MODELS[name], text, tmp_path) == results[i]["ids_10"], cases["cases"][i]["text"]
        assert ids_of(MODELS[name], text, tmp_path, "--no-special", "--parse-special") == results[i]["ids_01"]


def test_cli_json_and_listing():
    j = json.loads(run_squish("tokenize", SMOLLM2, "--text", "Hello world", "--json").stdout)
    assert j == {"n_tokens": 2, "ids": [19556, 905], "pieces": ["Hello", " world"]}
    listing = run_squish("tokenize", GEMMA3, "--text", "a\tb").stdout.splitlines()
    assert listing[0].startswith("2\t")  # BOS first (Gemma adds it)
    assert listing[-1] == f"# {len(listing) - 1} tokens"
    assert any("\\t" in line for line in listing)


def test_cli_errors(tmp_path):
    p = run_squish("tokenize", tmp_path / "missing.gguf", "--text", "x", check=False)
    assert p.returncode == 1 and "missing.gguf" in p.stderr and "no such file" in p.stderr
    p = run_squish("tokenize", SMOLLM2, check=False)
    assert p.returncode != 0 and "--text or --file" in p.stderr
    p = run_squish("tokenize", SMOLLM2, "--file", tmp_path / "nope.txt", check=False)
    assert p.returncode == 1 and "nope.txt: cannot open" in p.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 32)
    p = run_squish("tokenize", bad, "--text", "x", check=False)
    assert p.returncode == 1 and "bad.gguf" in p.stderr and len(p.stderr.splitlines()) == 1
    notok = tmp_path / "tokenizer.json"
    notok.write_text('{"model": {"type": "Unigram", "vocab": []}}')
    p = run_squish("tokenize", notok, "--text", "x", check=False)
    assert p.returncode == 1 and "Unigram" in p.stderr


def test_unicode_sweep_smollm2(tmp_path):
    """Every code point below U+40000 in three contexts, block by block (~15 s)."""
    sweep = json.loads((GOLD / "sweep.json").read_text())
    block, end = sweep["block"], sweep["end"]
    bad = []
    for k, lo in enumerate(range(0, end, block)):
        text = "".join(sweep["context"].format(c=chr(cp)) for cp in range(lo, lo + block)
                       if not 0xD800 <= cp <= 0xDFFF)
        ids = ids_of(SMOLLM2, text.encode("utf-8"), tmp_path, "--no-special")
        if hashlib.sha256(struct.pack(f"<{len(ids)}I", *ids)).hexdigest() != sweep["sha256_u32le"][k]:
            bad.append(f"U+{lo:04X}..U+{lo + block - 1:04X}")
    assert not bad, f"token ids differ from llama.cpp in blocks {bad}"


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    from tokenizer_hf_json import build_tokenizer_json
    return build_tokenizer_json(SMOLLM2, tmp_path_factory.mktemp("hf_smollm2"))


def test_hf_json_wikitext_equals_llamacpp(hf_dir, tmp_path):
    ids = ids_of(hf_dir, (SHARED / "wikitext-2-test.txt").read_bytes(), tmp_path)
    want = wikitext_golden("smollm2")
    first = next((i for i, (a, b) in enumerate(zip(ids, want)) if a != b), min(len(ids), len(want)))
    assert ids == want, f"first mismatch at {first}: {ids[first - 3:first + 3]} vs {want[first - 3:first + 3]}"


def test_hf_json_equals_hf_tokenizers(hf_dir, cases, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    texts = []
    for c in cases["cases"]:
        raw = bytes.fromhex(c["hex"])
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    # One squish call over all texts joined by a separator HF and squish both keep as its own word.
    sep = "\n\u2063\n"
    joined = sep.join(texts)
    want = hf.encode(joined, add_special_tokens=False).ids
    assert ids_of(hf_dir, joined.encode("utf-8"), tmp_path, "--no-special", "--parse-special") == want
    # Decoding gives the text back (HF's ByteLevel decoder).
    assert hf.decode(want, skip_special_tokens=False) == joined


@pytest.mark.parametrize("regex_name", ["LLAMA3_REGEX", "QWEN2_REGEX"])
def test_hf_json_split_regex_equals_hf_tokenizers(hf_dir, cases, regex_name, tmp_path):
    """The Llama 3 / Qwen2 pre-tokenizers (hand-written matchers) against HF's regex engine."""
    tokenizers = pytest.importorskip("tokenizers")
    import tokenizer_hf_json
    doc = json.loads((hf_dir / "tokenizer.json").read_text())
    doc["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": getattr(tokenizer_hf_json, regex_name)},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    d = tmp_path / "tok"
    d.mkdir()
    (d / "tokenizer.json").write_text(json.dumps(doc, ensure_ascii=False))
    (d / "tokenizer_config.json").write_text((hf_dir / "tokenizer_config.json").read_text())
    hf = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    texts = [bytes.fromhex(c["hex"]).decode("utf-8", "replace") for c in cases["cases"]]
    texts.append((SHARED / "wikitext-2-test.txt").read_text(encoding="utf-8")[:200000])
    joined = "\n\u2063\n".join(texts)
    want = hf.encode(joined, add_special_tokens=False).ids
    got = ids_of(d, joined.encode("utf-8"), tmp_path, "--no-special", "--parse-special")
    first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    assert got == want, f"first mismatch at {first}: {got[first - 3:first + 3]} vs {want[first - 3:first + 3]}"


def _write_gguf(path, kv):
    import gguf
    w = gguf.GGUFWriter(str(path), "llama")
    for key, value in kv.items():
        if isinstance(value, str):
            w.add_string(key, value)
        elif isinstance(value, list) and value and isinstance(value[0], str):
            w.add_array(key, value)
        elif isinstance(value, list):
            w.add_array(key, value)
        else:
            w.add_uint32(key, value)
    w.add_tensor("x", __import__("numpy").zeros(4, dtype="float32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("kv, message", [
    ({}, "no tokenizer"),
    ({"tokenizer.ggml.model": "bert", "tokenizer.ggml.tokens": ["a"]}, "unsupported tokenizer.ggml.model 'bert'"),
    ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "weird", "tokenizer.ggml.tokens": ["a"]},
     "unsupported tokenizer.ggml.pre 'weird'"),
    ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2", "tokenizer.ggml.tokens": ["a", "b"]},
     "tokenizer.ggml.merges missing"),
    ({"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": [1, 2]}, "not an array of strings"),
    ({"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a", "a"]}, "duplicate token"),
    ({"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.scores": [0.5]},
     "scores is shorter"),
])
def test_bad_gguf_tokenizer_is_a_one_line_error(tmp_path, kv, message):
    path = tmp_path / "t.gguf"
    _write_gguf(path, kv)
    p = run_squish("tokenize", path, "--text", "ab", check=False)
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1 and "t.gguf" in p.stderr and message in p.stderr, p.stderr


def test_tiny_spm_gguf_byte_fallback(tmp_path):
    """A hand-made SentencePiece vocabulary: merges by score, <0xXX> byte fallback, BOS."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["a", "b", "ab", "\u2581", "\u2581ab"]
    types = [2, 3, 3] + [6] * 256 + [1] * 5
    scores = [0.0] * 259 + [-1.0, -2.0, -0.5, -3.0, -0.1]
    path = tmp_path / "spm.gguf"
    _write_gguf(path, {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": tokens,
                       "tokenizer.ggml.token_type": types, "tokenizer.ggml.scores": scores})
    ids = json.loads(run_squish("tokenize", path, "--text", "ab ab é", "--json").stdout)
    # No add_space_prefix key: llama.cpp's SPM default (true) applies. BOS, "▁ab" twice (merged by
    # score), "▁", then é as two byte tokens (it has no token). llama.cpp gives the same ids.
    assert ids["ids"] == [1, 263, 263, 262, 3 + 0xC3, 3 + 0xA9]
    assert ids["pieces"][:4] == ["<s>", " ab", " ab", " "]
