#!/usr/bin/env bash
# The main job, end to end on the default model (SmolLM2-135M-Instruct):
# install → build → inspect → generate → compare (quantize into seven GGUF mixes, perplexity and KL
# divergence of each vs the model on wikitext-2-test, table + charts). Outputs go to out/ (untracked).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
bash scripts/setup.sh --main
bash scripts/build.sh squish
squish="$here/$SQUISH_BUILD/squish"
model="$SQUISH_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
text="$here/../shared/data/wikitext-2-test.txt"
chunks="${SQUISH_CHUNKS:-8}"
mkdir -p out

echo "== inspect"
"$squish" inspect "$model" > out/inspect.txt
head -n 40 out/inspect.txt

echo "== generate"
"$squish" generate "$model" --chat --prompt "What is quantization of a neural network? Answer in two sentences." --max-tokens 64

echo "== compare (quantize into GGUF mixes, perplexity + KL divergence vs the model, $chunks chunks)"
"$squish" compare "$model" --file "$text" --chunks "$chunks" -o out/compare --force
echo "report: out/compare/report.md, charts: out/compare/*.svg, *.png"
