// AVX2 (maddubs) integer dot products of GGUF weight blocks with Q8_0 activations.
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

}  // namespace

float quant_dot_avx2(GGMLType t, const void* w, const void* a, int64_t n) {
  return legacy_dot_256(t, w, a, n, [](__m256i x, __m256i y) { return dot_i8(x, y); });
}

void quant_dot4_avx2(GGMLType t, const void* w, const void* const* a, int64_t n, float* out) {
  legacy_dot_256_rows<4>(t, w, a, n, out, [](__m256i x, __m256i y) { return dot_i8(x, y); });
}

}  // namespace squish::kernels
