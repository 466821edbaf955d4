"""Bad model files through the CLI: each corruption gives exactly one line
"squish: error: <file>: <problem>" and exit code 1 — never a signal, a sanitizer report or a huge
allocation (every run is limited to 2 GiB of address space unless SQUISH_NO_MEMLIMIT is set, e.g.
for sanitizer builds). The corrupted files are made from a small valid GGUF written with the gguf
package; field positions come from gguf's own reader."""
from __future__ import annotations

import os
import resource
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from conftest import BUILD, SMOLLM2  # noqa: E402

MEM_LIMIT = 2 << 30


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def squish(*args) -> subprocess.CompletedProcess:
    binary = os.environ.get("SQUISH_BIN", str(BUILD / "squish"))
    env = dict(os.environ, SQUISH_PROGRESS="0")
    limit = None if os.environ.get("SQUISH_NO_MEMLIMIT") else _limit_memory
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, env=env,
                          preexec_fn=limit, timeout=300)


def assert_one_line_error(p: subprocess.CompletedProcess, path: Path, *needles: str) -> str:
    """Exit code 1 and a single stderr line naming the file and containing every needle."""
    assert p.returncode == 1, f"exit {p.returncode} (negative = signal); stderr: {p.stderr[-2000:]}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {p.stderr[-2000:]}"
    line = lines[0]
    assert line.startswith(f"squish: error: {path}: "), line
    for n in needles:
        assert n in line, f"'{n}' not in: {line}"
    return line


class Fixture:
    """A valid GGUF's bytes plus the byte positions of its header fields."""

    def __init__(self, path: Path):
        self.path = path
        self.data = path.read_bytes()
        r = gguf.GGUFReader(path)
        self.field = {k: self._parts(f) for k, f in r.fields.items()}
        self.tensor = {t.name: self._parts(t.field) for t in r.tensors}

    @staticmethod
    def _parts(field) -> list[int]:
        """Absolute offset of each part of a reader field."""
        pos, out = field.offset, []
        for p in field.parts:
            out.append(pos)
            pos += p.nbytes
        return out

    def patched(self, tmp: Path, pos: int, fmt: str, value) -> Path:
        b = bytearray(self.data)
        struct.pack_into("<" + fmt, b, pos, value)
        out = tmp / "bad.gguf"
        out.write_bytes(bytes(b))
        return out

    def bytes_to(self, tmp: Path, b: bytes) -> Path:
        out = tmp / "bad.gguf"
        out.write_bytes(b)
        return out


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Fixture:
    path = tmp_path_factory.mktemp("gguf") / "valid.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_string("general.name", "tiny")
    w.add_array("test.strings", ["a", "bc", "def"])
    w.add_tensor("a.weight", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.add_tensor("b.weight", np.ones((4, 32), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Fixture(path)


def test_valid_fixture_inspects(valid):
    p = squish("inspect", valid.path)
    assert p.returncode == 0, p.stderr
    assert "a.weight" in p.stdout and "b.weight" in p.stdout
    assert "architecture:  llama" in p.stdout


def test_truncated_header(valid, tmp_path):
    path = valid.bytes_to(tmp_path, valid.data[: valid.tensor["a.weight"][3] + 4])
    assert_one_line_error(squish("inspect", path), path, "truncated")


def test_truncated_tensor_data(valid, tmp_path):
    path = valid.bytes_to(tmp_path, valid.data[:-100])
    assert_one_line_error(squish("inspect", path), path, "b.weight", "beyond the end of the file")


def test_empty_file(valid, tmp_path):
    path = valid.bytes_to(tmp_path, b"")
    assert_one_line_error(squish("inspect", path), path, "not a GGUF file")


def test_wrong_magic(valid, tmp_path):
    path = valid.bytes_to(tmp_path, b"GGML" + valid.data[4:])
    assert_one_line_error(squish("inspect", path), path, "bad magic")


def test_bit_flipped_version(valid, tmp_path):
    path = valid.patched(tmp_path, 4, "I", 3 ^ (1 << 9))
    assert_one_line_error(squish("inspect", path), path, "unsupported GGUF version")


def test_bit_flipped_key_length(valid, tmp_path):
    pos = valid.field["general.name"][0]
    path = valid.patched(tmp_path, pos, "Q", len("general.name") ^ (1 << 45))
    assert_one_line_error(squish("inspect", path), path, "exceeds the file")


def test_bit_flipped_value_type(valid, tmp_path):
    pos = valid.field["llama.block_count"][2]
    path = valid.patched(tmp_path, pos, "I", int(gguf.GGUFValueType.UINT32) ^ (1 << 20))
    assert_one_line_error(squish("inspect", path), path, "unknown metadata type")


def test_tensor_offset_beyond_end(valid, tmp_path):
    pos = valid.tensor["b.weight"][5]
    path = valid.patched(tmp_path, pos, "Q", 1 << 30)
    assert_one_line_error(squish("inspect", path), path, "b.weight", "beyond the end of the file")


def test_tensor_size_beyond_end(valid, tmp_path):
    pos = valid.tensor["b.weight"][3] + 8  # second dimension
    path = valid.patched(tmp_path, pos, "Q", 4000)
    assert_one_line_error(squish("inspect", path), path, "b.weight", "beyond the end of the file")


def test_absurd_tensor_count(valid, tmp_path):
    path = valid.patched(tmp_path, valid.field["GGUF.tensor_count"][0], "Q", 1 << 62)
    assert_one_line_error(squish("inspect", path), path, "tensor count")


def test_absurd_metadata_count(valid, tmp_path):
    path = valid.patched(tmp_path, valid.field["GGUF.kv_count"][0], "Q", 2**64 - 1)
    assert_one_line_error(squish("inspect", path), path, "metadata count")


def test_absurd_string_length(valid, tmp_path):
    pos = valid.field["general.name"][3]  # the value's length
    path = valid.patched(tmp_path, pos, "Q", 2**63)
    assert_one_line_error(squish("inspect", path), path, "length", "exceeds the file")


def test_absurd_array_length(valid, tmp_path):
    pos = valid.field["test.strings"][4]  # after the element type
    path = valid.patched(tmp_path, pos, "Q", 1 << 61)
    assert_one_line_error(squish("inspect", path), path, "array length", "test.strings")


def test_absurd_dimension_count(valid, tmp_path):
    pos = valid.tensor["a.weight"][2]
    path = valid.patched(tmp_path, pos, "I", 0xFFFFFFFF)
    assert_one_line_error(squish("inspect", path), path, "a.weight", "dimensions")


def test_absurd_dimension(valid, tmp_path):
    pos = valid.tensor["a.weight"][3]
    path = valid.patched(tmp_path, pos, "Q", 2**64 - 1)
    assert_one_line_error(squish("inspect", path), path, "a.weight", "impossible shape")


def test_dimensions_whose_byte_size_overflows(valid, tmp_path):
    # 2^40 x 2^22 F32 elements = 2^64 bytes, which wraps to 0 in 64-bit arithmetic.
    pos = valid.tensor["a.weight"][3]
    b = bytearray(valid.data)
    struct.pack_into("<QQ", b, pos, 1 << 40, 1 << 22)
    path = valid.bytes_to(tmp_path, bytes(b))
    assert_one_line_error(squish("inspect", path), path, "a.weight", "beyond the end of the file")


@pytest.fixture(scope="module")
def smollm2_reader():
    if not SMOLLM2.exists():
        pytest.skip("SmolLM2 not fetched")
    return gguf.GGUFReader(SMOLLM2)


def _model_like(src, tmp: Path, arch: str, keep_tensors: set[str]) -> Path:
    """SmolLM2's metadata (tokenizer included) under architecture `arch` with only `keep_tensors`."""
    out = tmp / f"{arch}-partial.gguf"
    w = gguf.GGUFWriter(out, arch)
    for key, field in src.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key.startswith("llama."):
            key = arch + key[len("llama"):]
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, field.contents(), vtype, sub_type=field.types[-1])
        else:
            w.add_key_value(key, field.contents(), vtype)
    for t in src.tensors:
        if t.name in keep_tensors:
            w.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


@pytest.fixture(scope="module")
def text_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("text") / "text.txt"
    p.write_text("The quick brown fox jumps over the lazy dog. " * 200)
    return p


def test_unknown_architecture(smollm2_reader, tmp_path, text_file):
    path = _model_like(smollm2_reader, tmp_path, "mamba9", {"output_norm.weight"})
    assert squish("inspect", path).returncode == 0  # the file itself is fine
    line = assert_one_line_error(squish("perplexity", path, "--file", text_file, "--ctx", 64), path)
    assert "architecture" in line and "mamba9" in line, line


def test_missing_tensors(smollm2_reader, tmp_path, text_file):
    path = _model_like(smollm2_reader, tmp_path, "llama", {"output_norm.weight", "token_embd.weight"})
    line = assert_one_line_error(squish("perplexity", path, "--file", text_file, "--ctx", 64), path)
    assert "missing tensor" in line and "blk.0." in line, line
