// Linear layers over weights kept in their GGUF block format: C = A · Wᵀ (+ bias) without an
// up-front F32 copy of W. Decoding (few tokens) uses integer dot products with int8-quantized
// activations where a kernel exists (as llama.cpp does); longer batches dequantize a tile of weight
// rows at a time into cache-resident F32 and run the F32 GEMM on it.
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish::kernels {

// How quant_matmul multiplies.
enum class QuantPath {
  Auto,     // integer dots for m <= int8_max_tokens() when the type has a SIMD kernel (decoding,
            // as llama.cpp), else F32 tiles; at load, panel types (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 and
            // Q2_K..Q6_K on AVX-512 VNNI; the legacy ones but Q8_0 on AVX2) are repacked
            // (block_panels.h) and run with two-level (~14-bit) activations; F16 / BF16 prompts
            // take the vdpbf16ps GEMM with hi + lo BF16 activations where it pays (bf16_gemm.h)
  Fast,     // Auto, but the panels take one-level int8 activations (llama.cpp's Q8_0 rounding):
            // ~1.5x the prompt speed, perplexity 0.2-0.7% from F32 instead of < 0.01%; F16 / BF16
            // prompts one-level BF16 activations (~2.4x the F32 tiles at 1B shapes, up to 0.12%)
  Int8,     // integer dots with int8 activations whenever the type has a kernel
  F32Tiles, // dequantized F32 tiles always (exact up to summation order)
};

// The path used by default: SQUISH_QUANT_PATH=auto|fast|int8|f32 (default auto).
QuantPath default_quant_path();
// Largest batch that takes the integer-dot path under QuantPath::Auto.
int64_t int8_max_tokens();

// Multi-threaded C[i, j] = Σ_t A[i, t] · W[j, t] (+ bias[j]) for i < m tokens, j < n weight rows
// of k elements. W holds n rows of type t, row_bytes(t, k) bytes each; A is [m x k], C is [m x n].
void quant_matmul(GGMLType t, const void* W, int64_t m, int64_t n, int64_t k, const float* A,
                  float* C, const float* bias = nullptr, QuantPath path = default_quant_path());

}  // namespace squish::kernels
