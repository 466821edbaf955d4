// AVX-512 F32 NT matrix product: register tiles of up to 6 activation rows x 4 weight rows (1 x 8
// for single-row products), blocked over k (L1) and activation rows (L2).
// GCC 12 flags its own _mm512_undefined_ps() inside the reduce intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>

#include "squish/kernels/gemm.h"

namespace squish::kernels {
namespace {

constexpr int64_t KC = 2048;  // k block: whole rows for these models (fewer horizontal sums)
constexpr int64_t MB = 96;   // activation rows per L2 block

// The four horizontal sums of a0..a3, in that order.
inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));  // a0 a1 a0 a1
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));  // a2 a3 a2 a3
  const __m512 t = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
                                 _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(t), _mm512_extractf32x8_ps(t, 1));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// C[MR x NR] (+)= A[MR x kc] · W[NR x kc]ᵀ; on the first k block C is set (plus bias), after that
// accumulated.
template <int MR, int NR>
void tile(const float* A, int64_t lda, const float* W, int64_t ldw, float* C, int64_t ldc,
          int64_t kc, bool first, const float* bias) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) acc[i][r] = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + 16 <= kc; t += 16) {
    __m512 w[NR];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) w[r] = _mm512_loadu_ps(W + r * ldw + t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_loadu_ps(A + i * lda + t);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) acc[i][r] = _mm512_fmadd_ps(a, w[r], acc[i][r]);
    }
  }
  if (t < kc) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (kc - t)) - 1);
    __m512 w[NR];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) w[r] = _mm512_maskz_loadu_ps(mask, W + r * ldw + t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_maskz_loadu_ps(mask, A + i * lda + t);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) acc[i][r] = _mm512_fmadd_ps(a, w[r], acc[i][r]);
    }
  }
  if constexpr (NR == 4) {
    const __m128 b4 = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m128 s = reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      float* c = C + i * ldc;
      _mm_storeu_ps(c, _mm_add_ps(s, first ? b4 : _mm_loadu_ps(c)));
    }
    return;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const float s = _mm512_reduce_add_ps(acc[i][r]);
      float& c = C[i * ldc + r];
      c = first ? s + (bias ? bias[r] : 0.f) : c + s;
    }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t,
                        bool, const float*);

template <int MR, int... NRs>
constexpr std::array<TileFn, sizeof...(NRs)> row_of_tiles(std::integer_sequence<int, NRs...>) {
  return {&tile<MR, NRs + 1>...};
}

template <int... MRs>
constexpr auto table_of_tiles(std::integer_sequence<int, MRs...>) {
  return std::array<std::array<TileFn, 4>, sizeof...(MRs)>{
      row_of_tiles<MRs + 1>(std::make_integer_sequence<int, 4>{})...};
}

// kTiles[mr-1][nr-1] for mr <= 6, nr <= 4.
constexpr auto kTiles = table_of_tiles(std::make_integer_sequence<int, 6>{});
// Single-row tiles with up to 8 weight rows.
constexpr auto kRowTiles = row_of_tiles<1>(std::make_integer_sequence<int, 8>{});

}  // namespace

void gemm_nt_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
                    int64_t ldw, float* C, int64_t ldc, const float* bias) {
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) C[i * ldc + j] = bias ? bias[j] : 0.f;
    return;
  }
  if (m == 1) {
    for (int64_t j = 0; j < n; j += 8) {
      const int nr = static_cast<int>(std::min<int64_t>(8, n - j));
      kRowTiles[nr - 1](A, lda, W + j * ldw, ldw, C + j, ldc, k, true, bias ? bias + j : nullptr);
    }
    return;
  }
  for (int64_t i0 = 0; i0 < m; i0 += MB) {
    const int64_t mb = std::min(MB, m - i0);
    for (int64_t t0 = 0; t0 < k; t0 += KC) {
      const int64_t kc = std::min(KC, k - t0);
      const bool first = t0 == 0;
      for (int64_t j = 0; j < n; j += 4) {
        const int nr = static_cast<int>(std::min<int64_t>(4, n - j));
        const float* w = W + j * ldw + t0;
        const float* b = bias ? bias + j : nullptr;
        for (int64_t i = i0; i < i0 + mb; i += 6) {
          const int mr = static_cast<int>(std::min<int64_t>(6, i0 + mb - i));
          kTiles[mr - 1][nr - 1](A + i * lda + t0, lda, w, ldw, C + i * ldc + j, ldc, kc, first, b);
        }
      }
    }
  }
}

}  // namespace squish::kernels
