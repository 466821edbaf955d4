// Quantization mixes ("file types") as llama.cpp numbers them in general.file_type (LLAMA_FTYPE).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "squish/formats/ggml_type.h"

namespace squish {

// The mixes squish can produce, with llama.cpp's LLAMA_FTYPE numbers.
enum class FileType : uint32_t {
  ALL_F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9,
  Q2_K = 10, Q3_K_S = 11, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15,
  Q5_K_S = 16, Q5_K_M = 17, Q6_K = 18, IQ4_NL = 25, IQ4_XS = 30, BF16 = 32,
  TQ1_0 = 36, TQ2_0 = 37,
};

// Command-line name ("Q4_K_M", "F32" for ALL_F32).
std::string file_type_name(FileType f);
// Parses a mix name case-insensitively ("q4_k_m"); nullopt when unknown.
std::optional<FileType> parse_file_type(const std::string& name);
// Every supported mix name, in llama-quantize's listing order.
std::vector<std::string> file_type_names();
// Up to three known names closest to `name` (edit distance), for "did you mean" hints.
std::vector<std::string> suggest_file_types(const std::string& name);
// The mix's base tensor type (Q4_K for Q4_K_M, F16 for F16 ...).
GGMLType default_tensor_type(FileType f);

}  // namespace squish
