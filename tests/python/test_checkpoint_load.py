"""Quantized HF SafeTensors checkpoints run by squish (compressed-tensors, GPTQ, AWQ).

- SmolLM2 exported by `squish export` in each format loads to exactly the weights `--dequant-out`
  says a loader must reconstruct: its perplexity equals, digit for digit, that of a dense checkpoint
  holding those weights (written here with the safetensors package);
- W8A8 INT8 / FP8 checkpoints (dynamic per-token activations) run with the activations quantized
  as vLLM does: the perplexity differs from the same weights run in full precision, and is close;
- `squish inspect` names each linear's scheme; unsupported or broken checkpoints are one-line
  errors naming the directory, for every command that takes a model.

Run as a script, `python test_checkpoint_load.py make-llmcompressor OUT` writes checkpoints of a
tiny random llama quantized by llm-compressor (weight-only INT4 sym / asym, GPTQ, W8A8 INT8, FP8
dynamic and static), with transformers' logits and compressed-tensors' decompressed weights: the
independent oracle of tests/cpp/test_hf_quantized.cpp (exit code 77 when llm-compressor is absent).
"""
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY_HF = ROOT / "tests" / "goldens" / "safetensors" / "tiny" / "llama" / "hf"
PROMPT = [1, 5, 9, 20, 33, 7, 100, 42, 3, 250, 17, 64, 128, 200, 11, 90, 45, 6, 260, 31, 77, 150, 8, 99]

# name -> (llm-compressor modifier, scheme, needs calibration data)
LLMC_SCHEMES = {
    "w4a16": ("QuantizationModifier", "W4A16", False),
    "w4a16_asym": ("QuantizationModifier", "W4A16_ASYM", False),
    "gptq_w4a16": ("GPTQModifier", "W4A16", True),
    "w8a8_int8": ("QuantizationModifier", "W8A8", False),
    "fp8_dynamic": ("QuantizationModifier", "FP8_DYNAMIC", False),
    "fp8_static": ("QuantizationModifier", "FP8", True),
}


class vllm_int8_scale:
    """Within the block, compressed-tensors' dynamic INT8 activation scales are vLLM's: amax / 127."""

    def __enter__(self):
        from compressed_tensors.quantization.lifecycle import forward
        self.forward, self.orig = forward, forward.compute_dynamic_scales_and_zp

        def scales(value, args, **kw):
            s, z = self.orig(value, args, **kw)
            return (s * (127.5 / 127.0) if args.type == "int" else s), z
        forward.compute_dynamic_scales_and_zp = scales

    def __exit__(self, *exc):
        self.forward.compute_dynamic_scales_and_zp = self.orig


def make_llmcompressor(out: Path) -> None:
    """The oracle: llm-compressor checkpoints, transformers' logits, decompressed weights."""
    try:
        import llmcompressor  # noqa: F401
    except ImportError:
        sys.exit(77)
    import torch
    import transformers
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers import quantization
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=265, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, rope_theta=10000.0)
    model = transformers.LlamaForCausalLM(cfg).to(torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(mean=0.0 if p.dim() > 1 else 1.0, std=0.1)
    dense = out / "dense"
    model.save_pretrained(dense)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TINY_HF / f, dense / f)
    g = torch.Generator().manual_seed(1)
    calib = [torch.randint(3, 265, (64,), generator=g).tolist() for _ in range(8)]
    ds = Dataset.from_dict({"input_ids": calib, "attention_mask": [[1] * 64 for _ in calib]})
    result = {"prompt": PROMPT, "schemes": {}}
    for name, (modifier, scheme, calibrated) in LLMC_SCHEMES.items():
        m = transformers.AutoModelForCausalLM.from_pretrained(str(dense), dtype=torch.float32)
        recipe = getattr(quantization, modifier)(targets="Linear", scheme=scheme, ignore=["lm_head"])
        kw = dict(dataset=ds, max_seq_length=64, num_calibration_samples=len(calib)) if calibrated else {}
        oneshot(model=m, recipe=recipe, **kw)
        d = out / name
        m.save_pretrained(d, save_compressed=True)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(dense / f, d / f)
        # transformers runs the checkpoint decompressed, activations fake-quantized by compressed-tensors
        q = transformers.AutoModelForCausalLM.from_pretrained(
            str(d), dtype=torch.float32,
            quantization_config=transformers.CompressedTensorsConfig(run_compressed=False)).eval()
        with torch.no_grad():
            logits = q(torch.tensor([PROMPT])).logits[0]
        sd = {k: v.float().contiguous() for k, v in q.state_dict().items() if k.endswith("_proj.weight")}
        save_file(sd, str(out / f"{name}.decompressed.safetensors"))
        result["schemes"][name] = {"logits": logits.tolist()}
        if scheme == "W8A8":  # also with vLLM's dynamic INT8 scale, amax / 127 (not amax / 127.5)
            with torch.no_grad(), vllm_int8_scale():
                result["schemes"][name]["logits_vllm_scale"] = q(torch.tensor([PROMPT])).logits[0].tolist()
    (out / "oracle.json").write_text(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "make-llmcompressor":
        sys.exit("usage: test_checkpoint_load.py make-llmcompressor OUT")
    make_llmcompressor(Path(sys.argv[2]))
    sys.exit(0)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import SHARED, SMOLLM2, run_squish  # noqa: E402

st_numpy = pytest.importorskip("safetensors.numpy")
TINY = ROOT / "tests" / "goldens" / "safetensors" / "tiny"
CTX, CHUNKS = 128, 2


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> Path:
    """The head of wikitext-2 (tokenizing all of it would cost more than the chunks scored)."""
    p = tmp_path_factory.mktemp("text") / "wikitext-head.txt"
    p.write_bytes((SHARED / "wikitext-2-test.txt").read_bytes()[:20000])
    return p


def ppl(model, text, ctx=CTX, chunks=CHUNKS) -> float:
    r = run_squish("perplexity", model, "-f", text, "--ctx", ctx, "--chunks", chunks, "--json")
    return json.loads(r.stdout)["ppl"]


def dense_with(tmp: Path, name: str, dq: dict, source) -> Path:
    """A dense F32 checkpoint of `source` whose linears are the dequantized values dq."""
    d = tmp / name
    run_squish("export", source, d, "--format", "unquantized", "--dtype", "float32")
    files = sorted(d.glob("*.safetensors"))
    for f in files:
        t = st_numpy.load_file(str(f))
        for k in t:
            if k in dq:
                assert t[k].shape == dq[k].shape, k
                t[k] = dq[k]
        st_numpy.save_file(t, str(f), metadata={"format": "pt"})
    return d


@pytest.fixture(scope="module")
def smollm2():
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not downloaded")
    return SMOLLM2


SMOL_CASES = {
    "ct-int4-asym-g64": ["--format", "compressed-tensors", "--bits", "4", "--group-size", "64", "--asym"],
    "awq-int4-g64": ["--format", "awq", "--bits", "4", "--group-size", "64", "--asym"],
}


@pytest.mark.parametrize("case", list(SMOL_CASES))
def test_smollm2_checkpoint_loads_to_the_dequantized_reference(tmp_path, smollm2, text, case):
    out, dq = tmp_path / "q", tmp_path / "dq.safetensors"
    run_squish("export", smollm2, out, "--dtype", "float32", "--dequant-out", dq, *SMOL_CASES[case])
    ref = dense_with(tmp_path, "dense", st_numpy.load_file(str(dq)), smollm2)
    a, b = ppl(out, text), ppl(ref, text)
    assert a == b  # the same weights bit for bit: the same computation
    info = json.loads(run_squish("inspect", out, "--json").stdout)
    schemes = {m["key"]: m["value"] for m in info["metadata"] if m["key"].startswith("quantization.model.")}
    assert len(schemes) == 30 * 7


@pytest.mark.parametrize("kind", ["int8", "fp8"])
def test_w8a8_perplexity_quantizes_activations(tmp_path, smollm2, text, kind):
    out, dq = tmp_path / "q", tmp_path / "dq.safetensors"
    flags = ["--w8a8", "--group-size", "0"] + (["--fp8"] if kind == "fp8" else [])
    run_squish("export", smollm2, out, "--format", "compressed-tensors", "--dtype", "float32",
               "--dequant-out", dq, *flags)
    info = json.loads(run_squish("inspect", out, "--json").stdout)
    q = next(m["value"] for m in info["metadata"] if m["key"] == "quantization.model.layers.0.self_attn.q_proj")
    assert q["input_quant"] == f"{kind}-per-token"
    ref = dense_with(tmp_path, "dense", st_numpy.load_file(str(dq)), smollm2)
    with_act, without, base = ppl(out, text), ppl(ref, text), ppl(smollm2, text)
    print(f"SmolLM2 W8A8 {kind}: ppl {with_act:.4f} with activation quantization, "
          f"{without:.4f} same weights without, {base:.4f} GGUF")
    assert with_act != without
    assert abs(with_act / without - 1) < 0.10  # SmolLM2 has activation outliers (no smoothing here)
    assert abs(without / base - 1) < 0.03


def export_tiny(tmp_path, name, *args):
    out = tmp_path / name
    run_squish("export", TINY / "llama" / "model.gguf", out, "--tokenizer-from", TINY / "llama" / "hf", *args)
    return out


def test_every_command_gives_one_line_errors_naming_the_dir(tmp_path):
    out = export_tiny(tmp_path, "gptq", "--format", "gptq", "--bits", "4", "--group-size", "16")
    cfg = json.loads((out / "config.json").read_text())
    cfg["quantization_config"]["bits"] = 3
    (out / "config.json").write_text(json.dumps(cfg))
    t = tmp_path / "t.txt"
    t.write_text("the thin man ran in then " * 200)
    for args in (["perplexity", out, "-f", t, "--ctx", 64, "--chunks", 1], ["generate", out, "--prompt", "the"],
                 ["eval", out, "-f", t, "--ctx", 64, "--chunks", 1]):
        r = run_squish(*args, check=False)
        assert r.returncode == 1, args
        assert r.stderr == f"squish: error: {out}: GPTQ checkpoints of 3 bits are not supported (2, 4, 8)\n", args
    r = run_squish("inspect", out, "--json")  # inspect still lists what is there
    meta = {m["key"]: m["value"] for m in json.loads(r.stdout)["metadata"]}
    assert "3 bits" in meta["quantization.error"]


def test_inspect_names_the_scheme_of_each_linear(tmp_path):
    out = export_tiny(tmp_path, "ct", "--format", "compressed-tensors", "--bits", "4", "--group-size", "16",
                      "--asym")
    r = run_squish("inspect", out)
    line = next(x for x in r.stdout.splitlines() if "quantization.model.layers.1.mlp.down_proj" in x)
    assert "compressed-tensors pack-quantized int4 asym group 16 [32 x 48]" in line
    t = tmp_path / "t.txt"
    t.write_text("the thin man ran in then " * 200)
    assert ppl(out, t, ctx=64) > 1
