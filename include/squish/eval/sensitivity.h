// `squish sensitivity`: per-layer, per-linear sensitivity — the KL divergence from the model when
// only one tensor is quantized (everything else as loaded) — the input to mixed precision.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "squish/formats/ggml_type.h"

namespace squish {

// What to probe and how to measure.
struct SensitivityOptions {
  GGMLType type = GGMLType::Q2_K;   // quantization applied to the probed tensor (with llama.cpp's
                                    // block-size fallback when its rows don't fit)
  std::vector<int64_t> layers;      // empty: every layer
  std::vector<std::string> kinds;   // empty: every linear (attn_q, attn_k, attn_v, attn_output,
                                    // ffn_gate, ffn_up, ffn_down)
  std::string text_path;
  int64_t n_ctx = 512;
  int64_t chunks = 2;
  bool progress = true;
};

// One probed tensor.
struct SensitivityCell {
  int64_t layer = 0;
  std::string kind;
  std::string type;      // the type actually applied
  double kld = 0, kld_stderr = 0;
  double same_top = 1;
};

// All probes.
struct SensitivityReport {
  std::string model_path;
  std::vector<int64_t> layers;
  std::vector<std::string> kinds;
  std::vector<SensitivityCell> cells;  // layer-major, kinds in order

  // JSON (cells plus a per-tensor map "blk.L.KIND.weight" → KLD, ready for mixed precision).
  nlohmann::json to_json() const;
  // Markdown table: layers as rows, kinds as columns, mean KLD in the cells.
  std::string to_markdown() const;
};

// The linear kinds of a decoder block, in table order.
const std::vector<std::string>& linear_kinds();

// Runs the probes. Throws Error for unknown kinds or layers out of range before any work.
SensitivityReport run_sensitivity(const std::string& model_path, const SensitivityOptions& options);

}  // namespace squish
