"""`squish generate` end to end: greedy output equals llama.cpp's (goldens from
tests/oracle/model_goldens.py), chat templates, seeded sampling, and one-line errors."""
import json
import pytest

from conftest import GEMMA3, GOLDENS, SMOLLM2, run_squish

MODEL_GOLDENS = GOLDENS / "model"
TINY_LLAMA = MODEL_GOLDENS / "tiny_llama.gguf"


@pytest.mark.parametrize("name,path", [("smollm2", SMOLLM2), ("gemma3", GEMMA3)])
def test_greedy_cli_output_equals_llama_cpp(name, path, squish_bin):
    golden = json.loads((MODEL_GOLDENS / f"{name}.json").read_text())["greedy"][1]
    p = run_squish("generate", path, "--prompt", golden["prompt"], "--max-tokens", 64, "--threads", 2)
    assert p.stdout == golden["text"] + "\n"


def test_chat_smollm2_answers_and_stops_at_end_of_turn(squish_bin):
    p = run_squish("generate", SMOLLM2, "--prompt", "What is the capital of France?", "--chat",
                   "--max-tokens", 100, "--timings")
    assert "Paris" in p.stdout
    # Stops at <|im_end|> long before the limit, and never prints the special token.
    assert "<|im_end|>" not in p.stdout
    assert "generated 100 tokens" not in p.stderr


def test_seeded_sampling_is_reproducible_and_top_k_1_is_greedy(squish_bin):
    args = ["generate", TINY_LLAMA, "--prompt", "hello world", "--max-tokens", 24]

    def out(*extra):  # a random tiny model prints arbitrary bytes
        return run_squish(*args, *extra, errors="surrogateescape").stdout

    greedy = out()
    a, b, c = out("--temp", "1.5", "--seed", 1), out("--temp", "1.5", "--seed", 1), out("--temp", "1.5", "--seed", 2)
    assert a == b
    assert a != c
    assert out("--temp", "1.5", "--top-k", 1, "--seed", 3) == greedy
    assert out("--temp", "0.7", "--top-p", "0.000001", "--seed", 4) == greedy


def test_chat_without_template_is_a_clear_error(squish_bin):
    p = run_squish("generate", TINY_LLAMA, "--prompt", "hi", "--chat", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("squish: error: ")
    assert "chat template" in p.stderr and str(TINY_LLAMA) in p.stderr
    assert p.stderr.count("\n") == 1


def test_unknown_architecture_names_file_and_architecture(squish_bin, tmp_path):
    data = TINY_LLAMA.read_bytes().replace(b"llama", b"mamba")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(data)
    p = run_squish("generate", bad, "--prompt", "hi", check=False)
    assert p.returncode == 1
    assert str(bad) in p.stderr and "'mamba'" in p.stderr
    assert p.stderr.count("\n") == 1


def test_missing_model_file_is_an_error(squish_bin, tmp_path):
    p = run_squish("generate", tmp_path / "nope.gguf", "--prompt", "hi", check=False)
    assert p.returncode == 1 and p.stderr.startswith("squish: error: ")
