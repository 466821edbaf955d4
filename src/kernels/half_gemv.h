// Decoding step of quant_matmul for F16 / BF16 weights: rows widened to F32 in registers and
// multiplied straight into the few activation rows (no F32 tile written and read back).
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish::kernels {

// Most activation rows half_gemv_avx512 takes (up to 8 it beats the vdpbf16ps GEMM, whose panel
// repacking is only paid back by longer batches: bench/bench_bf16_gemm).
constexpr int64_t kHalfGemvTokens = 8;

// C[i * n + j] = Σ_t A[i * k + t] · W[j][t] (+ bias[j]) for i < m (1..kHalfGemvTokens) and
// j0 <= j < j1; W holds rows of k F16 or BF16 values (t). AVX-512 only. multi_stream: walk
// several row ranges at once (false: one sequential stream, the earlier kernel, kept to measure).
void half_gemv_avx512(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A,
                      float* C, const float* bias, int64_t j0, int64_t j1, bool multi_stream = true);

}  // namespace squish::kernels
