#!/usr/bin/env python3
"""W4A16 vs W8A8 under batched decoding: aggregate decode tokens/s for 1..32 sequences advanced
together (`squish bench --batch`), same model and threads.

  W4A16 = Q4_0 weights (4.5 bits), F32 activations: squish's dequantize-to-F32-tile path
          (SQUISH_QUANT_PATH=f32), whose dequantization is shared by every sequence of the batch.
  W4A8  = the same Q4_0 weights with activations rounded to int8 per 32-element block and integer
          dots: row by row (SQUISH_QUANT_PATH=int8), as llama.cpp decodes, or with the weights
          repacked at load into 16-row panels for AVX-512 VNNI (SQUISH_QUANT_PATH=fast); squish's
          default runs those panels with two-level (~14-bit) activations (SQUISH_QUANT_PATH=auto).
  W8A8  = per-channel INT8 weights, per-token INT8 activations, integer dots (`--convert w8a8`,
          vLLM's int8 W8A8 scheme), converted at load from the Q8_0 file.

Prints a Markdown table and writes an SVG chart (--svg); the last line names the crossover."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from speed_vs_llamacpp import MODELS, converted  # noqa: E402

# name: (GGUF type the model is quantized to, SQUISH_QUANT_PATH, extra bench arguments)
SCHEMES = {"W4A16 (Q4_0, F32 tiles)": ("Q4_0", "f32", []),
           "W4A8 (Q4_0, int8 row dots)": ("Q4_0", "int8", []),
           "W4A8 (Q4_0, VNNI panels)": ("Q4_0", "fast", []),
           "W4A14 (Q4_0, VNNI panels, two-level activations)": ("Q4_0", "auto", []),
           "W8A8 (INT8 per channel / per token)": ("Q8_0", "auto", ["--convert", "w8a8"])}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def sweep(binary: str, model: Path, path: str, extra: list[str], batches: list[int], n_gen: int, reps: int,
          threads: int) -> dict:
    p = subprocess.run([binary, "bench", str(model), *extra, "-p", "0", "-n", str(n_gen), "-r", str(reps),
                        "--threads", str(threads), "--no-roofline", "--json",
                        "--batch", ",".join(map(str, batches))],
                       capture_output=True, text=True,
                       env=dict(os.environ, SQUISH_PROGRESS="0", SQUISH_QUANT_PATH=path))
    if p.returncode != 0:
        raise SystemExit(p.stderr.strip())
    return {t["batch"]: t["tokens_per_second"] for t in json.loads(p.stdout)["tests"] if "@b" in t["test"]}


def crossover_text(w4: dict, w8: dict, batches: list[int]) -> str:
    """Where the faster of W4A16 and W8A8 changes along the batch sweep."""
    win = ["W4A16" if w4[b] >= w8[b] else "W8A8" for b in batches]
    if len(set(win)) == 1:
        return f"{win[0]} faster at every batch"
    changes = [f"{win[i]} from batch {batches[i]}" for i in range(1, len(batches)) if win[i] != win[i - 1]]
    return f"{win[0]} faster at batch {batches[0]}, " + ", ".join(changes)


def svg(series: dict, batches: list[int], title: str) -> str:
    W, H, L, R, T, B = 720, 420, 70, 20, 40, 50
    ymax = max(max(v.values()) for v in series.values()) * 1.1
    xs = {b: L + (W - L - R) * i / (len(batches) - 1) for i, b in enumerate(batches)}
    y = lambda v: H - B - (H - T - B) * v / ymax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>', f'<text x="{W/2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
           f'<text x="{W/2}" y="{H-12}" text-anchor="middle">sequences decoded together (batch)</text>',
           f'<text x="16" y="{H/2}" transform="rotate(-90 16 {H/2})" text-anchor="middle">aggregate tokens/s</text>']
    for b, px in xs.items():
        out.append(f'<text x="{px}" y="{H-B+16}" text-anchor="middle">{b}</text>')
    for i in range(6):
        v = ymax * i / 5
        out.append(f'<text x="{L-6}" y="{y(v)+4}" text-anchor="end">{v:.0f}</text>'
                   f'<line x1="{L}" y1="{y(v)}" x2="{W-R}" y2="{y(v)}" stroke="#ddd"/>')
    for k, (name, pts) in enumerate(series.items()):
        c = COLORS[k % len(COLORS)]
        path = " ".join(f"{xs[b]:.1f},{y(pts[b]):.1f}" for b in batches)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        out += [f'<circle cx="{xs[b]:.1f}" cy="{y(pts[b]):.1f}" r="3" fill="{c}"/>' for b in batches]
        out.append(f'<text x="{L+10}" y="{T+16+16*k}" fill="{c}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="1,2,4,8,16,32")
    ap.add_argument("-n", "--n-gen", type=int, default=32)
    ap.add_argument("-r", "--reps", type=int, default=2)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--svg", default=str(ROOT / "docs" / "batch_crossover.svg"))
    ap.add_argument("--squish", default=os.environ.get(
        "SQUISH_BIN", str(ROOT / os.environ.get("SQUISH_BUILD", "build") / "squish")))
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    series, crossovers = {}, []
    for label, source in MODELS.items():
        if not source.exists():
            continue
        short = label.split()[0]
        res = {}
        for scheme, (fmt, path, extra) in SCHEMES.items():
            res[scheme] = sweep(args.squish, converted(args.squish, source, fmt), path, extra, batches,
                                args.n_gen, args.reps, args.threads)
            series[f"{short} {scheme}"] = res[scheme]
        w4, w8 = res[next(iter(SCHEMES))], res[list(SCHEMES)[-1]]
        crossovers.append(f"{short}: " + crossover_text(w4, w8, batches))
        print(f"\n{short}, {args.threads} threads, tg{args.n_gen} aggregate tokens/s")
        print("| batch | " + " | ".join(res) + " | W4A16/W8A8 |")
        print("|---:|" + "---:|" * (len(res) + 1))
        for b in batches:
            print(f"| {b} | " + " | ".join(f"{v[b]:.1f}" for v in res.values()) + f" | {w4[b] / w8[b]:.2f}x |")
    Path(args.svg).write_text(svg(series, batches, "Batched decoding: W4A16 vs W8A8 (squish, CPU)"))
    print(f"\nchart: {args.svg}")
    print("crossover: " + "; ".join(crossovers))


if __name__ == "__main__":
    main()
