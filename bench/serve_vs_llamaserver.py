#!/usr/bin/env python3
"""Serving under load: `squish serve` vs llama.cpp's `llama-server` on the same GGUF file, the same
threads and the same number of slots (--parallel).

For each server and each concurrency C (default 1, 4, 16, 64) C client threads each stream
--requests-per-client greedy /v1/completions requests with a fixed prompt and a fixed output length
(`max_tokens` with `ignore_eos`, which both servers accept), over raw HTTP on 127.0.0.1. Measured:

  req/s       completed requests / wall time of the round
  tok/s       generated tokens / wall time
  TTFT        request sent -> first streamed token (p50 / p95)
  ITL         gaps between a request's consecutive streamed chunks (p50 / p95)
  peak RSS    the server's VmHWM after the round (and its RSS when idle before and after the load)
  lost        requests that failed, were cut short, or returned another token count than asked

llama-server comes from bench/build_llamacpp.sh (~/.cache/squish/llamacpp/native/bin/llama-server).
The last line is the throughput ratio (squish tok/s / llama-server tok/s) at 16 clients.
Usage: bench/serve_vs_llamaserver.py [--model F.gguf] [--threads 2] [--parallel 16] [--tokens 64]
       [--servers squish,llama-server] (--servers squish: squish alone, without the comparison)
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SQUISH_CACHE", Path.home() / ".cache" / "squish"))
MODELS = Path(os.environ.get("SQUISH_MODELS", CACHE / "models"))
LLAMA_SERVER = Path(os.environ.get("SQUISH_LLAMACPP", CACHE / "llamacpp")) / "native" / "bin" / "llama-server"
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int, field: str) -> int:
    """VmRSS or VmHWM of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Server:
    """A server process on 127.0.0.1 that answers /health."""

    def __init__(self, name: str, cmd: list[str], port: int):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} exited ({self.proc.returncode}): {' '.join(cmd)}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"{name} did not become healthy")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def one_request(port: int, tokens: int) -> dict:
    """Streams one completion; returns its timings and token count (or an error)."""
    body = {"prompt": PROMPT, "max_tokens": tokens, "n_predict": tokens, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    stamps, usage, chunks = [], None, 0
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            return {"error": f"status {resp.status}"}
        buf = b""
        while True:
            data = resp.read1(65536)
            if not data:
                break
            buf += data
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                event = event.strip()
                if not event.startswith(b"data: ") or event == b"data: [DONE]":
                    continue
                chunk = json.loads(event[6:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                if chunk.get("choices") and chunk["choices"][0].get("text"):
                    stamps.append(time.perf_counter())
                    chunks += 1
        conn.close()
    except (OSError, ValueError) as e:
        return {"error": str(e)}
    generated = usage["completion_tokens"] if usage else chunks
    if not stamps:
        return {"error": "no tokens"}
    return {"ttft": stamps[0] - t0, "itl": [b - a for a, b in zip(stamps, stamps[1:])], "tokens": generated}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def round_at(server: Server, clients: int, per_client: int, tokens: int) -> dict:
    results: list[dict] = []
    lock = threading.Lock()

    def client():
        for _ in range(per_client):
            r = one_request(server.port, tokens)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [r for r in results if "error" not in r and r["tokens"] == tokens]
    itl = [x for r in ok for x in r["itl"]]
    return {"req_s": len(ok) / wall, "tok_s": sum(r["tokens"] for r in ok) / wall,
            "ttft50": percentile([r["ttft"] for r in ok], 50), "ttft95": percentile([r["ttft"] for r in ok], 95),
            "itl50": percentile(itl, 50), "itl95": percentile(itl, 95), "lost": len(results) - len(ok),
            "peak_mib": rss_kib(server.proc.pid, "VmHWM") / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--ctx-per-slot", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=64, help="generated tokens per request")
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--requests-per-client", type=int, default=2)
    ap.add_argument("--squish", type=Path, default=ROOT / "build" / "squish")
    ap.add_argument("--servers", default="squish,llama-server", help="which servers to run (comma list)")
    args = ap.parse_args()
    wanted = args.servers.split(",")
    if "llama-server" in wanted and not LLAMA_SERVER.exists():
        raise SystemExit(f"{LLAMA_SERVER} not found: run bench/build_llamacpp.sh native (or --servers squish)")
    ctx = args.ctx_per_slot * args.parallel
    clients = [int(c) for c in args.clients.split(",")]
    commands = {
        "squish": lambda port: [str(args.squish), "serve", str(args.model), "--port", str(port), "-t", str(args.threads),
                                "--parallel", str(args.parallel), "--ctx-size", str(ctx), "--max-queue", "256"],
        "llama-server": lambda port: [str(LLAMA_SERVER), "-m", str(args.model), "--port", str(port), "-t", str(args.threads),
                                      "--parallel", str(args.parallel), "--ctx-size", str(ctx), "--no-webui",
                                      "--cont-batching"],
    }
    commands = {name: cmd for name, cmd in commands.items() if name in wanted}
    table: dict[tuple[str, int], dict] = {}
    for name, cmd in commands.items():
        port = free_port()
        server = Server(name, cmd(port), port)
        try:
            one_request(port, 4)  # warm-up
            idle_before = rss_kib(server.proc.pid, "VmRSS") / 1024
            for c in clients:
                table[(name, c)] = r = round_at(server, c, args.requests_per_client, args.tokens)
                print(f"{name:12s} {c:3d} clients: {r['req_s']:6.2f} req/s {r['tok_s']:7.1f} tok/s "
                      f"TTFT p50/p95 {r['ttft50']*1e3:7.1f}/{r['ttft95']*1e3:7.1f} ms "
                      f"ITL p50/p95 {r['itl50']*1e3:6.1f}/{r['itl95']*1e3:6.1f} ms "
                      f"peak {r['peak_mib']:7.1f} MiB lost {r['lost']}", flush=True)
            time.sleep(1)
            idle_after = rss_kib(server.proc.pid, "VmRSS") / 1024
            print(f"{name:12s} idle RSS before / after the load: {idle_before:.1f} / {idle_after:.1f} MiB", flush=True)
        finally:
            server.stop()
    print()
    print("| clients | server | req/s | tok/s | TTFT p50 / p95 ms | ITL p50 / p95 ms | peak RSS MiB | lost |")
    print("|---|---|---|---|---|---|---|---|")
    for c in clients:
        for name in commands:
            r = table[(name, c)]
            print(f"| {c} | {name} | {r['req_s']:.2f} | {r['tok_s']:.1f} | {r['ttft50']*1e3:.1f} / {r['ttft95']*1e3:.1f} "
                  f"| {r['itl50']*1e3:.1f} / {r['itl95']*1e3:.1f} | {r['peak_mib']:.1f} | {r['lost']} |")
    ratio_at = 16 if 16 in clients else clients[-1]
    if len(commands) < 2:
        print(f"throughput ratio at {ratio_at} clients: n/a (llama-server not run)")
        return 0
    ratio = table[("squish", ratio_at)]["tok_s"] / max(table[("llama-server", ratio_at)]["tok_s"], 1e-9)
    print(f"throughput ratio squish / llama-server at {ratio_at} clients: {ratio:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
