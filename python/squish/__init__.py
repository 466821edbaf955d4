"""squish: quantize language models, measure the loss, run them on the CPU.

A thin layer over squish's C++ library (the native module ``squish._squish``): the same code paths
as the ``squish`` command-line tool, so a perplexity or a quantized file from Python is the one the
CLI gives for the same settings.

    >>> import squish
    >>> m = squish.load("SmolLM2-135M-Instruct.Q4_1.gguf")
    >>> print("".join(m.generate("The capital of France is", max_tokens=8)))
    >>> squish.quantize("model.gguf", "model.Q4_K_M.gguf", type="Q4_K_M")

Errors raise :class:`SquishError` carrying squish's one-line message. Long calls (load, quantize,
perplexity, logits) release the GIL; Ctrl-C interrupts quantize and perplexity, and an interrupted
quantize leaves no output behind (it writes through a temporary that is renamed at the end).
"""
from __future__ import annotations

import codecs
import json
import os
import tempfile
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Union

from . import _squish
from ._squish import SquishError

__all__ = [
    "SquishError",
    "Model",
    "load",
    "quantize",
    "oneshot",
    "plan",
    "compare",
    "inspect",
    "tensors",
    "TensorView",
    "read_text",
    "set_threads",
    "__version__",
]

__version__: str = _squish.__version__

PathLike = Union[str, "os.PathLike[str]"]
ProgressCallback = Callable[[str, int, int], Any]


def set_threads(n: int) -> None:
    """Sets the worker threads of every later call (``n <= 0``: all cores; the CLI's ``-t``)."""
    _squish.set_threads(int(n))


class Model:
    """A loaded model (GGUF file or HF model directory). Create it with :func:`load`."""

    def __init__(self, native: "_squish.Model") -> None:
        self._m = native

    @property
    def path(self) -> str:
        """The file or directory the model was loaded from."""
        return self._m.path

    @property
    def n_vocab(self) -> int:
        """Vocabulary size (the logits' last dimension)."""
        return self._m.n_vocab

    @property
    def kv_cache_dtype(self) -> str:
        """Element type of the KV cache of this model's sessions."""
        return self._m.kv_cache_dtype

    def generate(
        self,
        prompt: str,
        max_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        top_k: int = 0,
        top_p: float = 1.0,
        chat: bool = False,
        system: str = "",
    ) -> Iterator[str]:
        """Streams a continuation of ``prompt`` as the text of each generated token, as
        ``squish generate`` does (greedy when ``temperature`` is 0; ``chat`` wraps the prompt in the
        model's chat template). Stops at an end-of-generation token or after ``max_tokens``.
        A token that ends inside a UTF-8 character yields its text once the character is complete."""
        stream = self._m.generate(
            prompt, max_tokens=int(max_tokens), temperature=float(temperature), top_k=int(top_k),
            top_p=float(top_p), seed=int(seed), chat=bool(chat), system=system,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for piece in stream:
            text = decoder.decode(piece)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def perplexity(
        self,
        text: str,
        ctx: int = 512,
        chunks: Optional[int] = None,
        batch: int = 512,
        progress: Optional[ProgressCallback] = None,
        source: str = "<text>",
    ) -> Dict[str, Any]:
        """Perplexity of ``text`` by llama.cpp's method, as ``squish perplexity --json`` reports it:
        a dict with ``ppl``, ``stderr``, ``n_ctx``, ``chunks``, ``n_tokens``, ``n_text_tokens``,
        ``running_ppl``, ``seconds``, ``model`` and ``file`` (= ``source``). ``chunks``: evaluate only
        the first N chunks of ``ctx`` tokens. ``progress(label, chunk, n_chunks)`` is called after
        each chunk. To match the CLI reading a file, pass the text as :func:`read_text` reads it."""
        return self._m.perplexity(
            text, ctx=int(ctx), chunks=-1 if chunks is None else int(chunks), batch=int(batch),
            source=source, progress=progress,
        )

    def logits(self, tokens: Sequence[int]) -> "Any":
        """Logits at every position of ``tokens`` evaluated from an empty cache: a float32 numpy
        array of shape ``(len(tokens), n_vocab)``."""
        return self._m.logits([int(t) for t in tokens])

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = False) -> List[int]:
        """Token ids of ``text`` (``add_special``: BOS/EOS as the model's metadata says;
        ``parse_special``: recognise special-token text such as ``<|im_start|>``)."""
        return self._m.tokenize(text, add_special=add_special, parse_special=parse_special)

    def detokenize(self, ids: Sequence[int], skip_special: bool = False) -> str:
        """The text of token ids (special tokens rendered as their text unless ``skip_special``)."""
        return self._m.detokenize([int(i) for i in ids], skip_special=skip_special).decode("utf-8", "replace")

    def inspect(self) -> Dict[str, Any]:
        """Architecture, metadata and tensors of the model's file: ``squish inspect --json``'s data."""
        return inspect(self.path)

    def __repr__(self) -> str:
        return f"squish.Model({self.path!r}, kv_cache_dtype={self.kv_cache_dtype!r})"


def load(
    path: PathLike,
    weights: str = "quantized",
    kv_cache_dtype: str = "f16",
    convert: str = "none",
    llm_int8_threshold: float = 6.0,
) -> Model:
    """Loads a GGUF file or an HF model directory.

    ``weights``: ``"quantized"`` runs GGUF blocks with the quantized kernels, ``"f32"`` dequantizes
    them at load (the CLI's ``--weights``). ``kv_cache_dtype``: f32, f16, bf16, fp8, int8 or int4.
    ``convert``: none, w8a8, llm-int8, fp8 or nf4 (the CLI's ``--convert``)."""
    return Model(_squish.Model(os.fspath(path), weights=weights, kv_cache_dtype=kv_cache_dtype,
                               convert=convert, llm_int8_threshold=float(llm_int8_threshold)))


def read_text(path: PathLike) -> str:
    """A text file as ``squish perplexity -f`` reads it (the whole file, one trailing newline
    dropped), so ``model.perplexity(read_text(f))`` equals the CLI's result for ``-f f``."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    return data.decode("utf-8")


def _opt(value: Optional[int]) -> int:
    return -1 if value is None else int(value)


def quantize(
    src: PathLike,
    dst: PathLike,
    type: Optional[str] = None,
    scheme: Optional[str] = None,
    method: str = "rtn",
    recipe: Optional[PathLike] = None,
    calib: Optional[PathLike] = None,
    samples: Optional[int] = None,
    seq_len: Optional[int] = None,
    seed: Optional[int] = None,
    group_size: Optional[int] = None,
    format: str = "compressed-tensors",
    imatrix: Optional[PathLike] = None,
    damp: float = 0.01,
    alpha: float = 0.5,
    act_order: str = "static",
    kv_cache_scheme: Optional[str] = None,
    dtype: str = "bfloat16",
    progress: Optional[ProgressCallback] = None,
    force: bool = False,
    leave_output_tensor: bool = False,
    pure: bool = False,
    awq_clip: bool = False,
    resume: bool = False,
    max_memory: Optional[str] = None,
    verbose: bool = False,
) -> str:
    """Quantizes ``src`` (GGUF file or HF directory) into ``dst``, exactly as ``squish quantize``
    with the same flags does (the same code path; outputs are byte-identical):

    * ``type="Q4_K_M"`` (a llama.cpp mix) writes a GGUF file; ``method`` rtn or gptq.
    * ``scheme="W4A16"`` (or ``recipe=`` a YAML recipe, llm-compressor's layout or squish's) writes
      an HF SafeTensors checkpoint directory in ``format`` (compressed-tensors, gptq, awq);
      ``method``: rtn, gptq, awq, smoothquant or a comma list such as ``"smoothquant,gptq"``.

    ``calib``, ``samples``, ``seq_len``, ``seed``: calibration text (default
    ``../shared/data/calibration-mix.txt``) and windows; given, they override a recipe's.
    ``progress(label, done, total)`` is called as the work advances. An existing ``dst`` is refused
    unless ``force``. Ctrl-C raises KeyboardInterrupt and leaves no ``dst`` (a calibrated run keeps
    its resumable state in ``dst + ".partial"``, as the CLI does; ``resume=True`` continues it).
    Returns ``dst``."""
    _squish.quantize(
        os.fspath(src), os.fspath(dst), type=type or "", scheme=scheme or "",
        recipe=os.fspath(recipe) if recipe is not None else "", method=method, format=format,
        calib=os.fspath(calib) if calib is not None else "", samples=_opt(samples),
        seq_len=_opt(seq_len), seed=_opt(seed), group_size=_opt(group_size), damp=float(damp),
        alpha=float(alpha), act_order=act_order, imatrix=os.fspath(imatrix) if imatrix else "",
        kv_cache_scheme=kv_cache_scheme or "", dtype=dtype, force=bool(force),
        leave_output_tensor=bool(leave_output_tensor), pure=bool(pure), awq_clip=bool(awq_clip),
        resume=bool(resume), max_memory=max_memory or "", verbose=bool(verbose), progress=progress,
    )
    return os.fspath(dst)


def oneshot(
    model: PathLike,
    recipe: Union[PathLike, str],
    dataset: Optional[PathLike] = None,
    output_dir: Optional[PathLike] = None,
    num_calibration_samples: Optional[int] = None,
    max_seq_length: Optional[int] = None,
    seed: Optional[int] = None,
    format: str = "compressed-tensors",
    progress: Optional[ProgressCallback] = None,
    overwrite: bool = False,
) -> str:
    """llm-compressor's ``oneshot(model=..., recipe=..., dataset=..., output_dir=...)`` in squish:
    calibrates ``model`` (HF directory or GGUF file) with ``recipe`` (a YAML file in llm-compressor's
    layout, or the YAML text itself) on ``dataset`` (a text or JSONL file; default the recipe's or
    ``../shared/data/calibration-mix.txt``) and writes a compressed-tensors checkpoint to
    ``output_dir``. ``num_calibration_samples`` / ``max_seq_length`` override the recipe's.
    Returns ``output_dir``."""
    if output_dir is None:
        raise SquishError("oneshot: output_dir is required")
    recipe_text = os.fspath(recipe) if isinstance(recipe, os.PathLike) else recipe
    if "\n" in recipe_text or not os.path.exists(recipe_text):
        if "\n" not in recipe_text:
            raise SquishError(f"{recipe_text}: no such recipe file")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(recipe_text)
            recipe_path = f.name
        try:
            return oneshot(model, recipe_path, dataset, output_dir, num_calibration_samples, max_seq_length,
                           seed, format, progress, overwrite)
        finally:
            os.unlink(recipe_path)
    return quantize(model, output_dir, recipe=recipe_text, calib=dataset, samples=num_calibration_samples,
                    seq_len=max_seq_length, seed=seed, format=format, progress=progress, force=overwrite)


def inspect(path: PathLike) -> Dict[str, Any]:
    """Architecture, metadata and tensors of a GGUF file, .safetensors file or HF directory:
    the data ``squish inspect --json`` prints."""
    return json.loads(_squish.inspect_json(os.fspath(path)))


def plan(
    model: Optional[PathLike] = None,
    params: Optional[Union[str, int, float]] = None,
    hardware: str = "",
    vram: Optional[float] = None,
    ram: Optional[float] = None,
    gpus: int = 1,
    bandwidth: Optional[float] = None,
    context: Union[int, str] = 4096,
    users: int = 1,
    goal: str = "balanced",
    **shape: Union[int, str],
) -> Dict[str, Any]:
    """A deployment plan, the data ``squish plan --json`` prints: memory per scheme, what fits on
    ``hardware`` (or ``vram``/``ram`` in GB), what to use. ``model``: a GGUF file, config.json, HF
    directory or built-in name; or ``params`` with ``layers``, ``kv_heads``, ``head_dim`` (and
    optionally ``heads``, ``hidden``, ``ffn``, ``vocab``) as keyword arguments."""
    known = {"layers", "kv_heads", "head_dim", "heads", "hidden", "ffn", "vocab"}
    unknown = set(shape) - known
    if unknown:
        raise TypeError(f"plan() got unexpected keyword arguments: {', '.join(sorted(unknown))}")

    def text(v: Any) -> str:
        return "" if v is None else str(v)

    return json.loads(_squish.plan_json(
        model=os.fspath(model) if model is not None else "", params=text(params), hardware=hardware,
        vram=text(vram), ram=text(ram), gpus=str(gpus), bandwidth=text(bandwidth), context=str(context),
        users=str(users), goal=goal, **{k: str(v) for k, v in shape.items()},
    ))


def _list(value: Union[None, str, Sequence[Any]]) -> str:
    """A comma-separated option value from a list (or a string as it is)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def compare(
    model: PathLike,
    output: PathLike,
    types: Union[None, str, Sequence[str]] = None,
    schemes: Union[None, str, Sequence[str]] = None,
    methods: Union[str, Sequence[str]] = "rtn",
    group_sizes: Union[None, str, Sequence[int]] = None,
    formats: Union[str, Sequence[str]] = "compressed-tensors",
    calib: Optional[PathLike] = None,
    samples: Optional[int] = None,
    seq_len: Optional[int] = None,
    damp: float = 0.01,
    text: Optional[PathLike] = None,
    ctx: int = 512,
    chunks: int = 8,
    cache: Optional[PathLike] = None,
    force: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> List[Dict[str, Any]]:
    """Runs ``squish compare``: quantizes ``model`` into every configuration of the matrix (GGUF
    ``types``; SafeTensors ``schemes`` x ``group_sizes`` x ``methods`` x ``formats``), measures each
    against the model on ``text`` (perplexity, KL divergence, top-1 agreement, speed) and writes
    report.md, results.json and the charts into ``output``. Returns the rows ``squish compare --json``
    prints, the model itself first. Lists may be Python lists or comma-separated strings; with
    ``schemes`` alone the default GGUF mixes are not run."""
    return json.loads(_squish.compare_json(
        os.fspath(model), os.fspath(output), types=_list(types), schemes=_list(schemes),
        methods=_list(methods), group_sizes=_list(group_sizes), formats=_list(formats),
        calib=os.fspath(calib) if calib is not None else "", samples=_opt(samples), seq_len=_opt(seq_len),
        damp=float(damp), text=os.fspath(text) if text is not None else "", ctx=int(ctx), chunks=int(chunks),
        cache=os.fspath(cache) if cache is not None else "", force=bool(force), progress=progress,
    ))


class TensorView(NamedTuple):
    """One tensor of a file, read without a copy.

    ``type``: the file's type name (GGUF: F32, F16, BF16, Q4_K, ...; SafeTensors: F32, BF16,
    F8_E4M3, I32, ...). ``shape``: the elements' shape in numpy order (GGUF's reversed).
    ``data``: a read-only numpy array over the file's memory map, alive as long as the array is:
    plain types as their numpy dtype; BF16 and FP8 as ``ml_dtypes``' bfloat16 / float8 when that
    package is installed, else as uint16 / uint8; GGUF block types as the raw bytes of each row
    (uint8, shape ``shape[:-1] + (bytes per row,)``, as gguf-py's reader gives them)."""
    type: str
    shape: tuple
    data: Any


def _extension_dtype(type_name: str) -> Any:
    """ml_dtypes' numpy dtype for a type numpy lacks, or None."""
    names = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
    if type_name not in names:
        return None
    try:
        import ml_dtypes
    except ImportError:
        return None
    return getattr(ml_dtypes, names[type_name])


def tensors(path: PathLike) -> Dict[str, TensorView]:
    """Every tensor of a GGUF file or a SafeTensors checkpoint (a .safetensors file, an index or a
    directory of shards), in file order, as :class:`TensorView` s over the file's memory map: no
    tensor is copied or converted."""
    out: Dict[str, TensorView] = {}
    for name, type_name, shape, data in _squish.tensors(os.fspath(path)):
        dtype = _extension_dtype(type_name)
        if dtype is not None:
            data = data.view(dtype)
        out[name] = TensorView(type_name, tuple(shape), data)
    return out
