#!/usr/bin/env python3
"""Tiny random llama / qwen2 / gemma3 networks in HF layout (config.json + SafeTensors written by the
`safetensors` package) and the same networks as F32 GGUF written the way llama.cpp's
convert_hf_to_gguf.py (--outtype f32) writes them, with the `gguf` package:

  * tensor names from gguf.get_tensor_name_map(arch, n_layer) (the converter's own table),
    rotary_emb.inv_freq skipped;
  * llama q_proj / k_proj (weights and biases) permuted with LlamaModel.permute;
  * gemma3 `*norm.weight` + 1 computed in the stored dtype (torch bf16 arithmetic), and
    token_embd cut to len(tokenizer.json vocab) + len(added_tokens);
  * a small byte-level BPE tokenizer.json and the matching GGUF tokenizer (gpt2 model, padded
    with [PADi] tokens to the vocabulary size as _set_vocab_gpt2 does);
  * hyper-parameter keys as LlamaModel / Qwen2Model / Gemma3Model.set_gguf_parameters write them.

    ~/.cache/squish/venv/bin/python tests/oracle/hf_tiny_models.py [OUTDIR]

writes OUTDIR/<arch>/hf/ and OUTDIR/<arch>/model.gguf for arch in llama, qwen2, gemma3
(default OUTDIR: tests/goldens/safetensors/tiny). `make_model` is importable by tests.
"""
import json
import sys
from pathlib import Path

import gguf
import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "tests" / "goldens" / "safetensors" / "tiny"

ARCHS = {
    "llama": dict(gguf_arch=gguf.MODEL_ARCH.LLAMA, hf_arch="LlamaForCausalLM", dtype=ml_dtypes.bfloat16,
                  n_embd=32, n_ff=48, n_layer=2, n_head=4, n_head_kv=2, vocab=265, tied=False,
                  shards=2, inv_freq=True, bias=False),
    "qwen2": dict(gguf_arch=gguf.MODEL_ARCH.QWEN2, hf_arch="Qwen2ForCausalLM", dtype=np.float16,
                  n_embd=32, n_ff=40, n_layer=2, n_head=4, n_head_kv=2, vocab=272, tied=True,
                  shards=1, inv_freq=False, bias=True),
    "gemma3": dict(gguf_arch=gguf.MODEL_ARCH.GEMMA3, hf_arch="Gemma3ForCausalLM", dtype=ml_dtypes.bfloat16,
                   n_embd=32, n_ff=48, n_layer=6, n_head=4, n_head_kv=1, head_dim=16, vocab=272,
                   tied=True, shards=1, inv_freq=False, bias=False),
}


def hf_config(arch: str, p: dict) -> dict:
    c = {
        "architectures": [p["hf_arch"]],
        "model_type": "gemma3_text" if arch == "gemma3" else arch,
        "hidden_size": p["n_embd"], "intermediate_size": p["n_ff"],
        "num_hidden_layers": p["n_layer"], "num_attention_heads": p["n_head"],
        "num_key_value_heads": p["n_head_kv"], "vocab_size": p["vocab"],
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-6 if arch != "llama" else 1e-5,
        "tie_word_embeddings": p["tied"], "torch_dtype": np.dtype(p["dtype"]).name,
        "bos_token_id": 1, "eos_token_id": 2,
    }
    if arch == "llama":
        c.update(rope_theta=100000.0, hidden_act="silu", attention_bias=False)
    elif arch == "qwen2":
        c.update(rope_theta=1000000.0, hidden_act="silu", use_sliding_window=False, sliding_window=4096)
    else:
        c.update(head_dim=p["head_dim"], rope_theta=1000000.0, rope_local_base_freq=10000.0,
                 sliding_window=4, query_pre_attn_scalar=p["head_dim"],
                 hidden_activation="gelu_pytorch_tanh", final_logit_softcapping=None,
                 attn_logit_softcapping=None,
                 layer_types=["sliding_attention" if (i + 1) % 6 else "full_attention"
                              for i in range(p["n_layer"])])
    return c


def hf_tensors(arch: str, p: dict, rng: np.random.Generator) -> dict:
    hd = p.get("head_dim", p["n_embd"] // p["n_head"])
    E, F = p["n_embd"], p["n_ff"]
    dt = p["dtype"]

    def w(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32).astype(dt)

    t = {"model.embed_tokens.weight": w(p["vocab"], E, scale=1.0),
         "model.norm.weight": w(E, scale=0.5)}
    if not p["tied"]:
        t["lm_head.weight"] = w(p["vocab"], E)
    for i in range(p["n_layer"]):
        b = f"model.layers.{i}."
        t[b + "input_layernorm.weight"] = w(E, scale=0.5)
        t[b + "post_attention_layernorm.weight"] = w(E, scale=0.5)
        t[b + "self_attn.q_proj.weight"] = w(p["n_head"] * hd, E)
        t[b + "self_attn.k_proj.weight"] = w(p["n_head_kv"] * hd, E)
        t[b + "self_attn.v_proj.weight"] = w(p["n_head_kv"] * hd, E)
        t[b + "self_attn.o_proj.weight"] = w(E, p["n_head"] * hd)
        t[b + "mlp.gate_proj.weight"] = w(F, E)
        t[b + "mlp.up_proj.weight"] = w(F, E)
        t[b + "mlp.down_proj.weight"] = w(E, F)
        if p["bias"]:
            t[b + "self_attn.q_proj.bias"] = w(p["n_head"] * hd)
            t[b + "self_attn.k_proj.bias"] = w(p["n_head_kv"] * hd)
            t[b + "self_attn.v_proj.bias"] = w(p["n_head_kv"] * hd)
        if arch == "gemma3":
            t[b + "pre_feedforward_layernorm.weight"] = w(E, scale=0.5)
            t[b + "post_feedforward_layernorm.weight"] = w(E, scale=0.5)
            t[b + "self_attn.q_norm.weight"] = w(hd, scale=0.5)
            t[b + "self_attn.k_norm.weight"] = w(hd, scale=0.5)
        if p["inv_freq"]:
            t[b + "self_attn.rotary_emb.inv_freq"] = (
                1.0 / 100000.0 ** (np.arange(0, hd, 2, dtype=np.float32) / hd)).astype(np.float32)
    return t


def llama_permute(weights: np.ndarray, n_head: int, n_head_kv) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def convert(arch: str, p: dict, cfg: dict, tensors: dict, n_vocab_real, out: Path) -> None:
    """The GGUF convert_hf_to_gguf.py --outtype f32 would write (tensors + hyper-parameters)."""
    w = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[p["gguf_arch"]])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if arch == "llama":
        w.add_vocab_size(cfg["vocab_size"])
        w.add_rope_dimension_count(cfg["hidden_size"] // cfg["num_attention_heads"])
    if arch == "gemma3":
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])
        w.add_sliding_window(cfg["sliding_window"])
    n_out = n_vocab_real if n_vocab_real is not None else cfg["vocab_size"]
    add_gguf_tokenizer(w, n_out)

    names = gguf.get_tensor_name_map(p["gguf_arch"], cfg["num_hidden_layers"])
    for name, data in tensors.items():
        if name.endswith(".rotary_emb.inv_freq"):
            continue
        if arch == "llama":
            if name.endswith(("q_proj.weight", "q_proj.bias")):
                data = llama_permute(data, cfg["num_attention_heads"], cfg["num_attention_heads"])
            if name.endswith(("k_proj.weight", "k_proj.bias")):
                data = llama_permute(data, cfg["num_attention_heads"], cfg["num_key_value_heads"])
        if arch == "gemma3":
            if "embed_tokens.weight" in name and n_vocab_real is not None:
                data = data[:n_vocab_real]
            if name.endswith("norm.weight"):  # torch: bf16 tensor + 1 -> bf16
                data = (data.astype(np.float32) + 1).astype(data.dtype)
        new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new_name is not None, name
        w.add_tensor(new_name, np.ascontiguousarray(data.astype(np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def bytes_to_unicode() -> list:
    """GPT-2's byte -> printable character table (byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


MERGES = ["Ġ t", "h e", "Ġt he", "i n", "a n"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


def tokenizer_tokens() -> list:
    """Token strings by id: 256 byte tokens, the merged tokens, then the special tokens."""
    return bytes_to_unicode() + [m.replace(" ", "") for m in MERGES] + SPECIALS


def write_tokenizer_json(path: Path) -> int:
    """A small byte-level BPE tokenizer.json (GPT-2 style); returns its number of tokens."""
    toks = tokenizer_tokens()
    n_model = len(toks) - len(SPECIALS)
    added = [{"id": n_model + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(SPECIALS)]
    path.write_text(json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(toks[:n_model])}, "merges": MERGES},
    }, ensure_ascii=False) + "\n")
    (path.parent / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "add_bos_token": False,
        "chat_template": "{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}",
    }) + "\n")
    return len(toks)


def add_gguf_tokenizer(w: "gguf.GGUFWriter", n_vocab: int) -> None:
    """What _set_vocab_gpt2 writes: tokens (padded with [PADi] to the vocab size), types, merges."""
    toks = tokenizer_tokens()
    n_model = len(toks) - len(SPECIALS)
    types = [gguf.TokenType.NORMAL] * n_model + [gguf.TokenType.CONTROL] * len(SPECIALS)
    for i in range(len(toks), n_vocab):
        toks.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(n_model + 1)
    w.add_eos_token_id(n_model + 2)
    w.add_add_bos_token(False)


def make_model(arch: str, out: Path, seed: int = 1234) -> Path:
    """Writes out/hf/ (HF layout) and out/model.gguf; returns out."""
    p = ARCHS[arch]
    rng = np.random.default_rng(seed)
    cfg = hf_config(arch, p)
    tensors = hf_tensors(arch, p, rng)
    hf = out / "hf"
    hf.mkdir(parents=True, exist_ok=True)
    (hf / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (hf / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": 1, "eos_token_id": [2, 3], "do_sample": True, "temperature": 0.7,
         "top_k": 20, "top_p": 0.8}, indent=2) + "\n")
    n_tok = write_tokenizer_json(hf / "tokenizer.json")
    n_vocab_real = n_tok if arch == "gemma3" else None
    names = list(tensors)
    if p["shards"] == 1:
        save_file(tensors, str(hf / "model.safetensors"), metadata={"format": "pt"})
    else:
        k = p["shards"]
        weight_map, total = {}, 0
        for s in range(k):
            fname = f"model-{s + 1:05d}-of-{k:05d}.safetensors"
            part = names[s * len(names) // k:(s + 1) * len(names) // k]
            save_file({n: tensors[n] for n in part}, str(hf / fname), metadata={"format": "pt"})
            for n in part:
                weight_map[n] = fname
                total += tensors[n].nbytes
        (hf / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
    convert(arch, p, cfg, tensors, n_vocab_real, out / "model.gguf")
    return out


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for a in ARCHS:
        make_model(a, out / a)
    print(f"wrote {out}")
