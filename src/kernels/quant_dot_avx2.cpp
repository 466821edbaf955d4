// AVX2 (maddubs) integer dot products of GGUF weight blocks with Q8_0 / Q8_K activations.
#include <immintrin.h>

#include <string>

#include "squish/common/error.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"
#include "squish/kernels/quant_dot.h"
#include "quant_dot_256.h"

namespace squish::kernels {

namespace {

// Signed 32 x 32 int8 products summed into 8 int32 lanes (pairs in int16 cannot overflow:
// |w| <= 128, |a| <= 127).
inline __m256i dot_i8(__m256i w, __m256i a) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// Unsigned (< 64) x signed 32 x 32 int8 products into 8 int32 lanes, bytes 0..15 scaled by sc_lo
// and 16..31 by sc_hi: the scale is the int16 multiplier of the pair sums (|pair| <= 2·63·127).
inline __m256i dot_u8s8(__m256i u, __m256i s, int sc_lo, int sc_hi) {
  const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(sc_hi)),
                                         _mm_set1_epi16(static_cast<int16_t>(sc_lo)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale);
}

}  // namespace

float quant_dot_avx2(GGMLType t, const void* w, const void* a, int64_t n) {
  float out;
  if (kquant_dot_256(t, w, a, n, out, [](__m256i u, __m256i s, int lo, int hi) { return dot_u8s8(u, s, lo, hi); }))
    return out;
  return legacy_dot_256(t, w, a, n, [](__m256i x, __m256i y) { return dot_i8(x, y); });
}

void quant_dot4_avx2(GGMLType t, const void* w, const void* const* a, int64_t n, float* out) {
  legacy_dot_256_rows<4>(t, w, a, n, out, [](__m256i x, __m256i y) { return dot_i8(x, y); });
}

}  // namespace squish::kernels
