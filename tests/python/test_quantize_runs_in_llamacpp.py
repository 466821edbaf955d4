"""squish's GGUF outputs run in llama.cpp unchanged, and llama.cpp's perplexity on them agrees with
squish's own (llama.cpp computes with quantized activations, squish with dequantized F32 weights,
so the two agree closely but not bit for bit: on the original Q4_1 model the gap is 0.7% at 3 chunks
and under 0.5% at 40). tests/oracle/quantize_acceptance.py does the same
for every mix of both models at 40 chunks."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
from conftest import ROOT, SHARED, SMOLLM2, run_squish  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "oracle"))
from perplexity_llamacpp import LlamaModel, perplexity, read_text  # noqa: E402

CHUNKS = 3


@pytest.mark.parametrize("mix", ["Q4_K_M", "Q8_0", "Q3_K_S", "IQ4_NL", "IQ4_XS"])
def test_llamacpp_perplexity_of_squish_output_matches_squish(tmp_path: Path, mix: str):
    out = tmp_path / f"smollm2-{mix}.gguf"
    run_squish("quantize", SMOLLM2, out, "--type", mix)
    text_file = SHARED / "wikitext-2-test.txt"
    with LlamaModel(out, n_ctx=512, n_batch=512) as m:
        theirs = perplexity(m, read_text(text_file), CHUNKS).ppl
    ours = json.loads(run_squish("perplexity", out, "--file", text_file, "--ctx", "512",
                                 "--chunks", CHUNKS, "--json").stdout)["ppl"]
    assert ours == pytest.approx(theirs, rel=1.5e-2), (ours, theirs)
