// Integer dot products of GGUF weight blocks with int8-quantized activations (W4A8 / W8A8),
// without dequantizing the weights: the building block of squish's quantized linear layers.
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish::kernels {

// Instruction sets a quantized kernel can use, best last.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The ISA the quantized kernels use: the best the CPU has, or SQUISH_ISA=scalar|avx2|avx512.
Isa active_isa();
// "scalar", "avx2", "avx512".
const char* isa_name(Isa isa);

// Whether quant_dot supports weights of this type (Q4_0, Q8_0, Q4_K, Q6_K).
bool can_quant_dot(GGMLType weight_type);
// The int8 activation type a weight type is multiplied with: Q8_0 (legacy) or Q8_K (k-quants).
GGMLType activation_type(GGMLType weight_type);

// Quantizes n activations (a multiple of 32) into Q8_0 blocks (row_bytes(Q8_0, n) bytes at dst).
void quantize_activations_q8_0(const float* x, void* dst, int64_t n);
// Quantizes n activations (a multiple of 256) into Q8_K blocks with their 16-element sums.
void quantize_activations_q8_k(const float* x, void* dst, int64_t n);
// Quantizes n activations into activation_type(weight_type) blocks.
void quantize_activations(GGMLType weight_type, const float* x, void* dst, int64_t n);

// Dot product of one weight row of type t (n elements, GGUF bytes) with activations quantized by
// quantize_activations(t, ...), using the given ISA (the caller picks one the CPU has).
float quant_dot(Isa isa, GGMLType t, const void* weight_row, const void* act_q8_0, int64_t n);

// Four dot products of one weight row with four activation rows (a[r], each quantized by
// quantize_activations), sharing the weight unpacking: the int8 GEMM step for batches. Any type
// quant_dot supports (Q4_0 / Q8_0 use the shared-unpack SIMD loop, the others four quant_dots).
void quant_dot4(Isa isa, GGMLType t, const void* weight_row, const void* const* acts, int64_t n, float* out);
// The SIMD versions of quant_dot4 for Q4_0 / Q8_0 (call only when the CPU has the ISA).
void quant_dot4_avx512(GGMLType t, const void* weight_row, const void* const* acts, int64_t n, float* out);
void quant_dot4_avx2(GGMLType t, const void* weight_row, const void* const* acts, int64_t n, float* out);

// y[j] = dot(W row j, x) for j < rows; W holds rows of type t with row_bytes(t, n) bytes each.
// x is quantized to Q8_0 once; uses active_isa().
void quant_gemv(GGMLType t, const void* W, int64_t rows, int64_t n, const float* x, float* y);

// The portable reference of quant_dot (plain integer loops).
float quant_dot_scalar(GGMLType t, const void* weight_row, const void* act_q8_0, int64_t n);
// The AVX-512 VNNI version (call only when active_isa() allows avx512).
float quant_dot_avx512(GGMLType t, const void* weight_row, const void* act_q8_0, int64_t n);
// The AVX2 version (call only when the CPU has AVX2).
float quant_dot_avx2(GGMLType t, const void* weight_row, const void* act_q8_0, int64_t n);

}  // namespace squish::kernels
