// Calibration samples: fixed-length token windows drawn from a calibration text (or JSONL with a
// "text" field per line), seeded and deterministic; or given verbatim as token ids (.ids).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

class Tokenizer;

// How many samples of how many tokens, and the seed of the window positions.
struct CalibrationSpec {
  std::string path;         // text file, .jsonl with {"text": ...} per line, or .ids (token ids per line)
  int64_t n_samples = 128;
  int64_t seq_len = 512;
  uint64_t seed = 0;
};

// Draws n_samples windows of seq_len tokens (BOS first when the vocabulary adds it). Throws Error
// naming the file when it is missing, empty, evaluation text (wikitext), or shorter than seq_len
// tokens — before any long work.
std::vector<std::vector<int32_t>> calibration_samples(const Tokenizer& tokenizer,
                                                      const CalibrationSpec& spec);

}  // namespace squish
