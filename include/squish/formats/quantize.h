// Quantization of F32 rows into ggml block types (the inverse of dequantize_row).
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish {

// Whether squish can quantize F32 rows into this type.
bool can_quantize(GGMLType t);
// Whether quantize_row uses importance weights for this type (k-quants and legacy types do).
bool uses_importance(GGMLType t);
// Quantizes n elements (a multiple of the block size) of src into dst (row_bytes(t, n) bytes).
// importance: optional per-column weights of length n (an imatrix row), or nullptr for the
// reference (unweighted) algorithm, which is byte-identical to ggml's reference quantizers.
void quantize_row(GGMLType t, const float* src, void* dst, int64_t n,
                  const float* importance = nullptr);

// Encodes one block of a legacy symmetric type from its scale and its codes as ggml stores them:
// Q4_0 0..15 (value (q-8)·d), Q5_0 0..31 (value (q-16)·d), Q8_0 -128..127 (value q·d); d is
// rounded to F16. For quantizers that choose codes themselves (GPTQ inside GGUF blocks).
void encode_legacy_block(GGMLType t, float d, const int32_t* codes, void* dst);

}  // namespace squish
