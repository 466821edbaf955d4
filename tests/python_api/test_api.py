"""The Python API (`pip install .` -> `import squish`) against the `squish` CLI: the same code paths,
so generations, perplexities and quantized files must be equal, byte for byte where they are files.

Runs in a venv where the package is installed (scripts/test.sh builds and installs it). The CLI it
compares with is $SQUISH_BIN when set, else the `squish` command the wheel installed.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import squish

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("SQUISH_MODELS", Path.home() / ".cache" / "squish" / "models"))
SMOLLM2 = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
CALIB = ROOT.parent / "shared" / "data" / "calibration-mix.txt"
WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-test.txt"

# Small calibration: the one GPTQ run pair here is the slow part of the suite.
SAMPLES, SEQ_LEN = 2, 32

# An llm-compressor recipe (its stage/modifier layout): W4A16 in groups of 64 (SmolLM2's 576-wide
# inputs do not split into groups of 128), round to nearest, so oneshot's three runs take seconds.
LLMC_RECIPE = textwrap.dedent("""\
    quant_stage:
      quant_modifiers:
        QuantizationModifier:
          targets: [Linear]
          ignore: [lm_head]
          config_groups:
            group_0:
              targets: [Linear]
              weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 64}
    """)


def cli_path() -> str:
    if os.environ.get("SQUISH_BIN"):
        return os.environ["SQUISH_BIN"]
    return str(Path(sys.executable).parent / "squish")


def cli(*args, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, SQUISH_PROGRESS="0")
    p = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"squish {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p


def tree_bytes(path: Path) -> dict:
    """Relative path -> bytes of every file under a directory (or the file itself)."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def model():
    if not SMOLLM2.exists():
        pytest.fail(f"{SMOLLM2} missing; run scripts/setup.sh")
    return squish.load(SMOLLM2)


@pytest.fixture(scope="module")
def ppl_text(tmp_path_factory) -> Path:
    """A text of about 2,500 tokens: a few chunks of 256."""
    path = tmp_path_factory.mktemp("ppl") / "text.txt"
    path.write_text(WIKITEXT.read_text(encoding="utf-8")[:12000], encoding="utf-8")
    return path


def test_installed_cli_is_the_squish_command():
    installed = Path(sys.executable).parent / "squish"  # from the wheel's scripts
    out = subprocess.run([installed, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"squish {squish.__version__}"


def test_generate_streams_what_the_cli_prints(model):
    prompt = "The capital of France is"
    stream = model.generate(prompt, max_tokens=12)
    first = next(stream)  # an iterator: the first token arrives before the rest are generated
    assert isinstance(first, str) and first
    text = first + "".join(stream)
    out = cli("generate", SMOLLM2, "-p", prompt, "-n", 12, "--weights", "quantized", "--kv-cache-dtype", "f16").stdout
    assert out == text + "\n"
    # Sampling with a seed is the CLI's too.
    sampled = "".join(model.generate(prompt, max_tokens=12, temperature=0.9, seed=7))
    out = cli("generate", SMOLLM2, "-p", prompt, "-n", 12, "--temp", 0.9, "--seed", 7, "--weights", "quantized",
              "--kv-cache-dtype", "f16").stdout
    assert out == sampled + "\n"


def test_perplexity_equals_the_cli(model, ppl_text):
    calls = []
    r = model.perplexity(squish.read_text(ppl_text), ctx=256, chunks=3, source=str(ppl_text),
                         progress=lambda label, done, total: calls.append((label, done, total)))
    c = json.loads(cli("perplexity", SMOLLM2, "-f", ppl_text, "-c", 256, "--chunks", 3, "--json",
                       "--weights", "quantized", "--kv-cache-dtype", "f16").stdout)
    for key in ("ppl", "stderr", "n_ctx", "chunks", "n_tokens", "n_text_tokens", "running_ppl", "file"):
        assert r[key] == c[key], key
    assert r["chunks"] == 3 and 1 < r["ppl"] < 1000
    assert calls == [("perplexity", i, 3) for i in (1, 2, 3)]


def test_logits_tokenize_detokenize(model):
    ids = model.tokenize("Hello world, this is squish.")
    assert ids == [int(x) for x in cli("tokenize", SMOLLM2, "--text", "Hello world, this is squish.",
                                          "--ids-only").stdout.split()]
    assert model.detokenize(ids, skip_special=True) == "Hello world, this is squish."
    logits = model.logits(ids)
    assert isinstance(logits, np.ndarray) and logits.dtype == np.float32
    assert logits.shape == (len(ids), model.n_vocab)
    assert np.isfinite(logits).all()
    # The last row's argmax is the greedy continuation's first token.
    first = next(model.generate("Hello world, this is squish.", max_tokens=1))
    assert first == model.detokenize([int(logits[-1].argmax())])
    # A prefix evaluated alone gives the same rows (up to batching's rounding).
    head = model.logits(ids[:4])
    np.testing.assert_allclose(head, logits[:4], rtol=1e-3, atol=1e-3)


def test_inspect_is_the_cli_json(model):
    info = model.inspect()
    assert info == json.loads(cli("inspect", SMOLLM2, "--json").stdout)
    assert info == squish.inspect(SMOLLM2)


def test_plan_is_the_cli_json():
    got = squish.plan(SMOLLM2, hardware="RTX 4090", context=8192)
    want = json.loads(cli("plan", SMOLLM2, "--hardware", "RTX 4090", "--context", 8192, "--json").stdout)
    assert got == want


def test_quantize_gguf_byte_identical_with_progress(tmp_path):
    calls = []
    api = tmp_path / "api.gguf"
    squish.quantize(SMOLLM2, api, type="Q4_K_M", progress=lambda *a: calls.append(a))
    cli("quantize", SMOLLM2, tmp_path / "cli.gguf", "--type", "Q4_K_M")
    assert api.read_bytes() == (tmp_path / "cli.gguf").read_bytes()
    assert calls and all(label == "quantize Q4_K_M" for label, _, _ in calls)
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and done[-1] == calls[-1][2] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.gguf", "cli.gguf"]  # no temporaries left


def test_quantize_compressed_tensors_byte_identical(tmp_path):
    squish.quantize(SMOLLM2, tmp_path / "api", scheme="W4A16", group_size=64, method="gptq", calib=CALIB,
                    samples=SAMPLES, seq_len=SEQ_LEN)
    cli("quantize", SMOLLM2, tmp_path / "cli", "--scheme", "W4A16", "--group-size", 64, "--method", "gptq",
        "--calib", CALIB, "--samples", SAMPLES, "--seq-len", SEQ_LEN)
    api, ref = tree_bytes(tmp_path / "api"), tree_bytes(tmp_path / "cli")
    assert "config.json" in api and any(k.endswith(".safetensors") for k in api)
    assert api.keys() == ref.keys()
    for name in api:
        assert api[name] == ref[name], name
    assert json.loads(api["config.json"])["quantization_config"]["format"] == "pack-quantized"


def test_oneshot_with_an_llm_compressor_recipe(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(LLMC_RECIPE)
    calls = []
    out = squish.oneshot(model=SMOLLM2, recipe=recipe, dataset=CALIB, output_dir=tmp_path / "api",
                         num_calibration_samples=SAMPLES, max_seq_length=SEQ_LEN, progress=lambda *a: calls.append(a))
    assert out == str(tmp_path / "api")
    cli("quantize", SMOLLM2, tmp_path / "cli", "--recipe", recipe, "--calib", CALIB, "--samples", SAMPLES,
        "--seq-len", SEQ_LEN)
    assert tree_bytes(tmp_path / "api") == tree_bytes(tmp_path / "cli")
    assert calls, "progress callback not called"
    # The recipe as YAML text works the same.
    squish.oneshot(model=SMOLLM2, recipe=LLMC_RECIPE, dataset=CALIB, output_dir=tmp_path / "text",
                   num_calibration_samples=SAMPLES, max_seq_length=SEQ_LEN)
    assert tree_bytes(tmp_path / "text") == tree_bytes(tmp_path / "cli")
    cfg = json.loads((tmp_path / "api" / "config.json").read_text())["quantization_config"]
    (group,) = cfg["config_groups"].values()
    assert group["weights"]["num_bits"] == 4 and group["weights"]["group_size"] == 64


def test_errors_raise_squish_error(model, tmp_path):
    with pytest.raises(squish.SquishError, match="no-such-model.gguf"):
        squish.load(tmp_path / "no-such-model.gguf")
    with pytest.raises(squish.SquishError, match="unknown quantization type; did you mean .*Q4_K_M"):
        squish.quantize(SMOLLM2, tmp_path / "x.gguf", type="Q4_K_N")
    existing = tmp_path / "exists.gguf"
    existing.write_bytes(b"keep")
    with pytest.raises(squish.SquishError, match="output exists"):
        squish.quantize(SMOLLM2, existing, type="Q8_0")
    assert existing.read_bytes() == b"keep"
    with pytest.raises(squish.SquishError, match="not both"):
        squish.quantize(SMOLLM2, tmp_path / "y", type="Q8_0", scheme="W4A16")
    with pytest.raises(squish.SquishError, match="unknown scheme"):
        squish.quantize(SMOLLM2, tmp_path / "z", scheme="W4A61")
    with pytest.raises(squish.SquishError, match="outside the vocabulary"):
        model.logits([0, model.n_vocab])
    with pytest.raises(squish.SquishError, match="kv"):
        squish.load(SMOLLM2, kv_cache_dtype="f12")
    with pytest.raises(squish.SquishError):
        model.perplexity("too short", ctx=256)
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheme: W4A16\ngruop_size: 64\n")
    with pytest.raises(squish.SquishError, match="gruop_size"):
        squish.oneshot(model=SMOLLM2, recipe=bad, output_dir=tmp_path / "o")
    assert isinstance(squish.SquishError("x"), RuntimeError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "exists.gguf"]


def test_progress_callback_exception_aborts_without_output(tmp_path):
    def stop(label, done, total):
        if done > 0:
            raise ValueError("enough")
    with pytest.raises(ValueError, match="enough"):
        squish.quantize(SMOLLM2, tmp_path / "out.gguf", type="Q8_0", progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_long_calls_release_the_gil(model):
    ticks = [0]
    running = threading.Event()
    stop = threading.Event()

    def count():
        running.set()
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    running.wait()
    ids = model.tokenize("word " * 200)
    before, t0 = ticks[0], time.time()
    model.logits(ids)
    during, seconds = ticks[0] - before, time.time() - t0
    stop.set()
    t.join()
    # With the GIL held for the whole call the counter could not move.
    assert seconds > 0.05 and during >= 5, (seconds, during)


def test_ctrl_c_interrupts_quantize_without_partial_output(tmp_path):
    out = tmp_path / "out.gguf"
    script = textwrap.dedent(f"""
        import signal, sys, time, squish
        # Python's own Ctrl-C handler even when this test runs in a background job, whose children
        # inherit SIGINT ignored (and Python then installs no handler).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        started = False
        def progress(label, done, total):
            global started
            if not started:
                started = True
                print("started", flush=True)
            time.sleep(0.02)  # keep the run going long enough for the signal to land mid-way
        try:
            squish.quantize({str(SMOLLM2)!r}, {str(out)!r}, type="Q4_K_M", progress=progress)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, SQUISH_PROGRESS="0"))
    assert p.stdout.readline().strip() == "started"
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 3, (stdout, stderr)
    assert stdout.strip() == "interrupted"
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary


def test_compare_is_the_cli_json(ppl_text, tmp_path):
    cache = tmp_path / "cache"
    calls = []
    got = squish.compare(SMOLLM2, tmp_path / "py", types=["Q8_0", "Q4_0"], ctx=128, chunks=2, text=ppl_text,
                         cache=cache, progress=lambda *a: calls.append(a))
    assert [r["config"] for r in got] == ["input", "Q8_0", "Q4_0"] and calls
    assert got[1]["kld"] < got[2]["kld"] and got[1]["bytes"] > got[2]["bytes"]
    assert json.loads((tmp_path / "py" / "results.json").read_text()) == got
    assert (tmp_path / "py" / "report.md").is_file()
    # The CLI's rows for the same matrix, from the cache the Python run filled (so even the speeds
    # are the same figures).
    flags = ["--types", "Q8_0,Q4_0", "-c", 128, "--chunks", 2, "-f", ppl_text, "--cache", cache]
    want = json.loads(cli("compare", SMOLLM2, "-o", tmp_path / "cli", *flags, "--json").stdout)
    assert got == want
    assert (tmp_path / "cli" / "results.json").read_text() == (tmp_path / "py" / "results.json").read_text()
    with pytest.raises(squish.SquishError, match="Q9_9"):
        squish.compare(SMOLLM2, tmp_path / "bad", types="Q9_9", cache=cache)


def address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_tensors_of_a_gguf_are_gguf_py_arrays_without_a_copy():
    gguf = pytest.importorskip("gguf")
    theirs = gguf.GGUFReader(str(SMOLLM2)).tensors
    ours = squish.tensors(SMOLLM2)
    assert list(ours) == [t.name for t in theirs]
    base = address(ours[theirs[0].name].data) - int(theirs[0].data_offset)
    for t in theirs:
        view = ours[t.name]
        assert view.type == t.tensor_type.name
        assert view.shape == tuple(int(d) for d in reversed(t.shape))
        assert view.data.dtype == t.data.dtype and view.data.shape == t.data.shape
        assert view.data.tobytes() == t.data.tobytes()
        # A view into the one mapping of the file, not a copy: at the tensor's file offset, read-only.
        assert address(view.data) - base == int(t.data_offset)
        assert not view.data.flags.writeable and not view.data.flags.owndata
    # The arrays keep the mapping alive after everything else is gone.
    name = theirs[-1].name
    keep = ours[name].data
    del ours
    import gc
    gc.collect()
    assert keep.tobytes() == theirs[-1].data.tobytes()


def write_safetensors(path: Path, tensors: dict, pad: int) -> None:
    """A .safetensors file by the format's definition (8-byte header length, JSON header, data); `pad`
    spaces in the header put the data at an unaligned offset."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode() + b" " * pad
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def test_tensors_of_a_safetensors_file_by_dtype(tmp_path):
    rng = np.random.default_rng(5)
    arrays = {
        "f32": ("F32", rng.standard_normal((3, 5)).astype(np.float32)),
        "f16": ("F16", rng.standard_normal((4,)).astype(np.float16)),
        "bf16": ("BF16", rng.integers(0, 2**16, (2, 3), dtype=np.uint16)),
        "fp8": ("F8_E4M3", rng.integers(0, 256, (2, 2), dtype=np.uint8)),
        "i8": ("I8", rng.integers(-128, 128, (7,), dtype=np.int8)),
        "u8": ("U8", rng.integers(0, 256, (1, 3), dtype=np.uint8)),
        "i32": ("I32", rng.integers(-2**31, 2**31, (2, 2), dtype=np.int32)),
        "i64": ("I64", rng.integers(-2**62, 2**62, (3,), dtype=np.int64)),
        "scalar": ("F32", np.array(2.5, dtype=np.float32)),
        "empty": ("F32", np.zeros((0, 4), dtype=np.float32)),
    }
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {k: (d, a.shape, a.tobytes()) for k, (d, a) in arrays.items()}, pad=3)
    got = squish.tensors(path)
    assert list(got) == list(arrays)
    try:
        import ml_dtypes  # noqa: F401 -- with it, BF16 / FP8 come as its dtypes
        extension = True
    except ImportError:
        extension = False
    for name, (dtype, want) in arrays.items():
        view = got[name]
        assert view.type == dtype and view.shape == want.shape and view.data.shape == want.shape
        assert view.data.tobytes() == want.tobytes()
        assert not view.data.flags.writeable
        if dtype not in ("BF16", "F8_E4M3") or not extension:
            assert view.data.dtype == want.dtype
            assert np.array_equal(view.data, want)
    assert got["f32"].data[1, 2] == arrays["f32"][1][1, 2]
    (tmp_path / "empty").mkdir()
    with pytest.raises(squish.SquishError, match="no .safetensors file"):
        squish.tensors(tmp_path / "empty")
