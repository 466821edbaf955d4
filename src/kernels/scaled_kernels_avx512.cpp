// AVX-512 (VNNI, BW) inner loops of scaled_matmul: W8A8 panels with vpdpbusd, FP8 via
// F16 conversion, NF4 via a 16-lane permute.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "scaled_kernels.h"
#include "squish/formats/number_formats.h"

namespace squish::kernels::scaled {

// vpdpbusd multiplies unsigned by signed bytes: the activations go in as a + 128 (a xor 0x80) and
// 128 · Σ w is taken off the sum afterwards.
namespace {
// NA activation rows against one panel: each 32-bit lane of a panel vector is one weight row's 4
// codes, multiplied by the activation's same 4 codes broadcast to every lane.
template <int NA>
void int8_panel(const uint8_t* const* a, const int8_t* panel, int64_t k, const int32_t* row_sums,
                const float* w_scale, const float* a_scale, const float* bias, int nr, float* C, int64_t ldc) {
  __m512i acc[NA];
#pragma GCC unroll 8
  for (auto& v : acc) v = _mm512_setzero_si512();
  for (int64_t t = 0; t < k; t += 4) {
    const __m512i w = _mm512_loadu_si512(panel + t * 16);
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) {
      int32_t quad;
      __builtin_memcpy(&quad, a[i] + t, 4);
      acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_set1_epi32(quad), w);
    }
  }
  // A matrix's last panel may hold fewer than 16 rows: its per-row arrays are read masked.
  const __mmask16 mask = static_cast<__mmask16>(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
  const __m512i offset = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, row_sums), 7);  // 128 · Σ w
  const __m512 ws = _mm512_maskz_loadu_ps(mask, w_scale);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < NA; ++i) {
    const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i], offset));
    _mm512_mask_storeu_ps(C + i * ldc, mask, _mm512_fmadd_ps(_mm512_mul_ps(dot, ws), _mm512_set1_ps(a_scale[i]), b));
  }
}
}  // namespace

// vpdpbusd multiplies unsigned by signed bytes: the activations come as a + 128 (a xor 0x80) and
// 128 · Σ w is taken off each sum.
void int8_panel_avx512(const uint8_t* const* a, int na, const int8_t* panel, int64_t k,
                       const int32_t* row_sums, const float* w_scale, const float* a_scale,
                       const float* bias, int nr, float* C, int64_t ldc) {
  switch (na) {
#define SQUISH_PANEL_CASE(N) \
  case N: return int8_panel<N>(a, panel, k, row_sums, w_scale, a_scale, bias, nr, C, ldc);
    SQUISH_PANEL_CASE(1) SQUISH_PANEL_CASE(2) SQUISH_PANEL_CASE(3) SQUISH_PANEL_CASE(4)
    SQUISH_PANEL_CASE(5) SQUISH_PANEL_CASE(6) SQUISH_PANEL_CASE(7)
#undef SQUISH_PANEL_CASE
    default: return int8_panel<8>(a, panel, k, row_sums, w_scale, a_scale, bias, nr, C, ldc);
  }
}

float quantize_row_int8_offset_avx512(const float* x, uint8_t* q, int64_t n, float static_scale) {
  const int64_t n16 = n / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - n16)) - 1);
  float s = static_scale;
  if (!(s > 0.0f)) {
    __m512 amax = _mm512_setzero_ps();
    for (int64_t i = 0; i < n16; i += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, x + n16)));
    s = _mm512_reduce_max_ps(amax) / 127.0f;
  }
  if (!(s > 0.0f)) {
    for (int64_t i = 0; i < n; ++i) q[i] = 0x80;
    return 0.0f;
  }
  const __m512 inv = _mm512_set1_ps(1.0f / s);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
  const auto codes = [&](__m512 v) {  // round half to even (the default rounding mode), clamp
    const __m512i c = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, inv)), lo), hi);
    return _mm_xor_si128(_mm512_cvtepi32_epi8(c), flip);
  };
  for (int64_t i = 0; i < n16; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), codes(_mm512_loadu_ps(x + i)));
  if (tail) _mm_mask_storeu_epi8(q + n16, tail, codes(_mm512_maskz_loadu_ps(tail, x + n16)));
  return s;
}

namespace {
// 32 E4M3 codes (as 16-bit lanes) to F16 bits with the exponent bias left at E4M3's: sign to bit
// 15, exponent and mantissa shifted under F16's; the value is then 2^-8 of the FP8 value.
inline __m512i e4m3_to_f16_bits(__m512i x) {
  const __m512i sign = _mm512_slli_epi16(_mm512_and_si512(x, _mm512_set1_epi16(0x80)), 8);
  return _mm512_or_si512(sign, _mm512_slli_epi16(_mm512_and_si512(x, _mm512_set1_epi16(0x7F)), 7));
}
}  // namespace

void decode_fp8_avx512(const uint8_t* q, float scale, float* dst, int64_t n) {
  const __m512 s = _mm512_set1_ps(scale * 256.0f);
  for (int64_t i = 0; i < n; i += 32) {
    const __m512i h = e4m3_to_f16_bits(_mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i))));
    _mm512_storeu_ps(dst + i, _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(h)), s));
    _mm512_storeu_ps(dst + i + 16, _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)), s));
  }
}

void decode_nf4_avx512(const uint8_t* q, const float* scales, float* dst, int64_t n) {
  const __m512 lut = _mm512_loadu_ps(nf4_levels().data());
  const __m512i low = _mm512_set1_epi32(15);
  for (int64_t b = 0; b < n / 64; ++b, q += 32, dst += 64) {
    const __m512 s = _mm512_set1_ps(scales[b]);
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * h)));
      _mm512_storeu_ps(dst + 16 * h, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_and_si512(v, low), lut), s));
      _mm512_storeu_ps(dst + 32 + 16 * h, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut), s));
    }
  }
}

}  // namespace squish::kernels::scaled
