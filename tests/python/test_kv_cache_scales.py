"""Calibrated KV-cache scales (`squish quantize --kv-cache-scheme fp8|int8`): every attention module
gets k_scale / v_scale = the largest |key| (after RoPE) / |value| that the quantized model puts in
its cache over the calibration set, over 448 (FP8 E4M3) or 127 (INT8), and the config a
kv_cache_scheme, as llm-compressor writes them for vLLM. The oracle is transformers: it runs the
exported checkpoint on the same tokens and its cache holds the keys and values the scales cover."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import SHARED, SMOLLM2, run_squish

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors = pytest.importorskip("safetensors.torch")

ARGS = ["--scheme", "W8A16", "--group-size", "64", "--method", "rtn"]


def scales(d) -> dict[str, float]:
    t = safetensors.load_file(str(d / "model.safetensors"))
    return {k: float(v.float().item()) for k, v in t.items() if k.endswith(("k_scale", "v_scale"))}


def cache_layers(past):
    """(keys, values) per layer of a transformers cache (old and new Cache layouts)."""
    if hasattr(past, "layers"):
        return [(layer.keys, layer.values) for layer in past.layers]
    return list(zip(past.key_cache, past.value_cache))


def test_kv_cache_scales_cover_what_transformers_caches(tmp_path):
    # One calibration window that is the whole text: squish and transformers see the same tokens.
    text = (SHARED / "calibration-mix.txt").read_text()[:1200].rsplit(" ", 1)[0]
    calib = tmp_path / "calib.txt"
    calib.write_text(text)
    probe = tmp_path / "probe"
    run_squish("quantize", SMOLLM2, probe, *ARGS, "--calib", calib, "--samples", "1", "--seq-len", "16")
    tok = transformers.AutoTokenizer.from_pretrained(str(probe))
    ids = tok(text, add_special_tokens=False).input_ids
    with_special = tok(text).input_ids
    bos = len(with_special) == len(ids) + 1 and with_special[0] == tok.bos_token_id
    tokens = ([tok.bos_token_id] if bos else []) + ids
    common = [*ARGS, "--calib", calib, "--samples", "1", "--seq-len", str(len(tokens))]

    fp8, int8 = tmp_path / "fp8", tmp_path / "int8"
    run_squish("quantize", SMOLLM2, fp8, *common, "--kv-cache-scheme", "fp8")
    run_squish("quantize", SMOLLM2, int8, *common, "--kv-cache-scheme", "int8")
    qc = json.loads((fp8 / "config.json").read_text())["quantization_config"]
    assert qc["kv_cache_scheme"]["type"] == "float" and qc["kv_cache_scheme"]["strategy"] == "tensor"
    assert not qc["kv_cache_scheme"]["dynamic"]
    assert json.loads((int8 / "config.json").read_text())["quantization_config"]["kv_cache_scheme"]["type"] == "int"
    s8, si = scales(fp8), scales(int8)
    n_layer = json.loads((fp8 / "config.json").read_text())["num_hidden_layers"]
    assert len(s8) == 2 * n_layer and set(s8) == set(si)
    for k in s8:  # the same ranges, over each format's largest value
        assert s8[k] * 448 == pytest.approx(si[k] * 127, rel=1e-2), k

    # The compressed-tensors package reads the scheme; transformers puts each scale on its module.
    from compressed_tensors.quantization import QuantizationConfig
    assert QuantizationConfig.model_validate(qc).kv_cache_scheme.num_bits == 8
    loaded = transformers.AutoModelForCausalLM.from_pretrained(
        str(fp8), dtype=torch.float32,
        quantization_config=transformers.CompressedTensorsConfig(run_compressed=False))
    attn0 = loaded.model.layers[0].self_attn
    assert float(attn0.k_scale.float().reshape(-1)[0]) == pytest.approx(s8["model.layers.0.self_attn.k_scale"], rel=1e-6)
    assert float(attn0.v_scale.float().reshape(-1)[0]) == pytest.approx(s8["model.layers.0.self_attn.v_scale"], rel=1e-6)
    del loaded

    # Oracle: the same checkpoint without the scheme (so nothing rounds the cache), run on the tokens.
    plain = tmp_path / "plain"
    shutil.copytree(fp8, plain)
    cfg = json.loads((plain / "config.json").read_text())
    cfg["quantization_config"]["kv_cache_scheme"] = None
    (plain / "config.json").write_text(json.dumps(cfg))
    m = transformers.AutoModelForCausalLM.from_pretrained(
        str(plain), dtype=torch.float32,
        quantization_config=transformers.CompressedTensorsConfig(run_compressed=False)).eval()
    with torch.no_grad():
        out = m(torch.tensor([tokens]), use_cache=True)
    worst = 0.0
    for i, (k, v) in enumerate(cache_layers(out.past_key_values)):
        for name, x in (("k_scale", k), ("v_scale", v)):
            want = float(x.abs().max()) / 448
            got = s8[f"model.layers.{i}.self_attn.{name}"]
            worst = max(worst, abs(got / want - 1))
            assert got == pytest.approx(want, rel=5e-3), (i, name)  # bf16 scales: 0.39% rounding
    print(f"{len(tokens)} tokens, {2 * n_layer} scales, worst relative difference to transformers' cache {worst:.4f}")


def test_kv_cache_scheme_needs_compressed_tensors(tmp_path):
    p = run_squish("quantize", SMOLLM2, tmp_path / "o", *ARGS, "--format", "gptq", "--kv-cache-scheme", "fp8",
                   check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert "KV-cache scales are written in compressed-tensors checkpoints only" in p.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_static_fp8_cache_runs_as_compressed_tensors_does(tmp_path):
    """squish's FP8 cache on such a checkpoint stores every row with the layer's static k_scale /
    v_scale (values beyond 448 · scale saturate), as vLLM runs a calibrated kv_cache_scheme. Oracle:
    transformers with compressed-tensors, which fake-quantizes the cache with the same scales, on the
    same 1024 tokens scored as llama.cpp's perplexity scores one chunk (its second half)."""
    ckpt, plain = tmp_path / "kv", tmp_path / "plain"
    run_squish("quantize", SMOLLM2, ckpt, *ARGS, "--samples", "8", "--seq-len", "512", "--kv-cache-scheme", "fp8")
    shutil.copytree(ckpt, plain)
    cfg = json.loads((plain / "config.json").read_text())
    cfg["quantization_config"]["kv_cache_scheme"] = None
    (plain / "config.json").write_text(json.dumps(cfg))
    text = tmp_path / "wiki.txt"
    text.write_bytes((SHARED / "wikitext-2-test.txt").read_bytes()[:16000])

    def squish_ppl(d, kv):
        r = run_squish("perplexity", d, "-f", text, "--kv-cache-dtype", kv, "--ctx", "1024", "--chunks", "1", "--json")
        return json.loads(r.stdout)["ppl"]

    ours = {"f32": squish_ppl(ckpt, "f32"), "static": squish_ppl(ckpt, "fp8"), "per-row": squish_ppl(plain, "fp8")}

    tok = transformers.AutoTokenizer.from_pretrained(str(ckpt))
    body = text.read_text()
    ids = tok(body, add_special_tokens=False).input_ids
    with_special = tok(body).input_ids
    bos = len(with_special) == len(ids) + 1 and with_special[0] == tok.bos_token_id
    seq = ([tok.bos_token_id] + ids[:1023]) if bos else ids[:1024]
    theirs = {}
    for name, d in (("f32", plain), ("static", ckpt)):
        m = transformers.AutoModelForCausalLM.from_pretrained(
            str(d), dtype=torch.float32,
            quantization_config=transformers.CompressedTensorsConfig(run_compressed=False)).eval()
        with torch.no_grad():
            lp = torch.log_softmax(m(torch.tensor([seq])).logits[0].double(), -1)
        nll = -sum(lp[j, seq[j + 1]].item() for j in range(512, 1023))
        theirs[name] = float(torch.tensor(nll / 511).exp())
        del m
    print(f"squish {ours}, transformers + compressed-tensors {theirs}")
    assert ours["f32"] == pytest.approx(theirs["f32"], rel=1e-4)
    # E4M3's steps (2^-3 relative) turn the two implementations' ~1e-6 differences in K and V into a
    # few flipped roundings: a BF16 cache differs by 0.014% between them, this FP8 one by ~0.6%.
    assert ours["static"] == pytest.approx(theirs["static"], rel=1e-2)
    # The static scales are in effect: coarser than squish's own per-row scales here. How far the
    # per-row FP8 cache lands from F32 depends on the kernels that computed K and V (SmolLM2, this
    # chunk: 1e-5 on the scalar path, under 2e-3 on AVX-512, 4.6e-3 on AVX2, whose F32 and F16
    # caches agree with the scalar path's to 1e-7 and 2e-5), so the bound is FP8's few-tenths of a
    # percent, not the F16 cache's.
    assert ours["static"] / ours["f32"] > 1.005 and abs(ours["per-row"] / ours["f32"] - 1) < 6e-3
