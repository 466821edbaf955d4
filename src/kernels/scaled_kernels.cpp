// Portable references of the scaled-matrix inner loops (scaled_kernels.h).
#include "scaled_kernels.h"

#include "squish/formats/minifloat.h"
#include "squish/formats/number_formats.h"

namespace squish::kernels::scaled {

void int8_tile_scalar(const int8_t* const* a, const int8_t* const* w, int64_t k, const int32_t*,
                      int32_t* out) {
  for (int i = 0; i < 4; ++i)
    for (int r = 0; r < 4; ++r) {
      int32_t s = 0;
      for (int64_t t = 0; t < k; ++t) s += int32_t{a[i][t]} * int32_t{w[r][t]};
      out[i * 4 + r] = s;
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
