"""`squish plan` through the CLI: JSON figures, the arithmetic in the Markdown, one-line errors."""
import json

import pytest

from conftest import GEMMA3, run_squish


def plan_json(*args):
    return json.loads(run_squish("plan", *args, "--json").stdout)


@pytest.mark.parametrize("params,fp16,int4", [("7e9", 14, 3.5), ("13e9", 26, 6.5), ("70e9", 140, 35),
                                              ("405e9", 810, 202.5)])
def test_published_sizes(params, fp16, int4):
    j = plan_json("--params", params, "--layers", "80", "--kv-heads", "8", "--head-dim", "128")
    thumb = j["rule_of_thumb_bytes"]
    assert thumb["FP16"] / 1e9 == pytest.approx(fp16, abs=1e-9)
    assert thumb["INT4 (payload only)"] / 1e9 == pytest.approx(int4, abs=1e-9)
    fp16_row = next(r for r in j["schemes"] if r["scheme"] == "FP16/BF16")
    assert fp16_row["weight_bytes"] / 1e9 == pytest.approx(fp16, abs=1e-9)


def test_kv_cache_arithmetic_in_markdown():
    md = run_squish("plan", "llama-3-70b", "--context", "128K").stdout
    assert "meta-llama/Meta-Llama-3-70B config.json" in md
    assert "2 (K and V) × 80 layers × 131072 tokens × 8 KV heads × 128 head dim × 1 users × 2 bytes" in md
    assert "= 42949672960 bytes = 42.95 GB (40.00 GiB)" in md
    assert "4 + 16/128 = 4.125" in md and "2/128 ≈ 1.6%" in md
    assert "8/64 + 32/(64·256)" in md and "3.26 GB" in md


def test_recommendation_json_and_gguf_input():
    j = plan_json(str(GEMMA3), "--hardware", "M1", "--ram", "8")
    assert j["model"]["arch"] == "gemma3" and j["model"]["swa_layers"] == 15
    assert j["recommendation"]["scheme"] in ("Q5_K_M", "Q4_K_M")
    assert "llama.cpp" in j["recommendation"]["engine"]
    assert j["recommendation"]["decode_tokens_per_s_upper_bound"] > 0


def test_unknown_hardware_one_line_error():
    p = run_squish("plan", "llama-3-8b", "--hardware", "A100 81", check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert "closest known: A100-80" in p.stderr


def test_impossible_workload_says_shortfall():
    p = run_squish("plan", "llama-3-70b", "--vram", "24", "--context", "128K", "--users", "8", check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert "does not fit" in p.stderr and "short" in p.stderr and "has 21.60 GB usable" in p.stderr


@pytest.mark.parametrize("args", [["--params", "7e9"], ["no-such-model"], ["llama-3-8b", "--context", "x"],
                                  ["llama-3-8b", "--goal", "fast"], ["llama-3-8b", "--hardware", "CPU"]])
def test_bad_input(args):
    p = run_squish("plan", *args, check=False)
    assert p.returncode == 1 and p.stderr.startswith("squish: error:") and p.stderr.count("\n") == 1
