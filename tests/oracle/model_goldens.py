"""Regenerates tests/goldens/model/: llama.cpp's logits and greedy continuations on squish's
reference networks (SmolLM2 and Gemma 3 dequantized to F32) and on tiny random llama / qwen2 /
gemma3 models written here (F16 GGUFs committed next to the goldens).

Run: ~/.cache/squish/venv/bin/python tests/oracle/model_goldens.py   (needs llama_cpp and the models)
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GEMMA3, GOLDENS, SMOLLM2, f32_gguf, llama, pack_logits  # noqa: E402

OUT = GOLDENS / "model"


def long_prompt() -> str:
    """A deterministic ~800-token text (longer than Gemma 3's 512-token sliding window)."""
    subjects = ["The engineer", "A small robot", "The old librarian", "My neighbour", "The committee",
                "A curious child", "The ship's captain", "Our teacher"]
    verbs = ["carefully examined", "quietly described", "boldly rebuilt", "slowly painted",
             "eagerly measured", "patiently explained", "suddenly forgot", "gladly repaired"]
    objects = ["the broken bridge", "a map of the northern islands", "the results of the experiment",
               "an unusual blue flower", "the history of the railway", "three wooden chairs",
               "the rules of the game", "a letter from the mayor"]
    places = ["before sunrise", "in the crowded market", "during the storm", "after the long meeting",
              "near the river", "on a quiet Sunday", "at the edge of the forest", "in the laboratory"]
    out = []
    for i in range(64):
        out.append(f"{subjects[i % 8]} {verbs[(i * 3) % 8]} {objects[(i * 5) % 8]} {places[(i * 7) % 8]}.")
    return " ".join(out)


LOGIT_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    "Quantization reduces the memory footprint of large language models by",
    long_prompt(),
]
GREEDY_PROMPTS = [LOGIT_PROMPTS[0], LOGIT_PROMPTS[1], LOGIT_PROMPTS[3]]
N_GREEDY = 64


def last_logits(llm, tokens: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[len(tokens) - 1], dtype=np.float32)


def all_logits(llm, tokens: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def greedy(llm, tokens: list[int], n: int) -> list[int]:
    """n argmax tokens (end-of-generation tokens are not special here: exactly n are produced)."""
    llm.reset()
    llm.eval(tokens)
    out = []
    for _ in range(n):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        llm.eval([nxt])
    return out


def real_model(name: str, path: Path) -> None:
    ref = f32_gguf(path)
    llm = llama(ref, n_ctx=1024)
    entries, blobs = [], []
    for prompt in LOGIT_PROMPTS:
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=False)
        logits = last_logits(llm, tokens)
        lo, step, codes = pack_logits(logits)
        blobs.append(codes.tobytes())
        top = np.argsort(-logits)[:10]
        entries.append({"prompt": prompt, "tokens": tokens, "offset": lo, "step": step,
                        "argmax": int(np.argmax(logits)), "top10": [int(t) for t in top],
                        "top10_logits": [float(logits[t]) for t in top]})
    greedy_entries = []
    for prompt in GREEDY_PROMPTS:
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=False)
        cont = greedy(llm, tokens, N_GREEDY)
        text = llm.detokenize(cont).decode("utf-8", errors="replace")
        greedy_entries.append({"prompt": prompt, "tokens": tokens, "continuation": cont,
                               "text": text})
    meta = {"model": path.name, "n_vocab": int(llm.n_vocab()), "logits": entries,
            "logits_file": f"{name}_logits.u16.gz", "greedy": greedy_entries}
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    with gzip.open(OUT / f"{name}_logits.u16.gz", "wb", compresslevel=9) as f:
        f.write(b"".join(blobs))


# ---------------------------------------------------------------- tiny random models

def tiny_tokenizer(writer, n_vocab: int) -> None:
    """The first n_vocab tokens of SmolLM2's BPE vocabulary (specials + all 256 bytes)."""
    import gguf

    r = gguf.GGUFReader(SMOLLM2)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()[:n_vocab]
    types = r.fields["tokenizer.ggml.token_type"].contents()[:n_vocab]
    have = set(tokens)
    merges = [m for m in r.fields["tokenizer.ggml.merges"].contents()
              if m.replace(" ", "", 1) in have and all(p in have for p in m.split(" ", 1))]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(False)


TINY = {
    # name: arch, n_embd, n_ff, n_head, n_head_kv, head_dim, n_layer, tied, extra
    "tiny_llama": dict(arch="llama", n_embd=64, n_ff=96, n_head=4, n_head_kv=2, head_dim=16,
                       n_layer=2, tied=True),
    "tiny_qwen2": dict(arch="qwen2", n_embd=64, n_ff=96, n_head=4, n_head_kv=1, head_dim=16,
                       n_layer=2, tied=False),
    "tiny_gemma3": dict(arch="gemma3", n_embd=48, n_ff=64, n_head=2, n_head_kv=1, head_dim=32,
                        n_layer=6, tied=True, window=8),
}
TINY_VOCAB = 320


def write_tiny(name: str, spec: dict, seed: int) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    arch, E, F = spec["arch"], spec["n_embd"], spec["n_ff"]
    H, KV, D, L = spec["n_head"], spec["n_head_kv"], spec["head_dim"], spec["n_layer"]
    path = OUT / f"{name}.gguf"
    w = gguf.GGUFWriter(path, arch)
    w.add_context_length(256)
    w.add_embedding_length(E)
    w.add_block_count(L)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_key_length(D)
    w.add_value_length(D)
    if arch == "gemma3":
        w.add_rope_freq_base(1e6)
        w.add_sliding_window(spec["window"])
    else:
        w.add_rope_freq_base(10000.0 if arch == "llama" else 1e6)
        w.add_rope_dimension_count(D)
    w.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16))
    tiny_tokenizer(w, TINY_VOCAB)

    def mat(rows, cols, scale):
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float16)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w.add_tensor("token_embd.weight", mat(TINY_VOCAB, E, 1.0 if arch != "gemma3" else 0.2))
    w.add_tensor("output_norm.weight", norm(E))
    if not spec["tied"]:
        w.add_tensor("output.weight", mat(TINY_VOCAB, E, 0.3))
    for il in range(L):
        b = f"blk.{il}."
        w.add_tensor(b + "attn_norm.weight", norm(E))
        w.add_tensor(b + "attn_q.weight", mat(H * D, E, 0.3))
        w.add_tensor(b + "attn_k.weight", mat(KV * D, E, 0.3))
        w.add_tensor(b + "attn_v.weight", mat(KV * D, E, 0.3))
        w.add_tensor(b + "attn_output.weight", mat(E, H * D, 0.3))
        if arch == "qwen2":
            for t, n in (("q", H * D), ("k", KV * D), ("v", KV * D)):
                w.add_tensor(b + f"attn_{t}.bias", (0.5 * rng.standard_normal(n)).astype(np.float32))
        if arch == "gemma3":
            w.add_tensor(b + "attn_q_norm.weight", norm(D))
            w.add_tensor(b + "attn_k_norm.weight", norm(D))
            w.add_tensor(b + "post_attention_norm.weight", norm(E))
            w.add_tensor(b + "post_ffw_norm.weight", norm(E))
        w.add_tensor(b + "ffn_norm.weight", norm(E))
        w.add_tensor(b + "ffn_gate.weight", mat(F, E, 0.3))
        w.add_tensor(b + "ffn_up.weight", mat(F, E, 0.3))
        w.add_tensor(b + "ffn_down.weight", mat(E, F, 0.3))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def tiny_model(name: str, spec: dict, seed: int) -> None:
    path = write_tiny(name, spec, seed)
    llm = llama(f32_gguf(path), n_ctx=256)
    rng = np.random.default_rng(seed + 100)
    prompts = [[int(t) for t in rng.integers(17, TINY_VOCAB, size=n)] for n in (7, 40)]
    entries = []
    blobs = []
    for tokens in prompts:
        logits = all_logits(llm, tokens)
        blobs.append(logits.astype("<f4").tobytes())
        entries.append({"tokens": tokens, "continuation": greedy(llm, tokens, 24)})
    (OUT / f"{name}.logits.f32").write_bytes(b"".join(blobs))
    meta = {"model": path.name, "n_vocab": TINY_VOCAB, "prompts": entries,
            "logits_file": f"{name}.logits.f32", "spec": spec}
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for i, (name, spec) in enumerate(TINY.items()):
        tiny_model(name, spec, seed=1234 + i)
        print("wrote", name)
    which = sys.argv[1:] or ["smollm2", "gemma3"]
    if "smollm2" in which:
        real_model("smollm2", SMOLLM2)
        print("wrote smollm2")
    if "gemma3" in which:
        real_model("gemma3", GEMMA3)
        print("wrote gemma3")


if __name__ == "__main__":
    main()
