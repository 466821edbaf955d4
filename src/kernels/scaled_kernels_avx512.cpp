// AVX-512 (VNNI, BW) inner loops of scaled_matmul: 64-byte integer dots with vpdpbusd, FP8 via
// F16 conversion, NF4 via a 16-lane permute.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "scaled_kernels.h"
#include "squish/formats/number_formats.h"

namespace squish::kernels::scaled {

// vpdpbusd multiplies unsigned by signed bytes: the activations go in as a + 128 (a xor 0x80) and
// 128 · Σ w is taken off the sum afterwards.
void int8_tile_avx512(const int8_t* const* a, const int8_t* const* w, int64_t k, const int32_t* row_sums,
                      int32_t* out) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc[4][4];
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_si512();
  for (int64_t t = 0; t < k; t += 64) {
    __m512i wv[4];
    for (int r = 0; r < 4; ++r) wv[r] = _mm512_loadu_si512(w[r] + t);
    for (int i = 0; i < 4; ++i) {
      const __m512i av = _mm512_xor_si512(_mm512_loadu_si512(a[i] + t), flip);
      for (int r = 0; r < 4; ++r) acc[i][r] = _mm512_dpbusd_epi32(acc[i][r], av, wv[r]);
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int r = 0; r < 4; ++r) out[i * 4 + r] = _mm512_reduce_add_epi32(acc[i][r]) - 128 * row_sums[r];
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
