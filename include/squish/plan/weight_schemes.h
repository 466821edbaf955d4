// Weight storage schemes the planner compares, with bits per weight computed from their block
// layouts (payload + scales + zero points), and KV-cache element formats.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "squish/plan/model_shape.h"
#include "squish/quant/file_type.h"

namespace squish::plan {

// How a scheme stores a linear weight.
enum class SchemeFamily { Dense, Integer, Float8, NF4, GGUF };

// One weight scheme.
struct WeightScheme {
  std::string name;            // "W4A16 g128", "Q4_K_M", ...
  SchemeFamily family = SchemeFamily::Dense;
  int bits = 16;               // payload bits per weight
  int group = 0;               // weights per scale (0: one per output channel = per row)
  int scale_bits = 0;          // bits of each scale
  int zero_bits = 0;           // bits of each zero point (asymmetric)
  bool double_quant = false;   // NF4: absmax quantized to 8 bits, FP32 scale per 256 blocks
  FileType gguf = FileType::F16;  // GGUF mix
  std::string activations;     // "16-bit", "INT8 per-token", "FP8", "F32 (llama.cpp)"
  std::string layout;          // the block layout the bits come from, in words
  std::string note;            // the engine/hardware it is for
};

// Every scheme the planner compares, highest precision first.
const std::vector<WeightScheme>& weight_schemes();
// Scheme by name (case-insensitive); nullopt when unknown.
std::optional<WeightScheme> find_scheme(const std::string& name);

// Bits per weight of a linear tensor stored in an Integer/Float8/NF4/Dense scheme, rows of
// `row_length` weights (scales per row round up: ceil(row_length / group)).
double linear_bits_per_weight(const WeightScheme& s, int64_t row_length);
// Formula text of the bits per weight at a row length ("4 + 16/128 = 4.125").
std::string bits_formula(const WeightScheme& s, int64_t row_length);

// Bytes of the model's weights in a scheme. Integer/FP8/NF4 schemes quantize the linear layers
// and keep embeddings, output and norms in 16 bits (llm-compressor / bitsandbytes defaults);
// GGUF mixes choose each tensor's type by llama.cpp's rules (norms F32). When the shape was
// estimated or is partial, the bits per parameter of the tensor list are applied to n_params.
double weight_bytes(const WeightScheme& s, const ModelShape& m);

// KV-cache element formats.
struct KvFormat {
  std::string name;   // "FP16", "FP8", "INT8", "INT4"
  double bits = 16;   // per element including scale overhead
  std::string layout; // how the bits arise
};
// FP16, FP8 (E4M3, per-tensor scale), INT8 (per token and head FP16 scale), INT4 (groups of 32
// with FP16 scales); INT8's overhead uses `head_dim`.
std::vector<KvFormat> kv_formats(int64_t head_dim);

}  // namespace squish::plan
