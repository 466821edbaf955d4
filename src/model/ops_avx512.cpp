// AVX-512 versions of element-wise forward-pass operations (ops.h), equal to the portable ones.
// GCC 12 flags its own undefined upper lanes inside the widening / reduce intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "ops_avx512.h"

namespace squish::ops {

void geglu_avx512(const float* table, float* g, const float* u, int64_t n) {
  const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
    // F16 bits of x (round to nearest even, as fp32_to_fp16) index ggml's GELU table.
    const __m512i h = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m512 gelu = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, h, table, 4);
    gelu = _mm512_mask_mov_ps(gelu, _mm512_cmp_ps_mask(x, hi, _CMP_GE_OQ), x);
    gelu = _mm512_mask_mov_ps(gelu, _mm512_cmp_ps_mask(x, lo, _CMP_LE_OQ), _mm512_setzero_ps());
    _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(gelu, uv));
  }
}

}  // namespace squish::ops
