// The attention softmax: the AVX-512 row (polynomial exp) equals the portable one (std::exp) to
// float rounding, on causal and windowed ranges, with and without large score spreads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "squish/kernels/quant_dot.h"
#include "squish/kernels/softmax.h"

namespace sk = squish::kernels;

TEST(Softmax, Avx512EqualsScalar) {
  if (sk::active_isa() < sk::Isa::Avx512) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(1);
  for (float spread : {0.1f, 3.0f, 40.0f}) {
    std::normal_distribution<float> d(0.f, spread);
    for (auto [a, z, n] : {std::tuple{0, 1, 1}, std::tuple{0, 17, 20}, std::tuple{5, 300, 301}, std::tuple{31, 64, 64}}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = d(rng);
      auto want = x, got = x;
      sk::softmax_row_scalar(want.data(), a, z, n, 0.125f, 0.0f);
      sk::softmax_row_avx512(got.data(), a, z, n, 0.125f);
      double total = 0;
      for (int j = 0; j < n; ++j) {
        if (j < a || j >= z) {
          ASSERT_EQ(got[j], 0.0f);
          continue;
        }
        total += got[j];
        ASSERT_NEAR(got[j], want[j], 1e-6f * want[j] + 1e-37f) << "spread " << spread << " j " << j;
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
  }
}

TEST(Softmax, SoftcapCapsTheScores) {
  std::vector<float> y = {50.0f, 45.0f};
  sk::softmax_row(y.data(), 0, 2, 2, 1.0f, 30.0f);
  // Capped: 30·tanh(5/3) and 30·tanh(3/2), 0.77 apart (uncapped they would be 5 apart).
  const double c0 = 30 * std::tanh(50.0 / 30), c1 = 30 * std::tanh(45.0 / 30);
  const double w0 = 1 / (1 + std::exp(c1 - c0));
  EXPECT_NEAR(y[0], w0, 1e-6);
  EXPECT_NEAR(y[1], 1 - w0, 1e-6);
}
