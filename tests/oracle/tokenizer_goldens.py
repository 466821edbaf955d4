#!/usr/bin/env python3
"""Regenerates tests/goldens/tokenizer/ from the oracle, llama.cpp (through llama-cpp-python).

Outputs:
  wikitext_<model>.u32.gz   token ids of the whole ../shared/data/wikitext-2-test.txt, tokenized as
                            llama.cpp's perplexity tool does (common_tokenize(ctx, text,
                            add_special=true, parse_special=false)); gzip of little-endian uint32.
  cases.json                tricky strings (hex-encoded bytes) with llama.cpp's ids for
                            add_special/parse_special on and off, and llama.cpp's detokenization.
  sweep.json                per-block SHA-256 of the ids for a sweep over code points 0..0x3FFFF
                            (every code point in three contexts), SmolLM2 only (the only model whose
                            pre-tokenizer uses Unicode categories).

Usage: ~/.cache/squish/venv/bin/python tests/oracle/tokenizer_goldens.py
"""
import ctypes
import gzip
import hashlib
import json
import struct
import sys
from pathlib import Path

import llama_cpp

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path.home() / ".cache" / "squish" / "models"
OUT = ROOT / "tests" / "goldens" / "tokenizer"
WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-test.txt"

MODEL_FILES = {
    "smollm2": MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": MODELS / "gemma-3-270m-q4_k_m.gguf",
}

SWEEP_END = 0x40000
SWEEP_BLOCK = 0x1000


def tricky_cases():
    """The tricky inputs, as bytes."""
    s = [
        "", " ", "  ", "   ", "\n", "\n\n", "\n\n\n", "\t", "\t\t", " \t\n ", "\r\n", "\r",
        "Hello world", " Hello world", "Hello  world", "Hello world ", "Hello world  ",
        "hello\n\nworld", "  leading", "trailing  ", "a  b   c    d     e",
        "I'm sure it's fine, isn't it? We'll see. They've gone. You'd know.",
        "I'M SHOUTING'S DON'T", "'s 't 're 've 'm 'll 'd", "don't'", "''''", "rock 'n' roll",
        "1234567890", "3.14159 1,000,000 2024-01-01", "x1y22z333", "007 42 9999999",
        "١٢٣ ٤٥٦", "½ ² Ⅻ ①", "naïve café résumé", "Привет мир", "Γειά σου Κόσμε",
        "こんにちは世界", "你好，世界！", "안녕하세요", "שלום עולם", "مرحبا بالعالم", "हिन्दी भाषा",
        "ภาษาไทย", "e\u0301 a\u0308 n\u0303", "👨‍👩‍👧‍👦", "🙂😀🎉 emoji!", "🇺🇸🇩🇪",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u0085b", "\ufffd", "\ufeffhello",
        "\u200b\u200c\u200d", "\x00\x01\x7f", "\u00ad soft hyphen",
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
        "<bos>text<eos>", "<|endoftext|>", "<unused0> <pad>", "[multimodal]",
        "<table><tr><td>1</td></tr></table>", "x<|im_start|>", "<|im_start|><|im_start|>",
        "def f(x):\n    return x**2  # comment\n", "    indented\n\tTabbed\n", "a\t\tb",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "!!!!!!!!!!", "....", "@#$%^&*()_+-=[]{}|;:,.<>?/~`",
        " = Valkyria Chronicles III = \n", " @-@ ", " @,@ ", "1 @,@ 000", "The game 's",
        "https://example.com/path?q=1&r=2", "email@example.com", "C++ and C# and F#",
        "   \n   \n", " \n \n \n", "\n \n", "x\n\n\n\n\n\ny", "end with newline\n",
        "Mixed 中文 and English 123 ümlaut", "ｆｕｌｌｗｉｄｔｈ", "Ⅰ Ⅱ Ⅲ", "°C µm Ω",
    ]
    cases = [x.encode("utf-8") for x in s]
    cases += [b"\xff\xfe abc", b"abc\xe2\x82", b"\xc3(", b"a\x80b", b"\xf0\x9f\x98"]
    return cases


def llama_vocab(path):
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    return llm, llm._model.vocab


def detokenize(vocab, ids, unparse_special):
    n = len(ids)
    arr = (llama_cpp.llama_token * max(n, 1))(*ids)
    size = 64 + 64 * n
    buf = ctypes.create_string_buffer(size)
    k = llama_cpp.llama_detokenize(vocab, arr, n, buf, size, False, unparse_special)
    assert k >= 0, k
    return buf.raw[:k]


def sweep_text(lo, hi):
    parts = []
    for cp in range(lo, hi):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        parts.append(f" {c}'s {c}{c}! 1{c} ")
    return "".join(parts).encode("utf-8")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    text = WIKITEXT.read_bytes()
    cases = tricky_cases()
    out_cases = {"oracle": f"llama-cpp-python {llama_cpp.__version__}", "models": {}, "cases": []}
    for c in cases:
        out_cases["cases"].append({"hex": c.hex(), "text": c.decode("utf-8", "replace")})
    for name, path in MODEL_FILES.items():
        llm, vocab = llama_vocab(path)
        ids = llm.tokenize(text, add_bos=True, special=False)
        data = struct.pack(f"<{len(ids)}I", *ids)
        (OUT / f"wikitext_{name}.u32.gz").write_bytes(gzip.compress(data, 9, mtime=0))
        print(f"{name}: wikitext {len(ids)} tokens")
        per_model = []
        for c in cases:
            entry = {}
            for add_special in (False, True):
                for parse_special in (False, True):
                    key = f"ids_{int(add_special)}{int(parse_special)}"
                    entry[key] = llm.tokenize(c, add_bos=add_special, special=parse_special)
            plain = entry["ids_00"]
            entry["detok_special"] = detokenize(vocab, entry["ids_11"], True).hex()
            entry["detok_plain"] = detokenize(vocab, plain, False).hex()
            entry["roundtrip"] = detokenize(vocab, plain, False) == c
            per_model.append(entry)
        out_cases["models"][name] = {
            "bos": llm.token_bos(), "eos": llm.token_eos(),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
            "n_vocab": llm.n_vocab(),
            "eog": [i for i in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)],
            "results": per_model,
        }
        if name == "smollm2":
            hashes = []
            for lo in range(0, SWEEP_END, SWEEP_BLOCK):
                ids = llm.tokenize(sweep_text(lo, lo + SWEEP_BLOCK), add_bos=False, special=False)
                hashes.append(hashlib.sha256(struct.pack(f"<{len(ids)}I", *ids)).hexdigest())
            (OUT / "sweep.json").write_text(json.dumps(
                {"model": name, "block": SWEEP_BLOCK, "end": SWEEP_END,
                 "context": " {c}'s {c}{c}! 1{c} ", "sha256_u32le": hashes}, indent=0) + "\n")
        del llm
    (OUT / "cases.json").write_text(json.dumps(out_cases, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
