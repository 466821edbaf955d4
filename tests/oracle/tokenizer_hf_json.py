#!/usr/bin/env python3
"""Builds an HF tokenizer.json (+ tokenizer_config.json) from a GGUF byte-level BPE vocabulary.

The result is the SmolLM2 tokenizer as HF ships it: BPE over the GGUF's tokens and merges,
pre-tokenizer Sequence[Digits(individual_digits), ByteLevel], the GGUF's control tokens as
special added tokens. Used by tests/python/test_tokenizer.py to test Tokenizer::from_hf_json,
and (when the `tokenizers` package is installed) to run HF's own implementation as an oracle.

Usage: tokenizer_hf_json.py MODEL.gguf OUT_DIR
"""
import json
import sys
from pathlib import Path

import gguf


def _field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def build_tokenizer_json(gguf_path, out_dir, split_regex=None):
    """Writes out_dir/tokenizer.json and out_dir/tokenizer_config.json; returns out_dir.

    split_regex: use pre-tokenizer Sequence[Split(regex, Isolated), ByteLevel(use_regex=False)]
    instead of SmolLM2's (to exercise the Llama 3 / Qwen2 pre-tokenizers on the same vocabulary).
    """
    r = gguf.GGUFReader(str(gguf_path))
    assert _field(r, "tokenizer.ggml.model") == "gpt2", "only gpt2 (byte-level BPE) vocabularies"
    tokens = _field(r, "tokenizer.ggml.tokens")
    types = _field(r, "tokenizer.ggml.token_type")
    merges = _field(r, "tokenizer.ggml.merges")
    bos = _field(r, "tokenizer.ggml.bos_token_id")
    eos = _field(r, "tokenizer.ggml.eos_token_id")
    add_bos = bool(_field(r, "tokenizer.ggml.add_bos_token") or False)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3]
    pre = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ]}
    if split_regex:
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split_regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]}
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)},
                  "merges": list(merges)},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(doc, ensure_ascii=False))
    cfg = {"add_bos_token": add_bos, "bos_token": tokens[bos], "eos_token": tokens[eos],
           "clean_up_tokenization_spaces": False}
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, ensure_ascii=False))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(build_tokenizer_json(sys.argv[1], sys.argv[2]))
