// AVX-512 F16 (vcvtph2ps) / BF16 (shift into the high half) weight rows times up to 8 F32
// activation rows, 16 elements per step. Each thread walks several row ranges at once (one memory
// stream per range): a single sequential stream per core reads well below the machine's bandwidth.
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

// Rows j0 + s * stride + q for s < S, q < count: S streams, M activation rows.
template <bool Bf16, int M, int S>
void rows(const uint16_t* W, int64_t n, int64_t k, const float* A, float* C, const float* bias,
          int64_t j0, int64_t stride, int64_t count) {
  const int64_t k16 = k / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (k - k16)) - 1);
  for (int64_t q = 0; q < count; ++q) {
    const uint16_t* w[S];
    for (int s = 0; s < S; ++s) w[s] = W + (j0 + s * stride + q) * k;
    __m512 acc[S][M];
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i) acc[s][i] = _mm512_setzero_ps();
    for (int64_t t = 0; t < k16; t += 16) {
      __m512 a[M];
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i) a[i] = _mm512_loadu_ps(A + i * k + t);
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) {
        const __m512 wv = widen<Bf16>(w[s] + t, 0xFFFF);
#pragma GCC unroll 8
        for (int i = 0; i < M; ++i) acc[s][i] = _mm512_fmadd_ps(wv, a[i], acc[s][i]);
      }
    }
    if (tail) {
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) {
        const __m512 wv = widen<Bf16>(w[s] + k16, tail);
#pragma GCC unroll 8
        for (int i = 0; i < M; ++i)
          acc[s][i] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, A + i * k + k16), acc[s][i]);
      }
    }
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) {
      const int64_t j = j0 + s * stride + q;
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i) C[i * n + j] = _mm512_reduce_add_ps(acc[s][i]) + (bias ? bias[j] : 0.0f);
    }
  }
}

// [j0, j1) as S equal streams (or one when !multi), then the leftover rows as one.
template <bool Bf16, int M>
void streams(const uint16_t* W, int64_t n, int64_t k, const float* A, float* C, const float* bias,
             int64_t j0, int64_t j1, bool multi) {
  constexpr int S = M <= 4 ? 4 : 2;  // S x M accumulators stay within the 32 registers
  if (!multi) return rows<Bf16, M, 1>(W, n, k, A, C, bias, j0, 0, j1 - j0);
  const int64_t per = (j1 - j0) / S;
  rows<Bf16, M, S>(W, n, k, A, C, bias, j0, per, per);
  rows<Bf16, M, 1>(W, n, k, A, C, bias, j0 + S * per, 0, j1 - j0 - S * per);
}

template <bool Bf16>
void dispatch(const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A, float* C,
              const float* bias, int64_t j0, int64_t j1, bool multi) {
  switch (m) {
    case 1: return streams<Bf16, 1>(W, n, k, A, C, bias, j0, j1, multi);
    case 2: return streams<Bf16, 2>(W, n, k, A, C, bias, j0, j1, multi);
    case 3: return streams<Bf16, 3>(W, n, k, A, C, bias, j0, j1, multi);
    case 4: return streams<Bf16, 4>(W, n, k, A, C, bias, j0, j1, multi);
    case 5: return streams<Bf16, 5>(W, n, k, A, C, bias, j0, j1, multi);
    case 6: return streams<Bf16, 6>(W, n, k, A, C, bias, j0, j1, multi);
    case 7: return streams<Bf16, 7>(W, n, k, A, C, bias, j0, j1, multi);
    default: return streams<Bf16, 8>(W, n, k, A, C, bias, j0, j1, multi);
  }
}

}  // namespace

void half_gemv_avx512(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A,
                      float* C, const float* bias, int64_t j0, int64_t j1, bool multi_stream) {
  if (t == GGMLType::BF16) dispatch<true>(W, m, n, k, A, C, bias, j0, j1, multi_stream);
  else dispatch<false>(W, m, n, k, A, C, bias, j0, j1, multi_stream);
}

}  // namespace squish::kernels
