// The attention softmax of one score row, with the CPU's best instruction set.
#pragma once
#include <cstdint>

namespace squish::kernels {

// row[j] for a <= j < z becomes softmax_j(v) with v = row[j] · scale, capped as
// softcap · tanh(v / softcap) when softcap > 0; row[j] outside [a, z) becomes 0 (j < n).
void softmax_row(float* row, int64_t a, int64_t z, int64_t n, float scale, float softcap);

// The portable version (std::exp, double sum).
void softmax_row_scalar(float* row, int64_t a, int64_t z, int64_t n, float scale, float softcap);
// The AVX-512 version without a softcap (a polynomial exp; results within 1e-6 relative of the
// portable version); call only when the CPU has AVX-512.
void softmax_row_avx512(float* row, int64_t a, int64_t z, int64_t n, float scale);

}  // namespace squish::kernels
