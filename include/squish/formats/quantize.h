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

}  // namespace squish
