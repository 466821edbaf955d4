// AVX2 inner loops of scaled_matmul: integer dots with the sign trick (|w| · sign(a, w) through
// vpmaddubsw, exact since |codes| <= 127), FP8 via F16C, NF4 via two 8-lane permutes.
#include <immintrin.h>

#include "scaled_kernels.h"
#include "squish/formats/number_formats.h"

namespace squish::kernels::scaled {

namespace {
inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}
}  // namespace

void int8_tile_avx2(const int8_t* const* a, const int8_t* const* w, int64_t k, const int32_t*,
                    int32_t* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r0 = 0; r0 < 4; r0 += 2) {  // two weight rows at a time: 8 accumulators fit the registers
    __m256i acc[4][2];
    for (auto& row : acc) row[0] = row[1] = _mm256_setzero_si256();
    for (int64_t t = 0; t < k; t += 32) {
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r0] + t));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r0 + 1] + t));
      const __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);
      for (int i = 0; i < 4; ++i) {
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i] + t));
        acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(av, w0)), ones));
        acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(av, w1)), ones));
      }
    }
    for (int i = 0; i < 4; ++i) {
      out[i * 4 + r0] = hsum_epi32(acc[i][0]);
      out[i * 4 + r0 + 1] = hsum_epi32(acc[i][1]);
    }
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
