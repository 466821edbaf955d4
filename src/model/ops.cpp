// Element-wise and row-wise operations of the forward pass.
#include "ops.h"

#include <cmath>
#include <vector>

#include "squish/common/parallel.h"
#include "squish/formats/half.h"
#include "squish/kernels/quant_dot.h"
#include "ops_avx512.h"

namespace squish::ops {

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps) {
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double sum = 0.0;  // ggml accumulates in double
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xr[i]) * xr[i];
      const float scale = 1.f / std::sqrt(static_cast<float>(sum / n) + eps);
      if (w)
        for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * w[i];
      else
        for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  };
  if (rows * n < 32768)
    body(0, rows);
  else
    parallel_for(rows, body, 8);
}

void rope(float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos0,
          float base, float scale, bool neox, const float* freq_factors) {
  if (n_rot <= 0) return;
  const int64_t half = n_rot / 2;
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  std::vector<float> cs(static_cast<size_t>(n_tok * half * 2));
  for (int64_t t = 0; t < n_tok; ++t) {
    float theta = static_cast<float>(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const float th = scale * (freq_factors ? theta / freq_factors[i] : theta);
      cs[(t * half + i) * 2] = std::cos(th);
      cs[(t * half + i) * 2 + 1] = std::sin(th);
      theta *= theta_scale;
    }
  }
  auto body = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* c = cs.data() + t * half * 2;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + (t * n_heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
          const float x0 = v[a], x1 = v[b], co = c[2 * i], si = c[2 * i + 1];
          v[a] = x0 * co - x1 * si;
          v[b] = x0 * si + x1 * co;
        }
      }
    }
  };
  if (n_tok * n_heads * head_dim < 32768)
    body(0, n_tok);
  else
    parallel_for(n_tok, body, 4);
}

void swiglu(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
}

namespace {

// ggml's GELU: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))), tabulated over F16 inputs.
const std::vector<float>& gelu_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f, kA = 0.044715f;
    for (uint32_t h = 0; h < 65536; ++h) {
      const float x = fp16_to_fp32(static_cast<uint16_t>(h));
      const float g = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kA * x * x)));
      t[h] = fp16_to_fp32(fp32_to_fp16(g));
    }
    return t;
  }();
  return table;
}

}  // namespace

void geglu(float* g, const float* u, int64_t n) {
  const float* table = gelu_table().data();
  if (kernels::active_isa() == kernels::Isa::Avx512) return geglu_avx512(table, g, u, n);
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    if (x <= -10.f)
      g[i] = 0.f;
    else if (x >= 10.f)
      g[i] = x * u[i];
    else
      g[i] = table[fp32_to_fp16(x)] * u[i];
  }
}

void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace squish::ops
