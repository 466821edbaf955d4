"""SentencePiece-style tokenizers (Gemma 3) in HF checkpoints squish writes from a GGUF.

`squish export` writes tokenizer.json as a byte-fallback BPE with merges derived from the GGUF's
piece scores. Oracles: llama.cpp's tokenization of the GGUF (llama-cpp-python, vocab only), read by
HF's `tokenizers` and transformers' AutoTokenizer from the exported directory, and squish itself
reading the directory vs the GGUF.
"""
import json
import time

import pytest

from conftest import GEMMA3, SHARED, run_squish

pytestmark = pytest.mark.skipif(not GEMMA3.exists(), reason="Gemma 3 GGUF not downloaded")

TRICKY = [
    "Hello world",
    " leading space",
    "  two leading spaces and  double  inside",
    "trailing spaces   ",
    " " * 40 + "forty spaces",
    "line one\nline two\n\nafter a blank line\n\n\n\n\nfive newlines",
    "\ttabs\tand \t mixed\t",
    "digits 0123456789 and 3.14159 and 1,000,000",
    "emoji 🦙🎉👨‍👩‍👧 and 🫠",
    "CJK 日本語の文章です。中文句子。한국어 문장.",
    "rare scripts ꙮ 𓀀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010FFFD",
    "html <table><tr><td>x</td></tr></table> and <b>bold</b>",
    "mixed: naïve café — “quotes” «guillemets» ½ ℃",
    "a",
    "▁literal lower one eighth block▁▁",
]


@pytest.fixture(scope="module")
def wikitext():
    data = (SHARED / "wikitext-2-test.txt").read_bytes()[:6000]
    return data.decode("utf-8", "ignore")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("gemma3") / "ckpt"
    t0 = time.monotonic()
    run_squish("export", GEMMA3, out, "--format", "unquantized", "--dtype", "bfloat16")
    return out, time.monotonic() - t0


@pytest.fixture(scope="module")
def llama():
    llama_cpp = pytest.importorskip("llama_cpp")
    return llama_cpp.Llama(model_path=str(GEMMA3), vocab_only=True, verbose=False)


def reference(llama, text, add_bos):
    return llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)


def test_layout_is_hf_gemma_style(exported):
    out, seconds = exported
    tj = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    m = tj["model"]
    assert m["type"] == "BPE" and m["byte_fallback"] is True and m["fuse_unk"] is True
    assert m["unk_token"] == "<unk>" and len(m["vocab"]) == 262144
    assert len(m["merges"]) > 400000 and all(len(x) == 2 for x in m["merges"][:100])
    assert tj["normalizer"] == {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
    assert tj["pre_tokenizer"] is None
    assert [d["type"] for d in tj["decoder"]["decoders"]] == ["Replace", "ByteFallback", "Fuse"]
    added = {a["content"]: a for a in tj["added_tokens"]}
    assert added["<start_of_turn>"]["special"] and not added["\n\n"]["special"]
    assert not added["  "]["normalized"]  # user-defined runs of spaces match the raw text
    cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert (cfg["bos_token"], cfg["eos_token"], cfg["pad_token"], cfg["unk_token"]) == ("<bos>", "<eos>", "<pad>", "<unk>")
    assert cfg["add_bos_token"] is True and cfg["add_eos_token"] is False
    assert (out / "tokenizer.model").stat().st_size > 1_000_000  # SentencePiece ModelProto beside it
    assert seconds < 120, f"export took {seconds:.0f} s"


def test_hf_tokenizers_equal_llamacpp(exported, llama, wikitext):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(exported[0] / "tokenizer.json"))
    byte_fallback_seen = False
    for text in [wikitext, *TRICKY]:
        ids = tok.encode(text).ids
        assert ids == reference(llama, text, True), text[:60]
        assert tok.encode(text, add_special_tokens=False).ids == reference(llama, text, False), text[:60]
        if "▁" not in text:  # SentencePiece decodes a literal U+2581 as a space
            assert tok.decode(ids, skip_special_tokens=True) == text
        byte_fallback_seen |= any(238 <= i < 238 + 256 for i in ids)  # <0x00>..<0xFF>
    assert byte_fallback_seen
    assert len(reference(llama, wikitext, False)) > 1000


def test_transformers_autotokenizer_equals_llamacpp(exported, llama, wikitext):
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(str(exported[0]))
    for text in [wikitext, *TRICKY]:
        ids = tok(text)["input_ids"]
        assert ids == reference(llama, text, True), text[:60]
        assert tok(text, add_special_tokens=False)["input_ids"] == reference(llama, text, False), text[:60]
        if "▁" not in text:
            assert tok.decode(ids, skip_special_tokens=True) == text


def test_squish_reads_the_export_like_the_gguf(exported, wikitext, tmp_path):
    out = exported[0]
    f = tmp_path / "input.txt"
    for text in [wikitext, "\n".join(TRICKY), *TRICKY[1:5]]:  # leading spaces: each at the start
        f.write_bytes(text.encode("utf-8"))
        for flags in ([], ["--no-special"]):
            gguf = run_squish("tokenize", GEMMA3, "--file", f, "--ids-only", *flags).stdout.split()
            ckpt = run_squish("tokenize", out, "--file", f, "--ids-only", *flags).stdout.split()
            assert ckpt == gguf, text[:60]
            assert len(gguf) > 0
    # Special-token text: parsed as one token by both, or spelled out by both.
    f.write_text("<start_of_turn>user\nhi<end_of_turn>\n")
    for flags, parsed in ((["--parse-special"], True), ([], False)):
        gguf = run_squish("tokenize", GEMMA3, "--file", f, "--ids-only", *flags).stdout.split()
        assert run_squish("tokenize", out, "--file", f, "--ids-only", *flags).stdout.split() == gguf
        assert ("105" in gguf) == parsed  # <start_of_turn>
