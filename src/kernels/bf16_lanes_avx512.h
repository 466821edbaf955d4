// AVX-512 lane helpers shared by the BF16 GEMM's kernels (vdpbf16ps and AMX): lane masks and BF16
// rounding. Private to src/kernels; include only from files compiled with the AVX-512 set.
#pragma once
// GCC 12 flags its own undefined upper lanes inside the widening intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

namespace squish::kernels::bf16_lanes {

// Mask of the first n lanes of 16 (none for n <= 0).
inline __mmask16 first_lanes(int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// 16 floats rounded to BF16 (nearest even), as 16 uint16.
inline __m256i to_bf16(__m512 x) { return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(x)); }

// 16 BF16 values widened to floats (exact).
inline __m512 from_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

}  // namespace squish::kernels::bf16_lanes
