// ggml tensor types: ids as stored in GGUF, block sizes and bytes per block.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace squish {

// Tensor element types with the numeric ids GGUF stores (ggml's enum ggml_type).
enum class GGMLType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

// Static facts about one type.
struct TypeTraits {
  const char* name;      // "Q4_K"
  int64_t block_size;    // elements per block (1 for plain types)
  size_t type_size;      // bytes per block
  bool quantized;        // block-quantized (not a plain number type)
};

// Traits of a known type; nullopt for ids squish does not know.
std::optional<TypeTraits> find_type_traits(uint32_t id);
// Traits of a known type (throws std::logic_error for an unknown one).
const TypeTraits& type_traits(GGMLType t);
// "Q4_K" etc.
std::string type_name(GGMLType t);
// Parses a type name ("q4_k" or "Q4_K"); nullopt when unknown.
std::optional<GGMLType> parse_type_name(const std::string& name);
// Bytes of a row of n elements (n must be a multiple of the block size).
size_t row_bytes(GGMLType t, int64_t n);
// Whether squish can dequantize this type to F32.
bool can_dequantize(GGMLType t);
// Dequantizes n elements (a multiple of the block size) from src into dst.
void dequantize_row(GGMLType t, const void* src, float* dst, int64_t n);

}  // namespace squish
