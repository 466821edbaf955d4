// Pre-tokenizers of byte-level BPE: hand-written matchers for the regular expressions llama.cpp
// and HF tokenizers use, applied in stages; each stage splits every word of the previous one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// One splitting stage.
enum class PreSplit {
  // \p{N}: every number code point becomes its own word (SmolLM2's first stage, HF Digits
  // with individual_digits).
  kEachNumber,
  // GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  //          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // Qwen2: as Llama 3 with \p{N} (one digit per word).
  kQwen2,
};

// Splits code points into words; returns the word lengths (in code points, summing to cps.size()).
std::vector<size_t> pre_split(const std::vector<uint32_t>& cps, const std::vector<PreSplit>& stages);

// The stages for a regex as written in llama.cpp or an HF tokenizer.json Split pre-tokenizer;
// returns false when the regex is not one squish implements.
bool pre_split_from_regex(const std::string& regex, PreSplit& stage);

}  // namespace squish
