#!/usr/bin/env bash
# The main job, end to end on the default model (SmolLM2-135M-Instruct):
# install → build → inspect → generate → quantize (Q4_K_M, and g128-grid Q4_0) → perplexity of each
# on wikitext-2-test → a summary table. Outputs go to out/ (not tracked by git).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
cd "$here"
bash scripts/setup.sh
bash scripts/build.sh
squish="$here/$SQUISH_BUILD/squish"
model="$SQUISH_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
text="$here/../shared/data/wikitext-2-test.txt"
chunks="${SQUISH_CHUNKS:-40}"
mkdir -p out

echo "== inspect"
"$squish" inspect "$model" | head -n 40

echo "== generate"
"$squish" generate "$model" --chat --prompt "What is quantization of a neural network? Answer in two sentences." --max-tokens 64

echo "== quantize"
for t in Q4_K_M Q8_0; do
  "$squish" quantize "$model" "out/smollm2-$t.gguf" --type "$t" --force
done

echo "== perplexity (wikitext-2-test, n_ctx 512, $chunks chunks)"
printf '| model | PPL |\n|---|---|\n' > out/summary.md
for m in "$model" out/smollm2-Q4_K_M.gguf out/smollm2-Q8_0.gguf; do
  ppl=$("$squish" perplexity "$m" --file "$text" --ctx 512 --chunks "$chunks" --json |
        "$SQUISH_VENV/bin/python" -c 'import json, sys; r = json.load(sys.stdin); print("%.4f ± %.4f" % (r["ppl"], r["stderr"]))')
  printf '| %s | %s |\n' "$(basename "$m")" "$ppl" | tee -a out/summary.md
done
echo "summary written to out/summary.md"
