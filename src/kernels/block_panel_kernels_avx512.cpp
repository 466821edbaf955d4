// AVX-512 VNNI panel tiles of block_panel_matmul: each 32-bit lane of a code vector is 4 codes of
// one weight row, vpdpbusd multiplies them (unsigned) by 4 activation codes (signed) broadcast to
// all 16 lanes, so one block of 32 codes is 8 vpdpbusd per activation row, with no horizontal sums.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "block_panel_kernels.h"
#include "vnni_avx512.h"
#include "squish/formats/half.h"

namespace squish::kernels::panels {

namespace {

using vnni::broadcast4;

template <int NA, bool Nibbles, bool HighBits, bool StoredMin, bool TwoLevel>
void tile(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, const float* bias,
          int nr, float* C, int64_t ldc) {
  constexpr size_t code_bytes = Nibbles ? 256 + (HighBits ? 64 : 0) : 512;
  constexpr size_t block_bytes = code_bytes + 32 + (StoredMin ? 32 : 0);
  const __m512i low = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
  const __m512 neg_offset = _mm512_set1_ps(-L.offset);
  __m512 acc[NA];
#pragma GCC unroll 8
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b, panel += block_bytes) {
    __m512i w[8];
    if constexpr (Nibbles) {
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) {
        const __m512i raw = _mm512_loadu_si512(panel + 64 * v);
        w[2 * v] = _mm512_and_si512(raw, low);
        w[2 * v + 1] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
      }
      if constexpr (HighBits) {  // bit v -> bit 4 of codes 8v..8v+3, bit 4 + v -> of 8v+4..8v+7
        const __m512i hb = _mm512_loadu_si512(panel + 256);
        w[0] = _mm512_or_si512(w[0], _mm512_and_si512(_mm512_slli_epi16(hb, 4), bit4));
        w[2] = _mm512_or_si512(w[2], _mm512_and_si512(_mm512_slli_epi16(hb, 3), bit4));
        w[4] = _mm512_or_si512(w[4], _mm512_and_si512(_mm512_slli_epi16(hb, 2), bit4));
        w[6] = _mm512_or_si512(w[6], _mm512_and_si512(_mm512_slli_epi16(hb, 1), bit4));
        w[1] = _mm512_or_si512(w[1], _mm512_and_si512(hb, bit4));
        w[3] = _mm512_or_si512(w[3], _mm512_and_si512(_mm512_srli_epi16(hb, 1), bit4));
        w[5] = _mm512_or_si512(w[5], _mm512_and_si512(_mm512_srli_epi16(hb, 2), bit4));
        w[7] = _mm512_or_si512(w[7], _mm512_and_si512(_mm512_srli_epi16(hb, 3), bit4));
      }
    } else {
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) w[v] = _mm512_loadu_si512(panel + 64 * v);
    }
    const __m512 scale = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + code_bytes)));
    __m512 mn;
    if constexpr (StoredMin)
      mn = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + code_bytes + 32)));
    else
      mn = _mm512_mul_ps(neg_offset, scale);
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) {
      const int8_t* q = a[i].q + b * kBlock;
      __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], broadcast4(q));
#pragma GCC unroll 7
      for (int v = 1; v < 8; ++v) dot = _mm512_dpbusd_epi32(dot, w[v], broadcast4(q + 4 * v));
      if constexpr (TwoLevel) {  // 128 · Σ u · q + Σ u · q2: a second, independent chain, added as int32
        const int8_t* q2 = a[i].q2 + b * kBlock;
        __m512i dot2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], broadcast4(q2));
#pragma GCC unroll 7
        for (int v = 1; v < 8; ++v) dot2 = _mm512_dpbusd_epi32(dot2, w[v], broadcast4(q2 + 4 * v));
        dot = _mm512_add_epi32(_mm512_slli_epi32(dot, kLevelShift), dot2);
        const float d = a[i].d[b] * (1.0f / (1 << kLevelShift));
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, _mm512_set1_ps(d)), acc[i]);
      } else {
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, _mm512_set1_ps(a[i].d[b])), acc[i]);
      }
      acc[i] = _mm512_fmadd_ps(mn, _mm512_set1_ps(a[i].ds[b]), acc[i]);
    }
  }
  const __mmask16 mask = static_cast<__mmask16>(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < NA; ++i) _mm512_mask_storeu_ps(C + i * ldc, mask, _mm512_add_ps(acc[i], bv));
}

template <bool Nibbles, bool HighBits, bool StoredMin, bool TwoLevel>
void tile_levels(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                 const float* bias, int nr, float* C, int64_t ldc) {
  switch (na) {
#define SQUISH_TILE_CASE(N) \
  case N: return tile<N, Nibbles, HighBits, StoredMin, TwoLevel>(L, panel, blocks, a, bias, nr, C, ldc);
    SQUISH_TILE_CASE(1) SQUISH_TILE_CASE(2) SQUISH_TILE_CASE(3) SQUISH_TILE_CASE(4)
    SQUISH_TILE_CASE(5) SQUISH_TILE_CASE(6) SQUISH_TILE_CASE(7)
#undef SQUISH_TILE_CASE
    default: return tile<8, Nibbles, HighBits, StoredMin, TwoLevel>(L, panel, blocks, a, bias, nr, C, ldc);
  }
}

template <bool Nibbles, bool HighBits, bool StoredMin>
void tile_n(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
            const float* bias, int nr, float* C, int64_t ldc) {
  if (a[0].q2) return tile_levels<Nibbles, HighBits, StoredMin, true>(L, panel, blocks, a, na, bias, nr, C, ldc);
  return tile_levels<Nibbles, HighBits, StoredMin, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
}

}  // namespace

void tile_avx512(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                 const float* bias, int nr, float* C, int64_t ldc) {
  if (!L.nibbles) return tile_n<false, false, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
  if (L.high_bits) {
    if (L.stored_min) return tile_n<true, true, true>(L, panel, blocks, a, na, bias, nr, C, ldc);
    return tile_n<true, true, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
  }
  if (L.stored_min) return tile_n<true, false, true>(L, panel, blocks, a, na, bias, nr, C, ldc);
  return tile_n<true, false, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
}

void quantize_avx512(const float* x, int64_t k, int8_t* q, float* d, float* ds) {
  for (int64_t b = 0; b < k / kBlock; ++b, x += kBlock, q += kBlock) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float e = amax / 127.0f;
    const __m512 inv = _mm512_set1_ps(e > 0.0f ? 1.0f / e : 0.0f);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, inv));  // round half to even
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(q1));
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    d[b] = fp16_to_fp32(fp32_to_fp16(e));
    ds[b] = d[b] * static_cast<float>(sum);
  }
}

void quantize2_avx512(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2) {
  quantize_avx512(x, k, q, d, ds);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t b = 0; b < k / kBlock; ++b, x += kBlock, q += kBlock, q2 += kBlock) {
    const float step = d[b] * (1.0f / (1 << kLevelShift)), inv = step > 0.0f ? 1.0f / step : 0.0f;
    const __m512 nd = _mm512_set1_ps(-d[b]), vi = _mm512_set1_ps(inv);
    __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512 qf = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * h))));
      const __m512 r = _mm512_fmadd_ps(nd, qf, _mm512_loadu_ps(x + 16 * h));
      __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(r, vi));  // round half to even
      v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q2 + 16 * h), _mm512_cvtepi32_epi8(v));
      sum = _mm512_add_epi32(sum, v);
    }
    ds[b] = std::fma(step, static_cast<float>(_mm512_reduce_add_epi32(sum)), ds[b]);
  }
}

}  // namespace squish::kernels::panels
