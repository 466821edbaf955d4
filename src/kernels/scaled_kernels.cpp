// Portable references of the scaled-matrix inner loops (scaled_kernels.h).
#include "scaled_kernels.h"

#include "squish/formats/minifloat.h"
#include "squish/formats/number_formats.h"

namespace squish::kernels::scaled {

void int8_panel_scalar(const uint8_t* const* a, int na, const int8_t* panel, int64_t k,
                       const int32_t*, const float* w_scale, const float* a_scale, const float* bias,
                       int nr, float* C, int64_t ldc) {
  for (int i = 0; i < na; ++i) {
    const auto* x = reinterpret_cast<const int8_t*>(a[i]);
    for (int r = 0; r < nr; ++r) {
      int32_t dot = 0;
      for (int64_t t = 0; t < k; ++t) dot += int32_t{x[t]} * panel[(t / 4) * 64 + r * 4 + t % 4];
      C[i * ldc + r] = a_scale[i] * w_scale[r] * static_cast<float>(dot) + (bias ? bias[r] : 0.0f);
    }
  }
}

void decode_fp8_scalar(const uint8_t* q, float scale, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = e4m3_to_fp32(q[i]) * scale;
}

void decode_nf4_scalar(const uint8_t* q, const float* scales, float* dst, int64_t n) {
  const auto& lv = nf4_levels();
  for (int64_t b = 0; b < n / 64; ++b, q += 32, dst += 64) {
    const float s = scales[b];
    for (int i = 0; i < 32; ++i) {
      dst[i] = lv[q[i] & 15] * s;
      dst[i + 32] = lv[q[i] >> 4] * s;
    }
  }
}

}  // namespace squish::kernels::scaled
