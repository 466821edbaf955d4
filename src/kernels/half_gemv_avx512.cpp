// AVX-512 F16 (vcvtph2ps) / BF16 (shift into the high half) weight rows times up to 4 F32
// activation rows, 16 elements per step.
// GCC 12 flags its own undefined upper lanes inside the widening / reduce intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "half_gemv.h"

namespace squish::kernels {

namespace {

template <bool Bf16>
inline __m512 widen(const uint16_t* p, __mmask16 mask) {
  const __m256i h = _mm256_maskz_loadu_epi16(mask, p);
  if constexpr (Bf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  else return _mm512_cvtph_ps(h);
}

template <bool Bf16, int M>
void rows(const uint16_t* W, int64_t n, int64_t k, const float* A, float* C, const float* bias,
          int64_t j0, int64_t j1) {
  const int64_t k16 = k / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (k - k16)) - 1);
  for (int64_t j = j0; j < j1; ++j) {
    const uint16_t* w = W + j * k;
    __m512 acc[M];
    for (auto& v : acc) v = _mm512_setzero_ps();
    for (int64_t t = 0; t < k16; t += 16) {
      const __m512 wv = widen<Bf16>(w + t, 0xFFFF);
      for (int i = 0; i < M; ++i) acc[i] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(A + i * k + t), acc[i]);
    }
    if (tail) {
      const __m512 wv = widen<Bf16>(w + k16, tail);
      for (int i = 0; i < M; ++i) acc[i] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, A + i * k + k16), acc[i]);
    }
    for (int i = 0; i < M; ++i) C[i * n + j] = _mm512_reduce_add_ps(acc[i]) + (bias ? bias[j] : 0.0f);
  }
}

template <bool Bf16>
void dispatch(const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A, float* C,
              const float* bias, int64_t j0, int64_t j1) {
  switch (m) {
    case 1: return rows<Bf16, 1>(W, n, k, A, C, bias, j0, j1);
    case 2: return rows<Bf16, 2>(W, n, k, A, C, bias, j0, j1);
    case 3: return rows<Bf16, 3>(W, n, k, A, C, bias, j0, j1);
    default: return rows<Bf16, 4>(W, n, k, A, C, bias, j0, j1);
  }
}

}  // namespace

void half_gemv_avx512(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A,
                      float* C, const float* bias, int64_t j0, int64_t j1) {
  if (t == GGMLType::BF16) dispatch<true>(W, m, n, k, A, C, bias, j0, j1);
  else dispatch<false>(W, m, n, k, A, C, bias, j0, j1);
}

}  // namespace squish::kernels
