// Row dequantization with the best instruction set the CPU has, bit-exact with
// squish::dequantize_row (the portable reference in src/formats).
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish::kernels {

// Converts one row of n elements of type t at src to F32 (equal to dequantize_row's result).
void dequantize_row_fast(GGMLType t, const void* src, float* dst, int64_t n);

// The AVX-512 version: false (nothing written) when it has no kernel for t. Call only when
// cpu_has_avx512().
bool dequantize_row_avx512(GGMLType t, const void* src, float* dst, int64_t n);

// The AVX2 version (same types, same results): call only when the CPU has AVX2 and F16C.
bool dequantize_row_avx2(GGMLType t, const void* src, float* dst, int64_t n);

}  // namespace squish::kernels
