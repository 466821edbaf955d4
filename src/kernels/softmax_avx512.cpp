// AVX-512 softmax of one attention score row: max, exp by range reduction and a degree-6
// polynomial (Cephes' expf coefficients), sum, scale.
// GCC 12 flags its own _mm512_undefined_ps() inside the reduce / max intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "squish/kernels/softmax.h"

namespace squish::kernels {

namespace {

// e^x for x <= 0 (scores minus their maximum): x = k·ln2 + r, |r| <= ln2 / 2, e^r by polynomial,
// times 2^k (scalef flushes to 0 far below the F32 range).
inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);  // ln2 split in two parts
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, k);
}

}  // namespace

void softmax_row_avx512(float* row, int64_t a, int64_t z, int64_t n, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  const int64_t len = z - a;
  float* r = row + a;
  const auto mask_at = [&](int64_t j) {
    return static_cast<__mmask16>(len - j >= 16 ? 0xFFFF : (1u << (len - j)) - 1);
  };
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = mask_at(j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, r + j), s);
    _mm512_mask_storeu_ps(r + j, m, v);
    mx = _mm512_mask_max_ps(mx, m, mx, v);
  }
  const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = mask_at(j);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, r + j), top));
    _mm512_mask_storeu_ps(r + j, m, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, e));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = mask_at(j);
    _mm512_mask_storeu_ps(r + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, r + j), inv));
  }
  for (int64_t j = 0; j < a; ++j) row[j] = 0.f;
  for (int64_t j = z; j < n; ++j) row[j] = 0.f;
}

}  // namespace squish::kernels
