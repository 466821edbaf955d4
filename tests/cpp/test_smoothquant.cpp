// SmoothQuant: the scales match s_j = max|X_j|^α / max_i |W_ij|^(1−α) on a small case worked out
// from the definition (with the dead-channel and 1e-5 guards), and on inputs with outlier channels
// they shrink the spread of the per-channel input ranges while X·Wᵀ stays the same after folding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "squish/quant/smoothquant.h"

namespace {

TEST(SmoothQuant, MatchesTheDefinitionOnAHandCase) {
  // Two linears on a 5-channel input; channel 2 never fires, channel 3 has an all-zero weight
  // column, channel 4 is so quiet that its scale hits the 1e-5 floor.
  const std::vector<float> w1 = {0.5f, -0.1f, 0.3f, 0.0f, 1.0f,    //
                                 -0.2f, 0.4f, 0.1f, 0.0f, -1.0f};  // 2 × 5
  const std::vector<float> w2 = {0.25f, -0.8f, 0.0f, 0.0f, 0.5f};  // 1 × 5
  const std::vector<float> act = {8.0f, 0.5f, 0.0f, 3.0f, 1e-12f};
  for (const double alpha : {0.5, 0.8, 0.0, 1.0}) {
    const std::vector<float> s = squish::smoothquant_scales(act, {w1.data(), w2.data()}, {2, 1}, 5, alpha);
    ASSERT_EQ(s.size(), 5u);
    // max_i |W_ij| over both matrices: 0.5, 0.8, 0.3, 0, 1.
    EXPECT_NEAR(s[0], std::pow(8.0, alpha) / std::pow(0.5, 1 - alpha), 1e-6 * s[0]);
    EXPECT_NEAR(s[1], std::pow(0.5, alpha) / std::pow(0.8, 1 - alpha), 1e-6 * s[1]);
    EXPECT_EQ(s[2], 1.0f);  // dead activation
    EXPECT_EQ(s[3], 1.0f);  // dead weight column
    const double s4 = std::max(std::pow(1e-12, alpha) / std::pow(1.0, 1 - alpha), 1e-5);
    EXPECT_NEAR(s[4], s4, 1e-6 * s4);
  }
}

TEST(SmoothQuant, FlattensOutlierChannelsAndKeepsTheProduct) {
  const int64_t n = 512, cols = 128, rows = 64;
  std::mt19937 rng(7);
  std::normal_distribution<float> n01(0, 1);
  std::vector<float> X(n * cols), W(rows * cols), act(cols, 0.0f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < cols; ++c) X[t * cols + c] = n01(rng) * (c % 17 == 3 ? 60.0f : 1.0f);
  for (float& w : W) w = n01(rng) * 0.05f;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < cols; ++c) act[c] = std::max(act[c], std::fabs(X[t * cols + c]));
  const std::vector<float> s = squish::smoothquant_scales(act, {W.data()}, {rows}, cols, 0.5);

  // Spread of the per-channel input ranges: max over channels / min over channels.
  auto spread = [&](const std::vector<float>& div) {
    std::vector<float> m(cols, 0.0f);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < cols; ++c) m[c] = std::max(m[c], std::fabs(X[t * cols + c] / div[c]));
    const auto [lo, hi] = std::minmax_element(m.begin(), m.end());
    return *hi / *lo;
  };
  const double before = spread(std::vector<float>(cols, 1.0f)), after = spread(s);
  RecordProperty("spread_before", std::to_string(before));
  RecordProperty("spread_after", std::to_string(after));
  EXPECT_LT(after, 0.25 * before);

  // (X/s)·(W·s)ᵀ = X·Wᵀ.
  double worst = 0;
  for (int64_t t = 0; t < 32; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double y = 0, ys = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        y += double(X[t * cols + c]) * W[r * cols + c];
        ys += double(X[t * cols + c] / s[c]) * (W[r * cols + c] * s[c]);
        mag += std::fabs(double(X[t * cols + c]) * W[r * cols + c]);
      }
      worst = std::max(worst, std::fabs(y - ys) / mag);
    }
  EXPECT_LT(worst, 1e-6);
}

TEST(SmoothQuant, RejectsBadInputs) {
  const std::vector<float> w(6, 1.0f), act(3, 1.0f);
  EXPECT_THROW(squish::smoothquant_scales(act, {w.data()}, {2}, 4), std::invalid_argument);
  EXPECT_THROW(squish::smoothquant_scales(act, {w.data()}, {2, 1}, 3), std::invalid_argument);
  EXPECT_THROW(squish::smoothquant_scales(act, {}, {}, 3), std::invalid_argument);
  EXPECT_THROW(squish::smoothquant_scales(act, {w.data()}, {2}, 3, 1.5), std::invalid_argument);
}

}  // namespace
