"""llama.cpp (llama-cpp-python's low-level API) as an oracle: tokenize, decode batches, perplexity.

Used by tests/oracle/perplexity_goldens.py (perplexity exactly as llama.cpp's tools/perplexity does it)
and the tests that run squish's outputs in llama.cpp. (Speed is measured with llama.cpp's own
llama-bench: bench/speed_vs_llamacpp.py.)
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import llama_cpp as L

_LOG_CALLBACK = None


def quiet_logs() -> None:
    """Silences llama.cpp's logging (the callback object must stay alive, hence the global)."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        _LOG_CALLBACK = L.llama_log_callback(lambda level, text, user: None)
        L.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p())
        L.llama_backend_init()


class LlamaModel:
    """A llama.cpp model plus one context of n_ctx positions (CPU only)."""

    def __init__(self, path: Path | str, n_ctx: int = 512, n_batch: int = 512, n_threads: int = 2):
        quiet_logs()
        self.path = str(path)
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(self.path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {self.path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.bos = L.llama_vocab_bos(self.vocab)
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_seq_max = 1
        cp.n_threads = n_threads
        cp.n_threads_batch = n_threads
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not create a context for {self.path}")
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.batch = L.llama_batch_init(max(n_batch, 1), 0, 1)

    def close(self) -> None:
        if self.ctx:
            L.llama_batch_free(self.batch)
            L.llama_free(self.ctx)
            L.llama_model_free(self.model)
            self.ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """llama_tokenize on the whole text (as common_tokenize does)."""
        data = text.encode("utf-8")
        n = -L.llama_tokenize(self.vocab, data, len(data), None, 0, add_special, parse_special)
        buf = (L.llama_token * max(n, 1))()
        got = L.llama_tokenize(self.vocab, data, len(data), buf, n, add_special, parse_special)
        if got < 0:
            raise RuntimeError("tokenization failed")
        return list(buf[:got])

    def clear(self) -> None:
        """Clears the KV cache."""
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)

    def decode(self, tokens: list[int], pos0: int, output_from: int | None = None) -> np.ndarray | None:
        """Decodes tokens at positions pos0.. in one batch; returns logits [n_out, n_vocab] for the
        positions >= output_from (None: no logits requested)."""
        b = self.batch
        n_out = 0
        for i, t in enumerate(tokens):
            b.token[i] = t
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            want = output_from is not None and pos0 + i >= output_from
            b.logits[i] = 1 if want else 0
            n_out += want
        b.n_tokens = len(tokens)
        rc = L.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc})")
        if n_out == 0:
            return None
        ptr = L.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab)).copy()


def read_text(path: Path | str) -> str:
    """Reads a text file as llama.cpp's -f does: the whole file, minus one trailing newline."""
    text = Path(path).read_bytes().decode("utf-8")
    return text[:-1] if text.endswith("\n") else text


def token_nll(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[token] per row, float64 sums of exp(logit - max) as llama.cpp does."""
    mx = logits.max(axis=1, keepdims=True)
    shifted = (logits - mx).astype(np.float64)
    lse = np.log(np.exp(shifted).sum(axis=1))
    return lse - shifted[np.arange(len(tokens)), tokens]


@dataclass
class PerplexityRun:
    """Result of llama.cpp's perplexity method."""
    ppl: float = 0.0
    stderr: float = 0.0
    n_text_tokens: int = 0
    n_scored: int = 0
    chunks: int = 0
    running_ppl: list = field(default_factory=list)
    seconds: float = 0.0


def perplexity(m: LlamaModel, text: str, n_chunks: int = -1) -> PerplexityRun:
    """tools/perplexity/perplexity.cpp (n_seq = 1): chunks of n_ctx tokens, BOS as first token of each
    chunk when the vocab adds BOS, only the second half of each chunk scored."""
    t0 = time.perf_counter()
    tokens = m.tokenize(text, add_special=True)
    n_ctx, n_batch = m.n_ctx, m.n_batch
    if len(tokens) < 2 * n_ctx:
        raise RuntimeError(f"need at least {2 * n_ctx} tokens, have {len(tokens)}")
    n_max = len(tokens) // n_ctx
    n_chunk = n_max if n_chunks < 0 else min(n_chunks, n_max)
    first = n_ctx // 2
    nll = nll2 = 0.0
    count = 0
    run = PerplexityRun(n_text_tokens=len(tokens), chunks=n_chunk)
    for i in range(n_chunk):
        start = i * n_ctx
        m.clear()
        rows = []
        for j in range(0, n_ctx, n_batch):
            chunk = list(tokens[start + j: start + min(j + n_batch, n_ctx)])
            if j == 0 and m.add_bos:
                chunk[0] = m.bos
            out = m.decode(chunk, j, output_from=first)
            if out is not None:
                rows.append(out)
        logits = np.concatenate(rows)[: n_ctx - 1 - first]
        targets = np.asarray(tokens[start + first + 1: start + n_ctx])
        v = token_nll(logits, targets)
        nll += float(v.sum())
        nll2 += float((v * v).sum())
        count += len(v)
        run.running_ppl.append(float(np.exp(nll / count)))
    mean = nll / count
    var = nll2 / count - mean * mean
    run.ppl = float(np.exp(mean))
    run.stderr = float(np.sqrt(var / (count - 1)) * run.ppl) if var > 0 else 0.0
    run.n_scored = count
    run.seconds = time.perf_counter() - t0
    return run

