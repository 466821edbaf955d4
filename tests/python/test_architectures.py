"""The architectures squish added through its tensor registry, each checked against two oracles that
need no download: transformers builds a small random-weight model from a config (seeded, saved as
a SafeTensors directory with the tiny byte-level BPE tokenizer of tests/goldens), and llama.cpp's
own convert_hf_to_gguf.py converts it.

Per architecture:
  * squish's logits on a fixed prompt agree with transformers' (top-1 identical at every position,
    max |Δ| ≤ 1e-3 of the logit range), run from the SafeTensors directory and from llama.cpp's
    GGUF of it;
  * squish's HF → GGUF conversion equals the converter's tensor for tensor (names, types, bytes)
    and key for key where both write a key;
  * llama.cpp loads squish's Q8_0 / Q4_K_M quantizations and runs them as squish does, within
    the quantization error of transformers' F32 model;
  * squish's SafeTensors exports (unquantized, compressed-tensors) load in transformers.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from conftest import GOLDENS, ROOT, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))

LLAMACPP = Path(os.environ.get(
    "SQUISH_LLAMACPP_SRC",
    Path.home() / ".cache/squish/llamacpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp"))
CONVERTER = LLAMACPP / "convert_hf_to_gguf.py"
TOKENIZER = GOLDENS / "safetensors" / "tiny" / "qwen2" / "hf"
PROMPT = "the thin man ran in the sun, and the sun ran in the thin man"
N_VOCAB = 265  # the tiny tokenizer's 261 pieces and 4 added tokens

# Small shapes: hidden 256 so every k-quant block fits; 2 layers; GQA.
COMMON = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=N_VOCAB, max_position_embeddings=1024,
              rms_norm_eps=1e-6, initializer_range=0.1, bos_token_id=None, eos_token_id=261,
              tie_word_embeddings=False)
# Llama 3.1/3.2 RoPE scaling with a small original context, so that at the prompt's positions
# (up to ~40) the scaled band is wide: head_dim 64 and base 1e4 give wavelengths 6.3 .. 47000;
# pairs with wavelength above 64 are slowed 8x, those between 16 and 64 blended.
LLAMA3_ROPE = dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0,
                   high_freq_factor=4.0, original_max_position_embeddings=64)
ARCHS = {
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(head_dim=64, rope_theta=1000000.0)),
    "mistral": ("MistralConfig", "MistralForCausalLM",
                dict(rope_theta=10000.0, sliding_window=None, tie_word_embeddings=True)),
    "llama3": ("LlamaConfig", "LlamaForCausalLM", dict(rope_parameters=LLAMA3_ROPE)),
    # Gemma 2 with caps and a window small enough to bite on random weights and a ~30-token prompt
    # (layer 0 slides, layer 1 is global); llama.cpp scales q by 1/sqrt(head_dim).
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM",
               dict(head_dim=64, query_pre_attn_scalar=64, sliding_window=8, attn_logit_softcapping=5.0,
                    final_logit_softcapping=5.0, tie_word_embeddings=True)),
    # Phi-3-mini-4k layout: fused qkv_proj / gate_up_proj; Phi3Config's pad id 32000 lies
    # outside the tiny vocabulary; no sliding window (llama.cpp disables Phi-3's).
    "phi3": ("Phi3Config", "Phi3ForCausalLM",
             dict(pad_token_id=None, sliding_window=None, original_max_position_embeddings=1024)),
    # Mixtures of experts: 4 experts of width 256 (every k-quant block fits), top-2. Mixtral
    # renormalises its top-2 weights; Qwen3-MoE does with norm_topk_prob (which llama.cpp assumes).
    "mixtral": ("MixtralConfig", "MixtralForCausalLM",
                dict(intermediate_size=256, num_local_experts=4, num_experts_per_tok=2, sliding_window=None)),
    "qwen3moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM",
                 dict(head_dim=64, intermediate_size=256, moe_intermediate_size=256, num_experts=4,
                      num_experts_per_tok=2, norm_topk_prob=True, mlp_only_layers=[], decoder_sparse_step=1)),
}
# SafeTensors export of a mixture of experts is not implemented: refused with a one-line error.
MOE = {"mixtral", "qwen3moe"}
# The tokenizer class for the model type would add tokens of its own (GemmaTokenizer: <pad>, <unk>):
# these load tokenizer.json as it is.
PLAIN_TOKENIZER = {"gemma2", "phi3"}
# general.architecture where it differs from the key (and model_type of squish's export)
GGUF_ARCH = {"mistral": "llama", "llama3": "llama", "mixtral": "llama"}


def build_hf_model(arch: str, out: Path, **overrides) -> None:
    """A seeded random-weight model of `arch` (config entries overridden), F32, with the tiny tokenizer."""
    cfg_cls, model_cls, extra = ARCHS[arch]
    torch.manual_seed(0)
    cfg = getattr(transformers, cfg_cls)(**{**COMMON, **extra, **overrides})
    model = getattr(transformers, model_cls)(cfg).eval()
    with torch.no_grad():  # norms away from 1 so a mistaken norm shows
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
    model.save_pretrained(out, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / f, out / f)
    if arch in PLAIN_TOKENIZER:
        tc = json.loads((out / "tokenizer_config.json").read_text())
        (out / "tokenizer_config.json").write_text(json.dumps({**tc, "tokenizer_class": "PreTrainedTokenizerFast"}))


def llamacpp_convert(hf: Path, out: Path) -> None:
    """convert_hf_to_gguf.py --outtype f32; the tiny tokenizer's pre-tokenizer hash is unknown to
    it, so its pre-tokenizer name is given (the one squish derives from the same tokenizer.json).
    The venv lacks sentencepiece, which the converter imports before it looks for tokenizer.model:
    with no tokenizer.model here, that step raises FileNotFoundError directly (as it would after
    the import) and the converter falls back to the BPE vocabulary. Gemma2Model knows only
    SentencePiece vocabularies, Phi3MiniModel SentencePiece or GPT2Tokenizer ones, so both are
    given the BPE one (as Gemma3Model does without tokenizer.model)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[1:]; "
            "import convert_hf_to_gguf as c; from conversion.base import TextModel; "
            "TextModel._create_vocab_sentencepiece = lambda self: (_ for _ in ()).throw("
            "FileNotFoundError('tokenizer.model')); "
            "TextModel.get_vocab_base_pre = lambda self, tokenizer: 'gpt-2'; "
            "from conversion.gemma import Gemma2Model; "
            "Gemma2Model.set_vocab = lambda self: self._set_vocab_gpt2(); "
            "from conversion.phi import Phi3MiniModel; "
            "Phi3MiniModel.set_vocab = lambda self: self._set_vocab_gpt2(); c.main()")
    p = subprocess.run([sys.executable, "-c", code, str(LLAMACPP), str(hf), "--outtype", "f32",
                        "--outfile", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]


def transformers_logits(hf: Path, tokens: list[int]) -> np.ndarray:
    # eager attention: the one that applies every feature (Gemma 2's attention soft-capping)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        hf, torch_dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].double().numpy()


def squish_logits(model: Path, tmp: Path, *extra) -> tuple[list[int], np.ndarray]:
    out = tmp / f"logits-{model.name}.json"
    run_squish("generate", model, "--prompt", PROMPT, "--max-tokens", "0", "--logits-out", out, *extra)
    j = json.loads(out.read_text())
    return j["tokens"], np.asarray(j["logits"], np.float64)


@pytest.fixture(scope="module", params=sorted(ARCHS))
def tiny(request, tmp_path_factory):
    """(arch, HF dir, llama.cpp's GGUF of it, squish's GGUF of it, prompt tokens, transformers' logits)."""
    arch = request.param
    tmp = tmp_path_factory.mktemp(arch)
    hf = tmp / "hf"
    build_hf_model(arch, hf)
    ref = tmp / "llamacpp.f32.gguf"
    llamacpp_convert(hf, ref)
    ours = tmp / "squish.f32.gguf"
    run_squish("quantize", hf, ours, "--type", "F32")
    tokens, _ = squish_logits(hf, tmp)
    return arch, hf, ref, ours, tokens, transformers_logits(hf, tokens)


def assert_logits_agree(got: np.ndarray, want: np.ndarray) -> float:
    assert got.shape == want.shape
    assert np.array_equal(got.argmax(-1), want.argmax(-1))
    rel = np.abs(got - want).max() / (want.max() - want.min())
    assert rel <= 1e-3, rel
    return rel


@pytest.mark.parametrize("source", ["safetensors", "llamacpp_gguf"])
def test_logits_match_transformers(tiny, source, tmp_path):
    arch, hf, ref, _, tokens, want = tiny
    got_tokens, got = squish_logits(hf if source == "safetensors" else ref, tmp_path)
    assert got_tokens == tokens
    rel = assert_logits_agree(got, want)
    print(f"{arch} {source}: max |d| / range = {rel:.2e}")


def _fields(reader) -> dict:
    skip = ("GGUF.", "general.name", "general.quantization_version")
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith(skip)}


def test_conversion_equals_llamacpp_converter(tiny):
    _, _, ref, ours, _, _ = tiny
    a, b = gguf.GGUFReader(ref), gguf.GGUFReader(ours)
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    assert sorted(tb) == sorted(ta)
    for name, t in ta.items():
        o = tb[name]
        assert o.tensor_type == t.tensor_type, name
        assert list(o.shape) == list(t.shape), name
        assert bytes(o.data) == bytes(t.data), name
    fa, fb = _fields(a), _fields(b)
    common = sorted(set(fa) & set(fb))
    assert "general.architecture" in common and len(common) > 15
    for k in common:
        va, vb = fa[k], fb[k]
        if isinstance(va, float):
            assert vb == pytest.approx(va, rel=1e-6), k
        else:
            assert va == vb, k


@pytest.mark.parametrize("qtype,max_vs_hf,max_vs_squish", [("Q8_0", 0.1, 0.06), ("Q4_K_M", 0.6, 0.08)])
def test_llamacpp_runs_squish_quantized(tiny, qtype, max_vs_hf, max_vs_squish, tmp_path):
    """llama.cpp loads squish's quantization and runs it as squish does (the same file: logits
    within a small fraction of the range, top-1 mostly identical), and within the type's
    quantization error of transformers' F32 model. (Random weights leave near ties, median top-1
    margin ~2-3% of the range, so a top-1 rate against the F32 model measures little at Q4_K_M.)"""
    from perplexity_llamacpp import LlamaModel
    arch, _, ref, _, tokens, want = tiny
    q = tmp_path / f"{arch}.{qtype}.gguf"
    run_squish("quantize", ref, q, "--type", qtype)
    with LlamaModel(q, n_ctx=128, n_batch=128) as m:
        got = m.decode(tokens, 0, output_from=0)
    _, ours = squish_logits(q, tmp_path)
    rng = want.max() - want.min()
    vs_hf, vs_squish = np.abs(got - want).max() / rng, np.abs(got - ours).max() / rng
    top1_hf = float(np.mean(got.argmax(-1) == want.argmax(-1)))
    top1_squish = float(np.mean(got.argmax(-1) == ours.argmax(-1)))
    print(f"{arch} {qtype}: llama.cpp vs transformers max |d| / range {vs_hf:.3f} (top-1 {top1_hf:.2f}), "
          f"vs squish {vs_squish:.4f} (top-1 {top1_squish:.2f})")
    assert vs_hf <= max_vs_hf
    if arch in MOE:
        # Routing is discontinuous: where a token's 2nd and 3rd experts nearly tie, llama.cpp's
        # rounding of activations (Q8_K / Q8_0) can pick the other expert — one position of the
        # prompt then moves by up to ~0.2 of the range (measured: qwen3moe's Q8_0 spike is the
        # position with the smallest router margin, 0.004). Every other position stays in the bound.
        per_pos = np.abs(got - ours).max(-1) / rng
        assert np.sum(per_pos > max_vs_squish) <= 1, per_pos
        assert vs_squish <= 0.25
        # The experts run in their block format too (slices of the stacked tensors on the
        # quantized kernels), as the F32 copy of the same file does.
        _, packed = squish_logits(q, tmp_path, "--weights", "quantized")
        per_pos = np.abs(packed - ours).max(-1) / rng
        print(f"{arch} {qtype}: squish block-format vs F32 weights max |d| / range {per_pos.max():.4f}")
        assert np.sum(per_pos > 0.02) <= 1, per_pos
    else:
        assert vs_squish <= max_vs_squish
    assert top1_squish >= 0.85


def assert_export_refused(gguf_file: Path, out: Path, *args) -> None:
    p = run_squish("export", gguf_file, out, *args, check=False)
    assert p.returncode == 1 and p.stderr.strip().count("\n") == 0, p.stderr
    assert str(gguf_file) in p.stderr and "mixture of experts" in p.stderr and "not implemented" in p.stderr, p.stderr
    assert not out.exists()


def test_safetensors_export_loads_in_transformers(tiny, tmp_path):
    """squish's unquantized SafeTensors export of its GGUF is the same network to transformers."""
    arch, _, _, ours, tokens, want = tiny
    if arch in MOE:
        return assert_export_refused(ours, tmp_path / "export", "--format", "unquantized", "--dtype", "float32")
    out = tmp_path / "export"
    run_squish("export", ours, out, "--format", "unquantized", "--dtype", "float32")
    # GGUF stores Mistral as llama (convert_hf_to_gguf.py's LlamaModel), so it comes back as one
    assert json.loads((out / "config.json").read_text())["model_type"] == GGUF_ARCH.get(arch, arch)
    rel = assert_logits_agree(transformers_logits(out, tokens), want)
    print(f"{arch} export: max |d| / range = {rel:.2e}")


def test_compressed_tensors_export_loads_in_transformers(tiny, tmp_path):
    """squish's compressed-tensors export (INT8 weights) runs in transformers as in squish: top-1
    identical at every position, logits within the bound."""
    pytest.importorskip("compressed_tensors")
    arch, _, _, ours, tokens, _ = tiny
    out = tmp_path / "ct"
    if arch in MOE:
        return assert_export_refused(ours, out, "--format", "compressed-tensors", "--bits", "8")
    run_squish("export", ours, out, "--format", "compressed-tensors", "--bits", "8", "--dtype", "float32")
    got_tokens, got = squish_logits(out, tmp_path)
    assert got_tokens == tokens
    rel = assert_logits_agree(got, transformers_logits(out, tokens))
    print(f"{arch} compressed-tensors: max |d| / range = {rel:.2e}")


def _no_llama3_rope(cfg: dict) -> None:
    for key in ("rope_parameters", "rope_scaling"):
        if isinstance(cfg.get(key), dict):
            cfg[key] = {"rope_type": "default", "rope_theta": LLAMA3_ROPE["rope_theta"]}


def _set(key, value):
    return lambda cfg: cfg.__setitem__(key, value)


# Per architecture: its distinctive features, each as a config.json edit that turns it off.
def _top1(cfg: dict) -> None:
    cfg["num_experts_per_tok"] = 1


FEATURES_OFF = {
    "llama3": {"llama3 rope scaling": _no_llama3_rope},
    "gemma2": {"attention soft-capping": _set("attn_logit_softcapping", None),
               "final soft-capping": _set("final_logit_softcapping", None),
               "sliding window": _set("sliding_window", 1024)},
    "mixtral": {"top-2 routing": _top1},
    "qwen3moe": {"top-2 routing": _top1, "renormalised top-k": _set("norm_topk_prob", False)},
}


def test_features_are_exercised(tiny, tmp_path):
    """Each distinctive feature moves transformers' logits far beyond the agreement bound when
    turned off, so the checks above would catch a runtime that ignored it."""
    arch, hf, _, _, tokens, want = tiny
    if arch not in FEATURES_OFF:
        pytest.skip("no feature list")
    for feature, turn_off in FEATURES_OFF[arch].items():
        plain = tmp_path / feature.replace(" ", "_")
        shutil.copytree(hf, plain)
        cfg = json.loads((plain / "config.json").read_text())
        turn_off(cfg)
        (plain / "config.json").write_text(json.dumps(cfg))
        got = transformers_logits(plain, tokens)
        rel = np.abs(got - want).max() / (want.max() - want.min())
        print(f"{arch} without {feature}: max |d| / range = {rel:.2e}")
        assert rel > 0.02, feature


def test_every_command_runs(tiny, tmp_path):
    """inspect, perplexity and bench run on the architecture (from its GGUF)."""
    arch, hf, _, ours, _, _ = tiny
    assert arch in run_squish("inspect", ours).stdout
    text = tmp_path / "text.txt"
    text.write_text(" ".join([PROMPT] * 20))
    ppl = json.loads(run_squish("perplexity", hf, "--file", text, "--ctx", "64", "--chunks", "1",
                                "--json").stdout)["ppl"]
    assert np.isfinite(ppl) and ppl > 1
    run_squish("bench", ours, "-p", "16", "-n", "4", "-t", "1")


def test_phi3_longrope_is_refused(tmp_path):
    """Phi-3's long-context RoPE (rope_factors_long / short) is refused with a one-line error."""
    hf = tmp_path / "hf"
    cfg_cls, model_cls, extra = ARCHS["phi3"]
    cfg = getattr(transformers, cfg_cls)(**{**COMMON, **extra, "num_hidden_layers": 1})
    getattr(transformers, model_cls)(cfg).save_pretrained(hf, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / f, hf / f)
    j = json.loads((hf / "config.json").read_text())
    half = j["hidden_size"] // j["num_attention_heads"] // 2
    j["rope_parameters"] = {"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0] * half,
                            "long_factor": [2.0] * half, "partial_rotary_factor": 1.0}
    (hf / "config.json").write_text(json.dumps(j))
    for args in (("generate", hf, "--prompt", PROMPT, "--max-tokens", "1"),
                 ("quantize", hf, tmp_path / "out.gguf", "--type", "F32")):
        p = run_squish(*args, check=False)
        assert p.returncode == 1, args
        assert p.stderr.strip().count("\n") == 0 and "longrope" in p.stderr and "not supported" in p.stderr, p.stderr
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.parametrize("arch", sorted(MOE))
def test_calibrated_quantization_of_experts_is_refused(arch, tmp_path):
    """GPTQ (GGUF or SafeTensors) and AWQ on a mixture of experts: a one-line error naming the
    model, exit 1, no output, before any calibration pass."""
    hf = tmp_path / "hf"
    build_hf_model(arch, hf)
    for out, args in ((tmp_path / "gptq.gguf", ("--type", "Q4_K_M", "--method", "gptq")),
                      (tmp_path / "awq", ("--scheme", "W4A16", "--method", "awq"))):
        p = run_squish("quantize", hf, out, *args, "--samples", "2", check=False)
        assert p.returncode == 1, args
        assert p.stderr.strip().count("\n") == 0 and str(hf) in p.stderr, p.stderr
        assert "mixture of experts" in p.stderr and "not implemented" in p.stderr, p.stderr
        assert not out.exists()


@pytest.mark.parametrize("n_expert", [8])  # 8 experts: the generic expert rules and Mixtral-8x7B's (4 cost 35 s more)
def test_moe_mixes_equal_llama_quantize(n_expert, tmp_path):
    """squish's mixes of a Mixtral file are llama.cpp's own (llama_model_quantize) byte for byte,
    the stacked ffn_*_exps included, with and without squish's imatrix; with 8 experts llama.cpp's
    Mixtral-8x7B rules apply too (attn_v and attn_k Q8_0, attn_output Q5_K)."""
    from quantize_common import TYPES
    from quantize_goldens import llama_quantize
    hf, f32 = tmp_path / "hf", tmp_path / "f32.gguf"
    build_hf_model("mixtral", hf, num_local_experts=n_expert)
    llamacpp_convert(hf, f32)
    for mix in ("Q4_K_M", "Q3_K_M", "Q2_K"):
        want, got = tmp_path / f"llamacpp.{mix}.gguf", tmp_path / f"squish.{mix}.gguf"
        llama_quantize(f32, want, TYPES[mix])
        run_squish("quantize", f32, got, "--type", mix)
        a, b = gguf.GGUFReader(want), gguf.GGUFReader(got)
        tb = {t.name: t for t in b.tensors}
        assert sorted(tb) == sorted(t.name for t in a.tensors)
        for t in a.tensors:
            assert tb[t.name].tensor_type == t.tensor_type, (mix, t.name)
            assert bytes(tb[t.name].data) == bytes(t.data), (mix, t.name)
        types = {t.name: t.tensor_type.name for t in a.tensors}
        assert types["blk.0.ffn_gate_exps.weight"] != "F32"
        if n_expert == 8:
            assert types["blk.0.attn_v.weight"] == types["blk.0.attn_k.weight"] == "Q8_0", types
    # squish's imatrix holds one row of sums and one count per expert for ffn_*_exps (each token
    # counted once per expert it is routed to), and quantizing with it equals llama.cpp's use of it.
    from quantize_common import imatrix_means
    text, im = tmp_path / "text.txt", tmp_path / "imatrix.gguf"
    text.write_text(" ".join([PROMPT] * 20))
    run_squish("imatrix", f32, "-o", im, "-f", text, "-c", "64", "--chunks", "4")
    r = gguf.GGUFReader(im)
    t = {x.name: x for x in r.tensors}
    for kind in ("gate", "up", "down"):
        counts = np.asarray(t[f"blk.1.ffn_{kind}_exps.weight.counts"].data).reshape(-1)
        assert counts.size == n_expert and counts.sum() == 4 * 64 * 2, counts
        assert np.asarray(t[f"blk.1.ffn_{kind}_exps.weight.in_sum2"].data).size == n_expert * 256
    for mix in ("IQ4_XS", "Q4_K_M"):
        want, got = tmp_path / f"llamacpp.im.{mix}.gguf", tmp_path / f"squish.im.{mix}.gguf"
        llama_quantize(f32, want, TYPES[mix], imatrix=imatrix_means(im))
        run_squish("quantize", f32, got, "--type", mix, "--imatrix", im)
        a, b = gguf.GGUFReader(want), gguf.GGUFReader(got)
        tb = {x.name: x for x in b.tensors}
        for x in a.tensors:
            assert tb[x.name].tensor_type == x.tensor_type and bytes(tb[x.name].data) == bytes(x.data), (mix, x.name)
