#!/usr/bin/env python3
"""Inference speed of squish vs llama.cpp's own llama-bench: same GGUF files, same threads, one run.

    llama-bench -m FILE -p 512 -n 128 -t T -r REPS -o json
    squish bench FILE -p 512 -n 128 --threads T --reps REPS --json

Both use llama-bench's definitions: pp512 = tokens/s evaluating a 512-token random prompt in one batch
from an empty cache; tg128 = tokens/s generating 128 tokens one at a time; one untimed warm-up, then
REPS timed repetitions, the rate being the mean of the per-repetition rates. llama-bench runs with its
defaults otherwise (F16 KV cache; squish's is F32 — at these lengths the cache is a tiny share of the
bytes read). The two alternate which goes first, job by job, to spread a shared machine's noise.

Tables (--tables, default a,b,c):
  a  the real-shape model (--shape, default Llama-3.2-1B's: 2048 wide, 16 layers, 32/8 heads, FFN 8192;
     random F16 weights, SmolLM2's tokenizer; bench/make_shape_model.py) in every --types type, at every
     --threads count: squish's best ISA (AVX-512 here) against llama.cpp built with GGML_NATIVE=ON;
  b  the same types on the AVX2 path, at --avx2-threads (default: the largest --threads count, to keep
     the full run near 40 minutes): `SQUISH_ISA=avx2` squish against llama.cpp built for AVX2 + FMA +
     F16C only (its system_info is checked to report no AVX512);
  c  the small real models (SmolLM2-135M, Gemma 3 270M) converted by `squish quantize` to those of
     Q4_0, Q4_K_M, Q8_0, F16 that --types names, at the largest --threads count, native builds.
For tg the tables give squish's roofline share from its JSON (weight bytes read per token x t/s / the
machine's read bandwidth measured by `squish bench`) and llama.cpp's at the same bytes and bandwidth.

The llama.cpp tools come from bench/build_llamacpp.sh (the llama.cpp that llama-cpp-python vendors,
cached under ~/.cache/squish/llamacpp/{native,avx2}); models are cached under ~/.cache/squish/bench.
Prints a progress line per job (with the time left), the tables, and as its last line the geometric mean
of the squish/llama.cpp ratios over table a, with the minimum ratio and its test beside it.
Default full run: 9 types x 1 and 2 threads (a), 9 types x 2 threads (b), 8 small files (c): about
35-40 minutes on 2 idle cores (the time left is re-estimated after each job);
--quick: Q4_0, Q4_K_M, Q8_0, F16 at 2 threads, tables a and b (about 10 minutes).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import make_shape_model as shapes  # noqa: E402

CACHE = Path(os.environ.get("SQUISH_CACHE", Path.home() / ".cache" / "squish"))
MODELS_DIR = Path(os.environ.get("SQUISH_MODELS", CACHE / "models"))
SMALL_MODELS = {
    "SmolLM2-135M": MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "Gemma3-270M": MODELS_DIR / "gemma-3-270m-q4_k_m.gguf",
}
SMALL_TYPES = ["Q4_0", "Q4_K_M", "Q8_0", "F16"]
BENCH_DIR = CACHE / "bench"
LLAMACPP_DIR = Path(os.environ.get("SQUISH_LLAMACPP", CACHE / "llamacpp"))
TABLE_TITLES = {
    "a": "{shape}, AVX-512 (squish's best ISA; llama.cpp GGML_NATIVE=ON)",
    "b": "{shape}, AVX2 path (SQUISH_ISA=avx2; llama.cpp AVX2+FMA+F16C, no AVX-512)",
    "c": "small real models (native builds)",
}
# Bytes per weight of each type, for the time estimate only.
BYTES_PER_WEIGHT = {"F16": 2.0, "BF16": 2.0, "Q8_0": 1.0625, "Q6_K": 0.82, "Q5_K_M": 0.69, "Q4_K_M": 0.6,
                    "Q4_0": 0.5625, "Q3_K_M": 0.49, "Q2_K": 0.33}


@dataclass
class Job:
    """One file at one thread count on one path: llama-bench and squish bench."""
    table: str
    label: str
    qtype: str
    path: Path
    threads: int
    llama_bench: Path
    squish_env: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)


def fail(msg: str) -> None:
    raise SystemExit(f"speed_vs_llamacpp: {msg}")


def last_line(p: subprocess.CompletedProcess) -> str:
    lines = (p.stderr.strip() or p.stdout.strip() or f"exit code {p.returncode}").splitlines()
    return lines[-1]


def run_llama_bench(binary: Path, model: Path, n_prompt: int, n_gen: int, threads: int, reps: int) -> dict:
    """{"pp512": t/s, "tg128": t/s} from llama-bench's JSON."""
    p = subprocess.run([str(binary), "-m", str(model), "-p", str(n_prompt), "-n", str(n_gen),
                        "-t", str(threads), "-r", str(reps), "-o", "json"], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"llama-bench on {model.name} failed: {last_line(p)}")
    out = {}
    for t in json.loads(p.stdout):
        name = f"pp{t['n_prompt']}" if t["n_gen"] == 0 else f"tg{t['n_gen']}"
        out[name] = float(t["avg_ts"])
    return out


def run_squish_bench(binary: str, model: Path, n_prompt: int, n_gen: int, threads: int, reps: int,
                     env_extra: dict) -> dict:
    """squish bench's JSON: t/s per test, plus bytes per decoded token and the machine's bandwidth."""
    p = subprocess.run([binary, "bench", str(model), "-p", str(n_prompt), "-n", str(n_gen),
                        "--threads", str(threads), "--reps", str(reps), "--json"],
                       capture_output=True, text=True, env=dict(os.environ, SQUISH_PROGRESS="0", **env_extra))
    if p.returncode != 0:
        fail(f"squish bench on {model.name} failed: {last_line(p)}")
    return json.loads(p.stdout)


def llamacpp_features(build: Path, model: Path) -> str:
    """The CPU feature line of the build's system_info (llama-perplexity prints it after loading)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("hello world\n")
        f.flush()
        p = subprocess.run([str(build / "bin" / "llama-perplexity"), "-m", str(model), "-f", f.name,
                            "-c", "16", "-b", "16", "-t", "1", "--chunks", "1"], capture_output=True, text=True)
    m = re.search(r"^.*CPU : .*$", p.stderr + p.stdout, re.M)
    if not m:
        fail(f"no system_info from {build}/bin/llama-perplexity: {last_line(p)}")
    return m.group(0).split("CPU : ", 1)[1].strip(" |")


def small_model(binary: str, source: Path, qtype: str) -> Path:
    """The small model converted to qtype by squish quantize (made once, atomically)."""
    out = BENCH_DIR / f"{source.stem}-{qtype}.gguf"
    if not out.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        shapes.quantize(binary, source, out, qtype)
    return out


def estimate_seconds(job: Job, n_prompt: int, n_gen: int, reps: int) -> float:
    """A rough guess of one job's time on this 2-core machine (both tools, warm-ups and loads)."""
    size = job.path.stat().st_size
    params = size / BYTES_PER_WEIGHT[job.qtype]
    isa = 0.6 if job.table == "b" else 1.0
    pp = n_prompt * 2 * params / (450e9 * min(job.threads, 2) / 2 * isa)  # ~450 GFLOP/s on 2 idle cores
    tg = n_gen * size / ((35e9 if job.threads >= 2 else 25e9) * isa)  # GB/s read while decoding
    return 2 * (reps + 1) * (pp + tg) + 2 * size / 2e9 + 2.0


def fmt_duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s"


def ratio_rows(jobs: list[Job], tests: list[str]) -> list[tuple[str, float]]:
    """(description, squish/llama.cpp ratio) of every test in `jobs`."""
    out = []
    for j in jobs:
        for t in tests:
            out.append((f"{j.label} {t}, {j.threads} thread{'s' if j.threads > 1 else ''}",
                        j.result["squish"][t] / j.result["llamacpp"][t]))
    return out


def print_table(title: str, jobs: list[Job], tests: list[str], label_head: str) -> None:
    print(f"\n### {title}\n")
    head = f"| {label_head} | threads |"
    rule = "|---|---:|"
    for t in tests:
        head += f" {t} llama.cpp | {t} squish | ratio |"
        rule += "---:|---:|---:|"
    head += " squish roofline | llama.cpp roofline |"
    rule += "---:|---:|"
    print(head)
    print(rule)
    for j in jobs:
        r = j.result
        line = f"| {j.label} | {j.threads} |"
        for t in tests:
            ll, sq = r["llamacpp"][t], r["squish"][t]
            line += f" {ll:.1f} | {sq:.1f} | {sq / ll:.2f} |"
        tg = next((t for t in tests if t.startswith("tg")), None)
        if tg and r["bandwidth"] > 0:
            line += f" {100 * r['roofline'][tg]:.1f}% | {100 * r['llamacpp'][tg] * r['step_bytes'] / r['bandwidth']:.1f}% |"
        else:
            line += " | |"
        print(line)


def parse_list(text: str, valid: list[str], what: str) -> list[str]:
    items = [x for x in text.split(",") if x]
    bad = [x for x in items if x not in valid]
    if bad or not items:
        fail(f"--{what} {text}: {'unknown ' + ', '.join(bad) if bad else 'empty list'} (valid: {','.join(valid)})")
    return items


def main() -> None:
    ap = shapes.OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--types", help=f"comma-separated GGUF types (default: all {len(shapes.TYPES)}: "
                                    f"{','.join(shapes.TYPES)})")
    ap.add_argument("--threads", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--avx2-threads", help="thread counts of table b (default: the largest --threads)")
    ap.add_argument("-r", "--reps", type=int, default=3, help="timed repetitions per test (default 3)")
    ap.add_argument("--tables", help="which tables: a (native), b (AVX2), c (small models); default a,b,c")
    ap.add_argument("--shape", default="llama-3.2-1b", help=f"shape of tables a and b: {', '.join(shapes.SHAPES)}")
    ap.add_argument("--layers", type=int, help="cut the shape to its first N layers")
    ap.add_argument("--quick", action="store_true",
                    help="defaults become --types Q4_0,Q4_K_M,Q8_0,F16 --threads 2 --tables a,b")
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("--squish", default=shapes.squish_binary(), help="squish binary (default $SQUISH_BIN)")
    ap.add_argument("--json-out", type=Path, help="also write every measurement to this JSON file")
    args = ap.parse_args()

    types = parse_list(args.types or ("Q4_0,Q4_K_M,Q8_0,F16" if args.quick else ",".join(shapes.TYPES)),
                       shapes.TYPES, "types")
    tables = parse_list(args.tables or ("a,b" if args.quick else "a,b,c"), list(TABLE_TITLES), "tables")
    try:
        threads = [int(x) for x in (args.threads or ("2" if args.quick else "1,2")).split(",") if x]
    except ValueError:
        fail(f"--threads {args.threads}: not a comma-separated list of integers")
    if not threads or min(threads) < 1:
        fail(f"--threads {args.threads}: thread counts must be >= 1")
    try:
        avx2_threads = [int(x) for x in args.avx2_threads.split(",") if x] if args.avx2_threads else [max(threads)]
    except ValueError:
        fail(f"--avx2-threads {args.avx2_threads}: not a comma-separated list of integers")
    if not avx2_threads or min(avx2_threads) < 1:
        fail(f"--avx2-threads {args.avx2_threads}: thread counts must be >= 1")
    if args.reps < 1:
        fail(f"--reps {args.reps}: must be >= 1")
    if not Path(args.squish).exists():
        fail(f"{args.squish}: squish binary not found (build it, or set SQUISH_BIN)")
    builds = {"a": LLAMACPP_DIR / "native", "b": LLAMACPP_DIR / "avx2", "c": LLAMACPP_DIR / "native"}
    for t in tables:
        if not (builds[t] / "bin" / "llama-bench").exists():
            fail(f"{builds[t]}/bin/llama-bench not found: run bench/build_llamacpp.sh")

    t_start = time.monotonic()
    log = lambda msg: print(f"[bench] {msg}", flush=True)
    try:
        shapes.resolve_shape(args.shape, args.layers)
        shape_files = {q: shapes.shape_model(args.shape, q, args.layers, binary=args.squish, log=log)
                       for q in types} if {"a", "b"} & set(tables) else {}
    except shapes.ShapeError as e:
        fail(str(e))
    shape_name = shapes.model_stem(args.shape, args.layers, 0)

    jobs: list[Job] = []
    for table in (t for t in ("a", "b") if t in tables):
        env = {"SQUISH_ISA": "avx2"} if table == "b" else {}
        for q in types:
            for n in (avx2_threads if table == "b" else threads):
                jobs.append(Job(table, q, q, shape_files[q], n, builds[table] / "bin" / "llama-bench", env))
    if "c" in tables:
        for name, source in SMALL_MODELS.items():
            if not source.exists():
                log(f"skipping {name}: {source} not found")
                continue
            for q in (t for t in SMALL_TYPES if t in types):
                path = small_model(args.squish, source, q)
                jobs.append(Job("c", f"{name} {q}", q, path, max(threads), builds["c"] / "bin" / "llama-bench"))
    if not jobs:
        fail("nothing to measure")

    features = {}
    for table in (t for t in ("a", "b") if t in tables):
        features[table] = llamacpp_features(builds[table], shape_files[types[0]])
        log(f"llama.cpp {builds[table].name} build: {features[table]}")
    if "b" in features and re.search(r"AVX512[A-Z0-9_]* = 1", features["b"]):
        fail(f"{builds['b']}: the AVX2 build reports AVX-512 ({features['b']}); rebuild it")

    estimates = [estimate_seconds(j, args.n_prompt, args.n_gen, args.reps) for j in jobs]
    log(f"{len(jobs)} jobs (tables {','.join(tables)}; types {','.join(types)}; threads {','.join(map(str, threads))};"
        f" {args.reps} reps): about {fmt_duration(sum(estimates))} (models ready after {fmt_duration(time.monotonic() - t_start)})")
    t_jobs = time.monotonic()
    for k, j in enumerate(jobs):
        t0 = time.monotonic()

        def llama():
            return run_llama_bench(j.llama_bench, j.path, args.n_prompt, args.n_gen, j.threads, args.reps)

        def squish():
            return run_squish_bench(args.squish, j.path, args.n_prompt, args.n_gen, j.threads, args.reps, j.squish_env)

        if k % 2 == 0:
            ll, sq = llama(), squish()
        else:
            sq, ll = squish(), llama()
        j.result = {
            "llamacpp": ll,
            "squish": {t["test"]: t["tokens_per_second"] for t in sq["tests"]},
            "roofline": {t["test"]: t.get("roofline_share", 0.0) for t in sq["tests"]},
            "step_bytes": sq["decode_bytes_per_token"],
            "bandwidth": sq["machine_read_bandwidth"],
        }
        done = time.monotonic() - t_jobs
        scale = done / sum(estimates[:k + 1])
        left = scale * sum(estimates[k + 1:])
        parts = [f"{t} {ll[t]:.1f} vs {j.result['squish'][t]:.1f} ({j.result['squish'][t] / ll[t]:.2f}x)"
                 for t in j.result["squish"] if t in ll]
        log(f"[{k + 1}/{len(jobs)}] {j.table} {j.label} {j.threads}t: llama.cpp vs squish {'; '.join(parts)}"
            f" ({fmt_duration(time.monotonic() - t0)}; {fmt_duration(done)} elapsed, ~{fmt_duration(left)} left)")

    tests = [f"pp{args.n_prompt}"] * (args.n_prompt > 0) + [f"tg{args.n_gen}"] * (args.n_gen > 0)
    bw = max(j.result["bandwidth"] for j in jobs)
    print(f"\nsquish {args.squish}; llama.cpp {LLAMACPP_DIR}; {args.reps} reps; t/s; machine read bandwidth"
          f" (squish bench) up to {bw / 1e9:.1f} GB/s; wall time {fmt_duration(time.monotonic() - t_start)}")
    for table in tables:
        tj = [j for j in jobs if j.table == table]
        if not tj:
            continue
        title = TABLE_TITLES[table].format(shape=shape_name)
        if table in features:
            title += f"; llama.cpp CPU: {features[table]}"
        print_table(f"({table}) {title}", tj, tests, "model" if table == "c" else "type")
    if args.json_out:
        args.json_out.write_text(json.dumps(
            [{"table": j.table, "label": j.label, "type": j.qtype, "file": str(j.path), "threads": j.threads,
              **j.result} for j in jobs], indent=1))
    head_table = next(t for t in tables if any(j.table == t for j in jobs))
    rows = ratio_rows([j for j in jobs if j.table == head_table], tests)
    geo = math.exp(sum(math.log(r) for _, r in rows) / len(rows))
    worst = min(rows, key=lambda x: x[1])
    print(f"\nheadline: squish/llama.cpp geometric mean over table {head_table} ({shape_name if head_table != 'c' else 'small models'},"
          f" {len(rows)} tests) {geo:.3f}x; minimum {worst[1]:.3f}x ({worst[0]})")


if __name__ == "__main__":
    main()
