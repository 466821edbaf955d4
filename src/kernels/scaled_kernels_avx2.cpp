// AVX2 inner loops of scaled_matmul: W8A8 panels with the sign trick (|w| · sign(a, w) through
// vpmaddubsw, exact since |codes| <= 127), FP8 via F16C, NF4 via two 8-lane permutes.
#include <immintrin.h>

#include <algorithm>

#include "scaled_kernels.h"
#include "squish/formats/number_formats.h"

namespace squish::kernels::scaled {

namespace {
// NA (<= 4) activation rows against one panel (two vectors of 8 rows): |w| · sign(a, w) through
// vpmaddubsw, then pairs summed to 32-bit lanes, one per weight row.
template <int NA>
void int8_panel(const uint8_t* const* a, const int8_t* panel, int64_t k, const float* w_scale,
                const float* a_scale, const float* bias, int nr, float* C, int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[NA][2];
#pragma GCC unroll 8
  for (auto& v : acc) v[0] = v[1] = _mm256_setzero_si256();
  for (int64_t t = 0; t < k; t += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 16));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 16 + 32));
    const __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) {
      int32_t quad;
      __builtin_memcpy(&quad, a[i] + t, 4);
      const __m256i x = _mm256_set1_epi32(quad);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(x, w0)), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(x, w1)), ones));
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < NA; ++i) {
    float out[16];
#pragma GCC unroll 8
    for (int h = 0; h < 2; ++h) {
      const __m256 dot = _mm256_cvtepi32_ps(acc[i][h]);
      const __m256 b = bias ? _mm256_loadu_ps(bias + 8 * h) : _mm256_setzero_ps();
      _mm256_storeu_ps(out + 8 * h, _mm256_fmadd_ps(_mm256_mul_ps(dot, _mm256_loadu_ps(w_scale + 8 * h)),
                                                    _mm256_set1_ps(a_scale[i]), b));
    }
#pragma GCC unroll 8
    for (int r = 0; r < nr; ++r) C[i * ldc + r] = out[r];
  }
}
}  // namespace

void int8_panel_avx2(const uint8_t* const* a, int na, const int8_t* panel, int64_t k, const int32_t*,
                     const float* w_scale, const float* a_scale, const float* bias, int nr, float* C,
                     int64_t ldc) {
  // The last panel of a matrix may hold fewer than 16 rows: its scales and biases are read from
  // zero-padded copies, never past the caller's arrays (the kernel loads 16 lanes).
  float scale_pad[16] = {}, bias_pad[16] = {};
  if (nr < 16) {
    std::copy(w_scale, w_scale + nr, scale_pad);
    w_scale = scale_pad;
    if (bias) bias = std::copy(bias, bias + nr, bias_pad) - nr;
  }
  for (int i0 = 0; i0 < na; i0 += 4) {  // four rows at a time: eight accumulators fit the registers
    const int n = std::min(4, na - i0);
    const uint8_t* const* ai = a + i0;
    float* Ci = C + i0 * ldc;
    if (n == 4) int8_panel<4>(ai, panel, k, w_scale, a_scale + i0, bias, nr, Ci, ldc);
    else if (n == 3) int8_panel<3>(ai, panel, k, w_scale, a_scale + i0, bias, nr, Ci, ldc);
    else if (n == 2) int8_panel<2>(ai, panel, k, w_scale, a_scale + i0, bias, nr, Ci, ldc);
    else int8_panel<1>(ai, panel, k, w_scale, a_scale + i0, bias, nr, Ci, ldc);
  }
}

void decode_fp8_avx2(const uint8_t* q, float scale, float* dst, int64_t n) {
  const __m256 s = _mm256_set1_ps(scale * 256.0f);
  const __m256i sign_bit = _mm256_set1_epi16(0x80), rest = _mm256_set1_epi16(0x7F);
  for (int64_t i = 0; i < n; i += 16) {
    const __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    // F16 bits with E4M3's exponent bias: the value is 2^-8 of the FP8 value.
    const __m256i h = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(x, sign_bit), 8),
                                      _mm256_slli_epi16(_mm256_and_si256(x, rest), 7));
    _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), s));
    _mm256_storeu_ps(dst + i + 8, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), s));
  }
}

void decode_nf4_avx2(const uint8_t* q, const float* scales, float* dst, int64_t n) {
  const float* lv = nf4_levels().data();
  const __m256 lut_lo = _mm256_loadu_ps(lv), lut_hi = _mm256_loadu_ps(lv + 8);
  const __m256i low = _mm256_set1_epi32(15);
  const auto level = [&](__m256i idx) {  // bit 3 of the index picks the table half
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lut_lo, idx), _mm256_permutevar8x32_ps(lut_hi, idx),
                            _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
  };
  for (int64_t b = 0; b < n / 64; ++b, q += 32, dst += 64) {
    const __m256 s = _mm256_set1_ps(scales[b]);
    for (int h = 0; h < 4; ++h) {
      const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + 8 * h)));
      _mm256_storeu_ps(dst + 8 * h, _mm256_mul_ps(level(_mm256_and_si256(v, low)), s));
      _mm256_storeu_ps(dst + 32 + 8 * h, _mm256_mul_ps(level(_mm256_srli_epi32(v, 4)), s));
    }
  }
}

}  // namespace squish::kernels::scaled
