"""Resource limits: a few bytes claiming an enormous count or size must be refused with a one-line
error before anything is allocated for it. Each reader gets a tiny file whose header claims about
2^64 elements (or, for tokenizer.json, a vocabulary id of 2^24 - 1); the refusal must come at once,
with the process's peak RSS (measured by wait4) well under 200 MiB."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, SMOLLM2

BIN = os.environ.get("SQUISH_BIN", str(BUILD / "squish"))


def gguf_huge_tensor(d: Path) -> tuple[Path, list[str]]:
    """A GGUF v3 whose one F32 tensor claims 2^32 x 2^32 elements with no data behind it."""
    name = b"token_embd.weight"
    blob = b"GGUF" + struct.pack("<IQQ", 3, 1, 0)
    blob += struct.pack("<Q", len(name)) + name + struct.pack("<IQQIQ", 2, 1 << 32, 1 << 32, 0, 0)
    blob += b"\0" * (-len(blob) % 32)
    p = d / "huge.gguf"
    p.write_bytes(blob)
    return p, ["inspect", str(p)]


def gguf_huge_array(d: Path) -> tuple[Path, list[str]]:
    """A GGUF v3 whose one metadata array claims 2^64 - 1 strings."""
    key = b"tokenizer.ggml.tokens"
    blob = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    blob += struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, (1 << 64) - 1)
    p = d / "array.gguf"
    p.write_bytes(blob)
    return p, ["inspect", str(p)]


def gguf_long_array(d: Path) -> tuple[Path, list[str]]:
    """An 8 MiB GGUF v3 whose one metadata array really holds 2^23 uint8 elements (~48 bytes each in
    memory: 400 MB from 8 MB, were it not for the cap on array elements per file)."""
    key = b"tokenizer.ggml.token_type"
    blob = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    blob += struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 0, 1 << 23) + b"\1" * (1 << 23)
    p = d / "long.gguf"
    p.write_bytes(blob)
    return p, ["inspect", str(p)]


def gguf_metadata(pairs: list[tuple[str, int, bytes]]) -> bytes:
    """A GGUF v3 header with no tensors and the given (key, type, packed value) metadata."""
    blob = b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs))
    for key, vtype, value in pairs:
        blob += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", vtype) + value
    return blob


def gemma3_layers(n_layer: int) -> bytes:
    """Metadata of a Gemma 3 with n_layer layers, sliding window on (the per-layer table is sized by it)."""
    u32 = lambda v: struct.pack("<I", v)
    return gguf_metadata([("general.architecture", 8, struct.pack("<Q", 6) + b"gemma3"),
                          ("gemma3.block_count", 10, struct.pack("<Q", n_layer)),
                          ("gemma3.embedding_length", 4, u32(64)), ("gemma3.feed_forward_length", 4, u32(128)),
                          ("gemma3.attention.head_count", 4, u32(4)), ("gemma3.attention.sliding_window", 4, u32(512)),
                          ("gemma3.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-6))])


def gguf_huge_layers_load(d: Path) -> tuple[Path, list[str]]:
    """A Gemma 3 GGUF claiming 2^40 layers, loaded to generate (its sliding-window table took 128 GiB)."""
    p = d / "layers.gguf"
    p.write_bytes(gemma3_layers(1 << 40))
    return p, ["generate", str(p), "-p", "hi", "-n", "1"]


def gguf_huge_layers_plan(d: Path) -> tuple[Path, list[str]]:
    """The same file planned (the planner looped over 2^40 layers)."""
    p = d / "layers.gguf"
    p.write_bytes(gemma3_layers(1 << 40))
    return p, ["plan", str(p)]


def safetensors_huge(d: Path) -> tuple[Path, list[str]]:
    """A SafeTensors file whose tensor claims 2^62 x 4 F32 elements in 16 bytes of data."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 62, 4], "data_offsets": [0, 16]}}).encode()
    p = d / "model.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    return p, ["inspect", str(p)]


def imatrix_huge(d: Path) -> tuple[Path, list[str]]:
    """A legacy imatrix whose one entry claims 2^31 - 1 values."""
    name = b"blk.0.attn_q.weight"
    p = d / "huge.imatrix"
    p.write_bytes(struct.pack("<ii", 1, len(name)) + name + struct.pack("<ii", 1, 2**31 - 1) + b"\0" * 16)
    return p, ["quantize", str(SMOLLM2), str(d / "o.gguf"), "--type", "Q4_0", "--imatrix", str(p)]


def tokenizer_huge_id(d: Path) -> tuple[Path, list[str]]:
    """A 97-byte tokenizer.json whose one token has id 2^24 - 1 (the table is sized by the largest id)."""
    p = d / "tokenizer.json"
    p.write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": (1 << 24) - 1}, "merges": []},
                             "pre_tokenizer": {"type": "ByteLevel"}}))
    return p, ["tokenize", str(p), "--text", "hi"]


@pytest.mark.parametrize("make", [gguf_huge_tensor, gguf_huge_array, gguf_long_array, gguf_huge_layers_load,
                                  gguf_huge_layers_plan, safetensors_huge, imatrix_huge,
                                  tokenizer_huge_id], ids=lambda f: f.__name__)
def test_absurd_counts_are_refused_cheaply(make, tmp_path):
    path, args = make(tmp_path)
    # Peak RSS through GNU time: a child forked straight from this (large) pytest process would
    # report the parent's RSS as its own ru_maxrss, which Linux carries across fork and execve.
    rss = tmp_path / "rss.txt"
    start = time.monotonic()
    # `timeout` under `time`: a reader that spins is killed (exit 137) rather than left running.
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), "timeout", "-s", "KILL", "60", BIN, *args],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    err = p.stderr
    seconds, peak_mib = time.monotonic() - start, int(rss.read_text().split()[-1]) / 1024
    print(f"{make.__name__}: exit {p.returncode}, {seconds:.2f} s, peak RSS {peak_mib:.1f} MiB: {err.strip()}")
    assert p.returncode == 1 and err.startswith("squish: error: ") and err.count("\n") == 1, err
    assert str(path) in err
    assert peak_mib < 200 and seconds < 10
