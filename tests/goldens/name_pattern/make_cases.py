"""Writes cases.json next to this script: module-name patterns with Python's own `re.match` verdict on
each name (the oracle for squish's NamePattern, tests/cpp/test_name_pattern.cpp), patterns Python
rejects, and patterns Python accepts that squish refuses (unsupported features).
    python tests/goldens/name_pattern/make_cases.py"""
import json
import random
import re
from pathlib import Path

HF_LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
GGUF = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "attn_norm"]
NAMES = ([f"model.layers.{i}.{m}" for i in (0, 1, 9, 10, 23, 29) for m in HF_LINEARS] +
         [f"blk.{i}.{g}.weight" for i in (0, 7, 12, 29) for g in GGUF] +
         ["lm_head", "model.embed_tokens", "output.weight", "token_embd.weight", "model.norm",
          "model.layers.3.block_sparse_moe.experts.5.w1", "a", "", "aaaaaaaaaaaa",
          "q_proj\n", "x.y", "model.layers.1.self_attn.q_proj.weight"])

# Patterns users write (llm-compressor / compressed-tensors recipes) and edge cases of the syntax.
HAND = [r".*q_proj", r".*self_attn\.(q|k|v)_proj$", r"model\.layers\.\d+\.mlp\.(gate|up)_proj$",
        r"^model\.layers\.(1[0-9]|2[0-9])\.", r".*mlp.down_proj", r"lm_head", r".*(gate|up|down)_proj",
        r"model.layers.[0-9]+.self_attn.[qkv]_proj", r"blk\.\d+\.attn_[qkv]\.weight", r".*experts.*w[13]$",
        r"(?:model\.)?layers", r"(?P<n>model)\.layers", r"[^.]+\.layers", r"[]a]", r"[a-]", r"[-a]",
        r"[\d.]+", r"a{,3}a$", r"a{2,}", r"a{}", r"a{", r"a{x}", r"a{3}?", r"a*?$", r"a+?b", r"x??",
        r"\w+\.\w+$", r"\W", r"\s", r"\S+", r"\D+", r"$", r"^", r"", r"\Amodel", r"q_proj\Z", r"q_proj$",
        r"(a|)+$", r"(a*)*$", r"(a*)*b", r"(a|aa)*$", r"((a{2}){3})+$", r"\x6d", r"\.", r"\\", r"a|b|",
        r"|model", r"()*$", r"(|a)*b"]
INVALID = [r"a**", r"*a", r"(", r"a)", r"[", r"[b-a]", r"a{3,2}", r"\q", "\\", r"a{2}{3}", r"(?",
           r"^*", r"[\d-z]", r"\x4"]
UNSUPPORTED = [r"x++", r"(?=a)", r"(?!a)", r"(?<=a)b", r"(?i)a", r"\bmodel", r"(a)\1", r"(?#c)a"]

ATOMS = ["model", "layers", "self_attn", "mlp", "proj", "q", "k", "v", "o", "gate", "up", "down", "blk",
         "attn", "ffn", "weight", "lm_head", "_", r"\.", ".", r"\d", r"\w", r"[0-9]", r"[^.]", r"[qkv]",
         r"[a-z_]", r"[1-3]", "a", "e"]
QUANT = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "+?", "{,2}"]


def piece(rng: random.Random, depth: int) -> str:
    """One atom with an optional quantifier; a group is quantified only when nothing inside it is
    (Python's backtracking `re` is exponential on nested quantifiers, so it could not be the oracle)."""
    if depth < 2 and rng.random() < 0.2:
        body = "|".join(pattern(rng, depth + 1, anchors=False) for _ in range(rng.randint(1, 3)))
        atom = ("(?:" if rng.random() < 0.3 else "(") + body + ")"
        nested = any(q and q in body for q in QUANT) or "{" in body
        return atom + ("" if nested else rng.choice(QUANT))
    atom = rng.choice(ATOMS)
    if len(atom) > 1 and atom[0].isalpha():
        return "(" + atom + ")" + rng.choice(QUANT) if rng.random() < 0.5 else atom
    return atom + rng.choice(QUANT)


def pattern(rng: random.Random, depth: int = 0, anchors: bool = True) -> str:
    p = "".join(piece(rng, depth) for _ in range(rng.randint(1, 5)))
    if anchors and rng.random() < 0.15:
        p = "^" + p
    if anchors and rng.random() < 0.3:
        p += "$"
    return p


def main() -> None:
    rng = random.Random(20261207)
    patterns = list(HAND)
    while len(patterns) < 400:
        p = pattern(rng)
        if p not in patterns:
            patterns.append(p)
    # "match": one character per name, "1" where re.match(pattern, name) matches.
    cases = [{"pattern": p, "match": "".join("01"[re.match(p, n) is not None] for n in NAMES)} for p in patterns]
    for p in INVALID:
        try:
            re.compile(p)
        except re.error:
            continue
        raise SystemExit(f"Python accepts '{p}', listed as invalid")
    for p in UNSUPPORTED:
        re.compile(p)  # valid Python, refused by squish
    out = {"generator": "tests/goldens/name_pattern/make_cases.py (Python re.match)", "names": NAMES,
           "cases": cases, "invalid": INVALID, "unsupported": UNSUPPORTED}
    path = Path(__file__).with_name("cases.json")
    path.write_text(json.dumps(out, indent=0) + "\n")
    hits = sum(c["match"].count("1") for c in cases)
    print(f"{path}: {len(cases)} patterns x {len(NAMES)} names ({hits} matches), "
          f"{len(INVALID)} invalid, {len(UNSUPPORTED)} unsupported")


if __name__ == "__main__":
    main()
