"""Group-quantized HF checkpoints run through the quantized kernels (`--weights quantized`).

SmolLM2 exported by `squish export` as compressed-tensors W4A16 (sym, asym), W8A16, GPTQ and AWQ
with BF16 scales is repacked at load into GGUF blocks (Q4_0 / Q4_1 / Q5_0 / Q8_0) whose
dequantization is the checkpoint's bit for bit; the perplexity through the quantized kernels equals
the perplexity of the dequantized F32 weights within 0.1%, the linears hold exactly their blocks'
bytes (INT4 at least 4x smaller than F32, INT8 3.76x), and `squish inspect` names the block type. F32 scales off the F16 grid keep
the F32 path (same bytes either way).
"""
import json
from pathlib import Path

import pytest

from conftest import SHARED, SMOLLM2, run_squish

CTX, CHUNKS = 256, 4

# name -> (export flags, block types the linears may pack to)
CASES = {
    "ct-w4a16-sym-g64": (["--format", "compressed-tensors", "--bits", "4", "--group-size", "64"], {"Q4_0"}),
    "ct-w4a16-asym-g32": (["--format", "compressed-tensors", "--bits", "4", "--group-size", "32", "--asym"],
                          {"Q4_1", "Q5_0"}),
    "ct-w8a16-channel": (["--format", "compressed-tensors", "--bits", "8", "--group-size", "0"], {"Q8_0"}),
    "gptq-int4-sym-g64": (["--format", "gptq", "--bits", "4", "--group-size", "64"], {"Q4_0"}),
    "awq-int4-asym-g64": (["--format", "awq", "--bits", "4", "--group-size", "64", "--asym"], {"Q4_1", "Q5_0"}),
}
BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q8_0": 34}  # per 32 weights (F32: 128)


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("text") / "wikitext-head.txt"
    p.write_bytes((SHARED / "wikitext-2-test.txt").read_bytes()[:60000])
    return p


@pytest.fixture(scope="module")
def smollm2():
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not downloaded")
    return SMOLLM2


def perplexity(model, text, weights, quant_path="auto"):
    r = run_squish("perplexity", model, "-f", text, "--ctx", CTX, "--chunks", CHUNKS, "--weights", weights, "--json",
                   env_extra={"SQUISH_QUANT_PATH": quant_path})
    return json.loads(r.stdout)


def bench(model, weights):
    r = run_squish("bench", model, "-p", 0, "-n", 8, "-r", 1, "--no-roofline", "--weights", weights, "--json")
    j = json.loads(r.stdout)
    return j["model_bytes"], next(t["tokens_per_second"] for t in j["tests"] if t["test"].startswith("tg"))


def dense_bytes(d: Path) -> int:
    """Weights that stay F32 in both runs: the token embedding (SmolLM2 ties it to the output) and
    the norms."""
    c = json.loads((d / "config.json").read_text())
    return (c["vocab_size"] + 2 * c["num_hidden_layers"] + 1) * c["hidden_size"] * 4


def packed_types(d: Path) -> dict:
    info = json.loads(run_squish("inspect", d, "--json").stdout)
    out = {}
    for m in info["metadata"]:
        if m["key"].startswith("quantization.model."):
            s = m["value"]["scheme"]
            out[m["key"]] = s.split("packs to ")[1] if "packs to " in s else None
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_packed_checkpoint_perplexity_matches_f32(tmp_path, smollm2, text, case):
    flags, allowed = CASES[case]
    out = tmp_path / "q"
    run_squish("export", smollm2, out, "--dtype", "bfloat16", *flags)
    types = packed_types(out)
    assert len(types) == 30 * 7
    assert set(types.values()) <= allowed, set(types.values())
    # The block kernels with F32 activations (SQUISH_QUANT_PATH=f32) and the default (AVX-512 panels
    # with two-level activations) hold the F32 result; the fast path rounds activations to int8 per
    # block of 32, as llama.cpp does.
    a, b = perplexity(out, text, "quantized", "f32"), perplexity(out, text, "f32")
    a2, a8 = perplexity(out, text, "quantized"), perplexity(out, text, "quantized", "fast")
    (qb, q_tps), (fb, f_tps) = bench(out, "quantized"), bench(out, "f32")
    e = dense_bytes(out)
    print(f"\n{case}: packs to {sorted(set(types.values()))}; ppl {a['ppl']:.4f} quantized kernels, "
          f"{b['ppl']:.4f} F32 (relative {a['ppl'] / b['ppl'] - 1:+.1e}; {a['seconds']:.2f} s vs {b['seconds']:.2f} s for {CHUNKS}x{CTX} tokens); "
          f"linears {(qb - e) / 2**20:.1f} MiB vs {(fb - e) / 2**20:.1f} MiB; decode {q_tps:.1f} vs {f_tps:.1f} t/s; "
          f"two-level activations {a2['ppl']:.4f}, int8 activations {a8['ppl']:.4f}")
    assert abs(a["ppl"] / b["ppl"] - 1) < 1e-3
    assert abs(a2["ppl"] / b["ppl"] - 1) < 1e-3
    assert abs(a8["ppl"] / b["ppl"] - 1) < 2e-2
    # The linears hold exactly their blocks' bytes: >= 4x smaller than F32 for INT4, 3.76x for INT8.
    if len(set(types.values())) == 1:
        assert (fb - e) / (qb - e) == pytest.approx(128 / BLOCK_BYTES[types.popitem()[1]], rel=1e-9)
    assert (fb - e) / (qb - e) >= (3.7 if "w8a16" in case else 4.0)


def test_f32_scales_off_the_f16_grid_keep_the_f32_path(tmp_path, smollm2, text):
    out = tmp_path / "q"
    run_squish("export", smollm2, out, "--dtype", "float32", "--format", "compressed-tensors", "--bits", "4",
               "--group-size", "64")
    assert set(packed_types(out).values()) == {None}
    assert bench(out, "quantized")[0] == bench(out, "f32")[0]
    assert perplexity(out, text, "quantized")["ppl"] == perplexity(out, text, "f32")["ppl"]
