// AVX2+FMA F32 NT matrix product. Products of several activation rows pack each k block of the
// weights (512 rows at a time) into k-major panels of 16 rows (zero-padded, 8 x 8 transposes) and
// run a 6 x 16 broadcast micro-kernel on each: 12 ymm accumulators, no horizontal sums; a panel
// block stays in L1, a block of activation rows in L2. Products of one or two rows (decoding, memory-bound)
// stream the weights directly with dot-product tiles.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "squish/kernels/gemm.h"
#include "transpose_avx2.h"

namespace squish::kernels {
namespace {

constexpr int kMR = 6;         // activation rows per micro-kernel
constexpr int kNR = 16;        // weight rows per packed panel (two ymm of output columns)
constexpr int64_t KC = 256;    // largest k block: a 256 x 16 panel (16 KiB) stays in L1
constexpr int64_t MB = 192;    // activation rows per L2 block (192 x 256 floats = 192 KiB)
constexpr int64_t NC = 512;    // weight rows packed at a time (512 x 256 floats = 512 KiB)
constexpr int64_t kDotRows = 2;  // products with at most this many rows use the dot-product tiles

// One k step of a packed panel: a cache line (the micro-kernel's loads are aligned).
struct alignas(64) PanelRow {
  float v[kNR];
};

// Sum of the 8 lanes.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Transposes 8 weight rows x 8 columns (w + r·ldw) into 8 panel rows of 16 (p + t·16).
inline void transpose8(const float* w, int64_t ldw, float* p) {
  __m256i r[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm256_castps_si256(_mm256_loadu_ps(w + i * ldw));
  transpose8x8(r);
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) _mm256_store_ps(p + j * kNR, _mm256_castsi256_ps(r[j]));
}

// panel[t * 16 + r] = W[r, t] for t < kc, r < nr; rows nr..15 are zero.
void pack_panel(const float* W, int64_t ldw, int nr, int64_t kc, float* panel) {
  for (int r0 = 0; r0 < kNR; r0 += 8) {
    int64_t t = 0;
    if (r0 + 8 <= nr)
      for (; t + 8 <= kc; t += 8) transpose8(W + r0 * ldw + t, ldw, panel + t * kNR + r0);
    for (; t < kc; ++t)
      for (int r = r0; r < r0 + 8; ++r) panel[t * kNR + r] = r < nr ? W[r * ldw + t] : 0.f;
  }
}

// C[MR x nr] (+)= A[MR x kc] · panelᵀ; on the first k block C is set (plus bias), after that
// accumulated.
template <int MR>
void panel_kernel(const float* A, int64_t lda, const float* panel, int64_t kc, float* C,
                  int64_t ldc, int nr, bool first, const float* bias) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t t = 0; t < kc; ++t) {
    const __m256 w0 = _mm256_load_ps(panel + t * kNR), w1 = _mm256_load_ps(panel + t * kNR + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(A + i * lda + t);
      acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
    }
  }
  if (nr == kNR) {
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    if (first && bias) b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* c = C + i * ldc;
      const __m256 c0 = first ? b0 : _mm256_loadu_ps(c), c1 = first ? b1 : _mm256_loadu_ps(c + 8);
      _mm256_storeu_ps(c, _mm256_add_ps(c0, acc[i][0]));
      _mm256_storeu_ps(c + 8, _mm256_add_ps(c1, acc[i][1]));
    }
    return;
  }
#pragma GCC unroll 6  // constant indices keep the accumulators in registers in the loop above
  for (int i = 0; i < MR; ++i) {
    alignas(32) float s[kNR];
    _mm256_store_ps(s, acc[i][0]);
    _mm256_store_ps(s + 8, acc[i][1]);
    float* c = C + i * ldc;
    for (int r = 0; r < nr; ++r) c[r] = first ? (bias ? bias[r] : 0.f) + s[r] : c[r] + s[r];
  }
}

using PanelFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int, bool,
                         const float*);

template <int... MRs>
constexpr std::array<PanelFn, sizeof...(MRs)> panel_kernels(std::integer_sequence<int, MRs...>) {
  return {&panel_kernel<MRs + 1>...};
}

// kPanel[mr - 1] for mr <= 6.
constexpr auto kPanel = panel_kernels(std::make_integer_sequence<int, kMR>{});

// Lane masks for the last, partial 8-float group of a row: kTailMask + 8 - rem has rem ones.
alignas(32) constexpr int32_t kTailMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// C[MR x NR] = A[MR x k] · W[NR x k]ᵀ + bias over the whole row, summing 8 lanes per dot product.
template <int MR, int NR>
void dot_tile(const float* A, int64_t lda, const float* W, int64_t ldw, float* C, int64_t ldc,
              int64_t k, const float* bias) {
  __m256 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) acc[i][r] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= k; t += 8) {
    __m256 a[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = _mm256_loadu_ps(A + i * lda + t);
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m256 w = _mm256_loadu_ps(W + r * ldw + t);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][r] = _mm256_fmadd_ps(a[i], w, acc[i][r]);
    }
  }
  if (t < k) {
    const __m256i mask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 8 - (k - t)));
    __m256 a[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = _mm256_maskload_ps(A + i * lda + t, mask);
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m256 w = _mm256_maskload_ps(W + r * ldw + t, mask);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][r] = _mm256_fmadd_ps(a[i], w, acc[i][r]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) C[i * ldc + r] = hsum(acc[i][r]) + (bias ? bias[r] : 0.f);
}

using DotFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t,
                       const float*);

template <int MR, int... NRs>
constexpr std::array<DotFn, sizeof...(NRs)> dot_tiles(std::integer_sequence<int, NRs...>) {
  return {&dot_tile<MR, NRs + 1>...};
}

// kDot1[nr - 1]: one activation row against up to 8 weight rows; kDot2: two rows against up to 4.
constexpr auto kDot1 = dot_tiles<1>(std::make_integer_sequence<int, 8>{});
constexpr auto kDot2 = dot_tiles<2>(std::make_integer_sequence<int, 4>{});

// Products of one or two activation rows: every weight element is loaded once per row pair.
void gemm_dot(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
              int64_t ldw, float* C, int64_t ldc, const float* bias) {
  for (int64_t i = 0; i < m; i += 2) {
    const bool pair = i + 1 < m;
    const int64_t step = pair ? 4 : 8;
    for (int64_t j = 0; j < n; j += step) {
      const int nr = static_cast<int>(std::min<int64_t>(step, n - j));
      const auto fn = pair ? kDot2[nr - 1] : kDot1[nr - 1];
      fn(A + i * lda, lda, W + j * ldw, ldw, C + i * ldc + j, ldc, k, bias ? bias + j : nullptr);
    }
  }
}

}  // namespace

void gemm_nt_avx2(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
                  int64_t ldw, float* C, int64_t ldc, const float* bias) {
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) C[i * ldc + j] = bias ? bias[j] : 0.f;
    return;
  }
  if (m <= kDotRows) return gemm_dot(m, n, k, A, lda, W, ldw, C, ldc, bias);
  // Even k blocks of at most KC (a multiple of 8), so no block is a short remainder.
  const int64_t blocks = (k + KC - 1) / KC;
  const int64_t kb = std::min(KC, ((k + blocks - 1) / blocks + 7) / 8 * 8);
  // The packed k block of up to NC weight rows (at most 512 KiB), reused by every block of
  // activation rows.
  thread_local std::vector<PanelRow> storage;
  storage.resize(static_cast<size_t>(NC / kNR * kb));
  float* const packed = reinterpret_cast<float*>(storage.data());
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t nc = std::min(NC, n - j0), panels = (nc + kNR - 1) / kNR;
    for (int64_t t0 = 0; t0 < k; t0 += kb) {
      const int64_t kc = std::min(kb, k - t0);
      const bool first = t0 == 0;
      for (int64_t p = 0; p < panels; ++p)
        pack_panel(W + (j0 + p * kNR) * ldw + t0, ldw, static_cast<int>(std::min<int64_t>(kNR, nc - p * kNR)),
                   kc, packed + p * kb * kNR);
      for (int64_t i0 = 0; i0 < m; i0 += MB) {
        const int64_t mb = std::min(MB, m - i0);
        for (int64_t p = 0; p < panels; ++p) {
          const int64_t j = j0 + p * kNR;
          const int nr = static_cast<int>(std::min<int64_t>(kNR, n - j));
          const float* b = bias ? bias + j : nullptr;
          for (int64_t i = i0; i < i0 + mb; i += kMR) {
            const int mr = static_cast<int>(std::min<int64_t>(kMR, i0 + mb - i));
            kPanel[mr - 1](A + i * lda + t0, lda, packed + p * kb * kNR, kc, C + i * ldc + j, ldc,
                           nr, first, b);
          }
        }
      }
    }
  }
}

}  // namespace squish::kernels
