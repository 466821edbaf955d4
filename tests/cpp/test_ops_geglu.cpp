// ops::geglu (the path the CPU takes: AVX-512 gathers or the portable loop) equals ggml's GELU
// table rule computed directly: x rounded to F16, the tanh approximation rounded to F16, times u;
// 0 at or below -10, x · u at or above 10.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "../../src/model/ops.h"
#include "squish/formats/half.h"

TEST(Geglu, EqualsTheF16TableRule) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-12.f, 12.f);
  std::vector<float> g(1003), u(g.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = d(rng), u[i] = d(rng);
  g[0] = -10.f, g[1] = 10.f, g[2] = 0.f, g[3] = -9.999f, g[4] = 9.999f, g[5] = 1e-8f;
  std::vector<float> want(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    const float x = g[i];
    if (x <= -10.f) {
      want[i] = 0.f;
    } else if (x >= 10.f) {
      want[i] = x * u[i];
    } else {
      const float xh = squish::fp16_to_fp32(squish::fp32_to_fp16(x));
      const float v = 0.5f * xh * (1.0f + std::tanh(0.79788456080286535587989211986876f * xh * (1.0f + 0.044715f * xh * xh)));
      want[i] = squish::fp16_to_fp32(squish::fp32_to_fp16(v)) * u[i];
    }
  }
  squish::ops::geglu(g.data(), u.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i < g.size(); ++i) ASSERT_EQ(g[i], want[i]) << i;
}
