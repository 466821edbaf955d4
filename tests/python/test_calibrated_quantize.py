"""Calibrated quantization into SafeTensors checkpoints (`squish quantize --scheme/--recipe`): the
layer-by-layer engine's GPTQ, AWQ and SmoothQuant each lose less than plain rounding on the same
grid (KL divergence vs the F32 reference, measured by `squish eval` on the exported checkpoint as
loaded back); a run killed mid-way and resumed writes byte-identical files; activations spilled
under --max-memory leave the output unchanged and the memory they took in RAM unused; bad recipes
fail before any long work.

The default models ship as Q4_1 / Q4_K_M, so the configurations judged here use grids that differ
from theirs (INT4 g64 symmetric and asymmetric, W8A8 per-token activations). SmolLM2's 576-wide
inputs do not split into groups of 128, so its W4A16 runs use g64; Gemma 3's (640/1024/2048-wide)
do, so its GPTQ runs use g128."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD, ROOT, SHARED, SMOLLM2, run_squish

CTX, CHUNKS = 256, 4
CAL = ["--samples", "16", "--seq-len", "256"]


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("bases")
    out = {}
    for name, model in (("smollm2", SMOLLM2),):
        base = d / f"{name}.sqlogits"
        run_squish("eval", model, "--ctx", CTX, "--chunks", CHUNKS, "--save-base-logits", base, "--json")
        out[name] = base
    return out


def kld(model: Path, base: Path) -> tuple[float, float]:
    r = json.loads(run_squish("eval", model, "--ctx", CTX, "--chunks", CHUNKS, "--base-logits", base, "--json").stdout)
    return r["kld"]["kld_mean"]["value"], r["ppl"]


def quantize(model: Path, out: Path, *args) -> str:
    return run_squish("quantize", model, out, *args, *CAL, "--force").stdout


def test_gptq_w4a16_beats_rtn(tmp_path, bases):
    """GPTQ with llm-compressor's default column order (act-order, static groups): lower KLD and lower
    perplexity than plain rounding on the same grid."""
    rtn, gptq = tmp_path / "rtn", tmp_path / "gptq"
    quantize(SMOLLM2, rtn, "--scheme", "W4A16", "--group-size", "64", "--method", "rtn")
    out = run_squish("quantize", SMOLLM2, gptq, "--scheme", "W4A16", "--group-size", "64", "--method", "gptq",
                     "--samples", "32", "--seq-len", "256", "-v").stdout
    assert "linears: mean relative output error" in out
    k_rtn, p_rtn = kld(rtn, bases["smollm2"])
    k_gptq, p_gptq = kld(gptq, bases["smollm2"])
    print(f"smollm2 W4A16 g64: KLD rtn {k_rtn:.5f} gptq {k_gptq:.5f}; PPL rtn {p_rtn:.3f} gptq {p_gptq:.3f}")
    assert k_gptq < 0.8 * k_rtn and p_gptq < p_rtn
    cfg = json.loads((gptq / "config.json").read_text())["quantization_config"]
    assert cfg["quant_method"] == "compressed-tensors" and cfg["format"] == "pack-quantized"


def test_awq_beats_rtn(tmp_path, bases):
    rtn, awq = tmp_path / "rtn", tmp_path / "awq"
    quantize(SMOLLM2, rtn, "--scheme", "W4A16_ASYM", "--group-size", "64", "--method", "rtn")
    quantize(SMOLLM2, awq, "--scheme", "W4A16_ASYM", "--group-size", "64", "--method", "awq")
    k_rtn, _ = kld(rtn, bases["smollm2"])
    k_awq, _ = kld(awq, bases["smollm2"])
    print(f"smollm2 W4A16_ASYM g64: KLD rtn {k_rtn:.5f} awq {k_awq:.5f}")
    assert k_awq < k_rtn


def test_smoothquant_w8a8_beats_rtn(tmp_path, bases):
    rtn, sq = tmp_path / "rtn", tmp_path / "sq"
    quantize(SMOLLM2, rtn, "--scheme", "W8A8", "--method", "rtn")
    quantize(SMOLLM2, sq, "--scheme", "W8A8", "--method", "smoothquant", "--alpha", "0.5")
    k_rtn, _ = kld(rtn, bases["smollm2"])
    k_sq, _ = kld(sq, bases["smollm2"])
    print(f"smollm2 W8A8: KLD rtn {k_rtn:.5f} smoothquant {k_sq:.5f}")
    assert k_sq < k_rtn
    cfg = json.loads((sq / "config.json").read_text())["quantization_config"]
    group = next(iter(cfg["config_groups"].values()))
    assert group["input_activations"]["dynamic"] is True and group["format"] == "int-quantized"


def files(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_resume_after_kill_is_byte_identical(tmp_path):
    args = ["--scheme", "W4A16", "--group-size", "64", "--method", "gptq", "--samples", "4", "--seq-len", "64"]
    whole = tmp_path / "whole"
    run_squish("quantize", SMOLLM2, whole, *args)
    part = tmp_path / "part"
    env = dict(os.environ, SQUISH_PROGRESS="0", SQUISH_TEST_KILL_AFTER_LAYER="12")
    binary = os.environ.get("SQUISH_BIN", str(BUILD / "squish"))
    p = subprocess.run([binary, "quantize", str(SMOLLM2), str(part), *args], env=env, capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL
    assert not part.exists()  # nothing partial where the output goes
    state = json.loads((tmp_path / "part.partial" / "state.json").read_text())
    assert state["layers_done"] == 12
    r = run_squish("quantize", SMOLLM2, part, *args, "--resume")
    assert "12 layers resumed" in r.stdout
    assert files(part) == files(whole)
    assert not (tmp_path / "part.partial").exists()


def peak_rss_mib(stdout: str) -> float:
    return float(stdout.split("peak RSS ")[1].split(" MiB")[0])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """bench/make_shape_model.py's tiny shape (256 wide, 2 layers, random F16 weights, SmolLM2's
    tokenizer): activations of many tokens for little forward-pass work."""
    out = tmp_path_factory.mktemp("tiny") / "tiny.gguf"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "make_shape_model.py"), "--shape", "tiny", "--out", out],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out


def test_max_memory_spills_activations(tmp_path, tiny_model):
    # 136 x 512 calibration tokens of a 256-wide model: 68 MiB of activations, above the 64 MiB
    # budget. Plain rounding with static KV-cache scales: every layer's activations are propagated,
    # no Hessian is needed.
    budget_mib, samples, seq = 64, 136, 512
    args = ["--scheme", "W8A16", "--group-size", "64", "--method", "rtn", "--kv-cache-scheme", "int8",
            "--samples", samples, "--seq-len", seq]
    ram, disk = tmp_path / "ram", tmp_path / "disk"
    a = run_squish("quantize", tiny_model, ram, *args).stdout
    b = run_squish("quantize", tiny_model, disk, *args, "--max-memory", f"{budget_mib}M").stdout
    assert "(in RAM)" in a and "(spilled to a scratch file)" in b
    assert f"calibration: {samples} samples x {seq} tokens" in a  # the text held enough tokens
    acts_mib = samples * seq * 256 * 4 / 2**20
    model_mib = tiny_model.stat().st_size / 2**20
    print(f"peak RSS in RAM {peak_rss_mib(a):.1f} MiB, spilled {peak_rss_mib(b):.1f} MiB, "
          f"activations {acts_mib:.1f} MiB, model file {model_mib:.1f} MiB")
    assert acts_mib > budget_mib
    # The whole run's high-water mark (calibration and writing): the budget plus the model's pages.
    assert peak_rss_mib(b) < budget_mib + model_mib
    assert peak_rss_mib(a) - peak_rss_mib(b) > 0.8 * acts_mib
    assert files(ram) == files(disk)


def test_plain_rounding_runs_no_forward_pass(tmp_path):
    """RTN without activation or KV-cache scales reads no activations: the engine runs no calibration
    pass, and the checkpoint does not depend on the calibration settings."""
    args = ["--scheme", "W4A16", "--group-size", "64", "--method", "rtn"]
    a = run_squish("quantize", SMOLLM2, tmp_path / "a", *args, "--samples", "8", "--seed", "1").stdout
    b = run_squish("quantize", SMOLLM2, tmp_path / "b", *args, "--samples", "64", "--seed", "2").stdout
    assert "calibration: none (nothing reads activations)" in a and "calibration: none" in b
    assert files(tmp_path / "a") == files(tmp_path / "b")
    s = run_squish("quantize", SMOLLM2, tmp_path / "s", "--scheme", "W8A8", "--method", "smoothquant",
                   "--samples", "2", "--seq-len", "64").stdout
    assert "calibration: 2 samples x 64 tokens" in s  # a method that reads activations still calibrates


def test_bad_recipes_fail_before_work(tmp_path):
    def fails(*args, match):
        p = run_squish("quantize", SMOLLM2, tmp_path / "o", *args, check=False)
        assert p.returncode == 1 and p.stderr.count("\n") == 1 and match in p.stderr, p.stderr
        assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheme: W4A16\ngruop_size: 64\n")
    fails("--recipe", bad, match="gruop_size")
    fails("--scheme", "W4A16", "--group-size", "100", match="does not divide")
    fails("--scheme", "W4A17", match="unknown scheme")
    fails("--scheme", "W4A16", "--group-size", "64", "--method", "smoothquant", match="smoothquant")
    fails("--scheme", "W4A16", "--group-size", "64", "--method", "gptq", "--calib", SHARED / "wikitext-2-test.txt",
          match="evaluation text")
    fails("--scheme", "W4A16", "--type", "Q4_0", match="not both")


@pytest.mark.parametrize("method", ["gptq --act-order group", "awq"])
def test_compressed_tensors_and_transformers_read_calibrated_checkpoints(tmp_path, method):
    """compressed-tensors decompresses every weight of squish's GPTQ (act-order, static groups) and AWQ
    (folded norms) checkpoints to what squish loads back from them; transformers runs them with the
    same greedy tokens as squish."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    st_torch = pytest.importorskip("safetensors.torch")
    from compressed_tensors.compressors.base import BaseCompressor
    from compressed_tensors.quantization import QuantizationScheme

    out = tmp_path / "ckpt"
    run_squish("quantize", SMOLLM2, out, "--scheme", "W4A16", "--group-size", "64", "--method", *method.split(),
               "--samples", "4", "--seq-len", "128", "--dtype", "float32")
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    (group,) = qc["config_groups"].values()
    assert group["weights"]["actorder"] is None  # act-order with static groups: no g_idx to read
    loaded = tmp_path / "loaded"  # squish's own reading of the checkpoint, written densely
    run_squish("export", out, loaded, "--format", "unquantized", "--dtype", "float32")
    dense = st_torch.load_file(str(loaded / "model.safetensors"))
    st = {}
    for f in out.glob("*.safetensors"):
        st.update(st_torch.load_file(str(f)))
    scheme = QuantizationScheme(targets=group["targets"], weights=group["weights"],
                                input_activations=group["input_activations"])
    compressor = BaseCompressor.get_value_from_registry(group["format"])
    modules = sorted({k.rsplit(".", 1)[0] for k in st if k.endswith("weight_packed")})
    assert len(modules) == 30 * 7
    for module in modules:
        sd = {k[len(module) + 1:]: v for k, v in st.items() if k.rsplit(".", 1)[0] == module}
        got = compressor.decompress(sd, scheme)["weight"].float()
        assert torch.equal(got, dense[module + ".weight"]), module
    for k in ("model.layers.3.input_layernorm.weight", "model.norm.weight"):
        assert torch.equal(st[k].float(), dense[k]), k

    m = transformers.AutoModelForCausalLM.from_pretrained(
        str(out), dtype=torch.float32, quantization_config=transformers.CompressedTensorsConfig(run_compressed=False))
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    for prompt in ("The capital of France is", "def fibonacci(n):"):
        ids = tok(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            hf = m.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1]:]
        text = run_squish("generate", out, "--prompt", prompt, "-n", "8", "--temp", "0").stdout
        assert text.strip().startswith(tok.decode(hf, skip_special_tokens=True).strip()[:20]), (text, tok.decode(hf))
