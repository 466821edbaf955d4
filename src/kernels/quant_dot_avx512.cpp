// AVX-512 VNNI (256-bit VL form) integer dot products of GGUF weight blocks with Q8_0 activations.
#include <immintrin.h>

#include <string>

#include "squish/common/error.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"
#include "squish/kernels/quant_dot.h"
#include "quant_dot_256.h"

namespace squish::kernels {

namespace {

// Signed 32 x 32 int8 products summed into 8 int32 lanes: |w| (unsigned) times a with w's sign.
inline __m256i dot_i8(__m256i w, __m256i a) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

// Q4_K: unsigned nibbles times signed Q8_K activations (dpbusd needs no sign trick here).
float dot_q4_k(const BlockQ4_K* w, const BlockQ8_K* a, int64_t nb) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = w[b].scales;
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
      if (j < 4) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
      } else {
        sc[j] = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        m[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
      }
    }
    __m256i sumi = _mm256_setzero_si256();
    int32_t macc = 0;
    for (int j = 0; j < 4; ++j) {
      const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * j));
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 64 * j));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 64 * j + 32));
      const __m256i lo = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_and_si256(qv, mask), y0);
      const __m256i hi = _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                             _mm256_and_si256(_mm256_srli_epi16(qv, 4), mask), y1);
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(lo, _mm256_set1_epi32(sc[2 * j])));
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(hi, _mm256_set1_epi32(sc[2 * j + 1])));
      macc += m[2 * j] * (a[b].bsums[4 * j] + a[b].bsums[4 * j + 1]) +
              m[2 * j + 1] * (a[b].bsums[4 * j + 2] + a[b].bsums[4 * j + 3]);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * _cvtsh_ss(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    mins += a[b].d * _cvtsh_ss(w[b].dmin) * static_cast<float>(macc);
  }
  return hsum(acc) - mins;
}

}  // namespace

float quant_dot_avx512(GGMLType t, const void* w, const void* a, int64_t n) {
  if (t == GGMLType::Q4_K)
    return dot_q4_k(static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(a), n / kQKK);
  return legacy_dot_256(t, w, a, n, [](__m256i x, __m256i y) { return dot_i8(x, y); });
}

void quant_dot4_avx512(GGMLType t, const void* w, const void* const* a, int64_t n, float* out) {
  legacy_dot_256_rows<4>(t, w, a, n, out, [](__m256i x, __m256i y) { return dot_i8(x, y); });
}

}  // namespace squish::kernels
