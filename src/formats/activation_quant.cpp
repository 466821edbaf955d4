// Per-token / static INT8 and FP8 activation rounding (see activation_quant.h).
#include "squish/formats/activation_quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "squish/common/parallel.h"
#include "squish/formats/minifloat.h"

namespace squish {

namespace {
bool is_fp8(InputQuant q) { return q == InputQuant::Fp8PerToken || q == InputQuant::Fp8Static; }
bool is_static(InputQuant q) { return q == InputQuant::Int8Static || q == InputQuant::Fp8Static; }
}  // namespace

std::string input_quant_name(InputQuant q) {
  switch (q) {
    case InputQuant::None: return "none";
    case InputQuant::Int8PerToken: return "int8-per-token";
    case InputQuant::Int8Static: return "int8-static";
    case InputQuant::Fp8PerToken: return "fp8-per-token";
    case InputQuant::Fp8Static: return "fp8-static";
  }
  return "?";
}

float input_quant_scale(InputQuant q, float amax) { return amax / (is_fp8(q) ? 448.0f : 127.0f); }

void fake_quantize_input(InputQuant q, float static_scale, const float* x, float* y, int64_t rows,
                         int64_t cols) {
  if (q == InputQuant::None) {
    if (y != x) std::copy_n(x, rows * cols, y);
    return;
  }
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<int8_t> codes(is_fp8(q) ? 0 : static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float s = static_scale;
      if (!is_static(q)) {
        float amax = 0.0f;
        for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(xr[i]));
        s = input_quant_scale(q, amax);
      }
      if (!(s > 0.0f)) {
        std::fill_n(yr, cols, 0.0f);
        continue;
      }
      if (is_fp8(q)) {
        const float inv = 1.0f / s;
        for (int64_t i = 0; i < cols; ++i) yr[i] = e4m3_to_fp32(fp32_to_e4m3(xr[i] * inv)) * s;
      } else {  // the INT8 kernels' own rounding, with this row's scale
        quantize_row_int8(xr, codes.data(), cols, s);
        for (int64_t i = 0; i < cols; ++i) yr[i] = static_cast<float>(codes[static_cast<size_t>(i)]) * s;
      }
    }
  }, 4);
}

float quantize_row_int8(const float* x, int8_t* q, int64_t n, float static_scale) {
  float s = static_scale;
  if (!(s > 0.0f)) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
    s = input_quant_scale(InputQuant::Int8PerToken, amax);
  }
  if (!(s > 0.0f)) {
    std::fill_n(q, n, int8_t{0});
    return 0.0f;
  }
  const float inv = 1.0f / s;
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
  return s;
}

}  // namespace squish
