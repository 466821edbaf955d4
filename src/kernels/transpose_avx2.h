// An 8×8 transpose of 32-bit elements in AVX2 registers, shared by the GEMMs' weight packing (F32
// panels in gemm_avx2.cpp, BF16 pair panels in bf16_gemm_avx512.cpp).
// Include only from files compiled with AVX2 or later (everything here is TU-local).
#pragma once
#include <immintrin.h>

namespace squish::kernels {
namespace {

// r[i] (8 elements of row i) becomes column i: afterwards r[j] holds element j of rows 0..7.
inline void transpose8x8(__m256i r[8]) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2x128_si256(u[j], u[j + 4], 0x20);
    r[j + 4] = _mm256_permute2x128_si256(u[j], u[j + 4], 0x31);
  }
}

}  // namespace
}  // namespace squish::kernels
