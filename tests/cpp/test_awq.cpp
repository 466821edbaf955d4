// AWQ: the scale search never does worse than plain rounding (α = 0 is on its grid), does clearly
// better when a few input channels carry outliers, reports the errors the definition gives, and its
// scales fold into X and W without changing X·Wᵀ; the clipping search lowers each group's output
// error by what it reports and only ever shrinks weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "squish/formats/number_formats.h"
#include "squish/quant/awq.h"

namespace {

using squish::ElementFormat;
using squish::Granularity;
using squish::QuantSpec;
using squish::ScaleMethod;

struct Problem {
  int64_t n = 1024, cols = 256;
  std::vector<int64_t> rows{96, 64};
  std::vector<float> X;
  std::vector<std::vector<float>> W;
  std::vector<float> mean_abs;
  std::vector<const float*> ptrs() const { return {W[0].data(), W[1].data()}; }
};

// X = Z·A + noise with channel scales 1..4; `outliers` channels are 30× larger (AWQ's salient
// channels). Weights are Gaussian, with heavy-tailed entries when asked (for clipping).
Problem make_problem(uint32_t seed, bool outliers, int64_t n = 1024, bool heavy_tails = false) {
  Problem p;
  p.n = n;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0, 1);
  constexpr int kLatent = 32;
  std::vector<float> A(kLatent * p.cols), scale(p.cols);
  for (float& a : A) a = n01(rng);
  for (int64_t c = 0; c < p.cols; ++c) scale[c] = 1.0f + static_cast<float>((c * 13) % 4);
  if (outliers)
    for (int64_t c : {3, 50, 111, 180, 240}) scale[c] *= 30.0f;
  p.X.resize(p.n * p.cols);
  for (int64_t t = 0; t < p.n; ++t) {
    float z[kLatent];
    for (float& v : z) v = n01(rng);
    for (int64_t c = 0; c < p.cols; ++c) {
      float v = 2.0f * n01(rng);
      for (int k = 0; k < kLatent; ++k) v += z[k] * A[k * p.cols + c];
      p.X[t * p.cols + c] = v * scale[c];
    }
  }
  std::uniform_real_distribution<float> u01(0, 1);
  for (int64_t r : p.rows) {
    std::vector<float> w(r * p.cols);
    for (float& x : w) x = n01(rng) * 0.05f * (heavy_tails && u01(rng) < 0.02f ? 8.0f : 1.0f);
    p.W.push_back(std::move(w));
  }
  p.mean_abs.assign(p.cols, 0.0f);
  for (int64_t t = 0; t < p.n; ++t)
    for (int64_t c = 0; c < p.cols; ++c) p.mean_abs[c] += std::fabs(p.X[t * p.cols + c]) / p.n;
  return p;
}

QuantSpec int_spec(int bits, bool symmetric, int64_t group) {
  QuantSpec s;
  s.format = ElementFormat::Int;
  s.bits = bits;
  s.symmetric = symmetric;
  s.method = symmetric ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
  s.granularity = Granularity::PerGroup;
  s.group_size = group;
  return s;
}

// Σ_t Σ_r (Σ_{c ∈ [c0, c1)} X[t,c]·(W − Wq)[r,c])², in double, straight from the definition.
double output_error(const Problem& p, const std::vector<float>& W, const std::vector<float>& Wq, int64_t rows,
                    int64_t c0, int64_t c1, int64_t row = -1) {
  double e = 0;
  for (int64_t r = (row < 0 ? 0 : row); r < (row < 0 ? rows : row + 1); ++r)
    for (int64_t t = 0; t < p.n; ++t) {
      double y = 0;
      for (int64_t c = c0; c < c1; ++c) y += double(p.X[t * p.cols + c]) * (double(W[r * p.cols + c]) - Wq[r * p.cols + c]);
      e += y * y;
    }
  return e;
}

// W' = Q(W·diag(s))·diag(1/s).
std::vector<float> scaled_rounding(const std::vector<float>& W, int64_t rows, int64_t cols,
                                   const std::vector<float>& s, const QuantSpec& spec) {
  std::vector<float> ws(W.size()), q(W.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) ws[r * cols + c] = W[r * cols + c] * s[c];
  squish::fake_quantize(ws.data(), rows, cols, spec, q.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) q[r * cols + c] /= s[c];
  return q;
}

class AwqSearch : public ::testing::TestWithParam<QuantSpec> {};

TEST_P(AwqSearch, BeatsRoundingOnOutlierChannelsAndReportsTheDefinedErrors) {
  const QuantSpec spec = GetParam();
  const Problem p = make_problem(1, true);
  squish::AwqOptions opt;
  const squish::AwqResult res = squish::awq_search_scales(p.X.data(), p.n, p.cols, p.ptrs(), p.rows, p.mean_abs, spec, opt);
  ASSERT_EQ(static_cast<int64_t>(res.scales.size()), p.cols);
  ASSERT_EQ(static_cast<int>(res.errors.size()), opt.grid);
  EXPECT_EQ(res.errors[0], res.error_identity);
  EXPECT_EQ(res.error, *std::min_element(res.errors.begin(), res.errors.end()));
  EXPECT_LE(res.error, res.error_identity);
  EXPECT_LT(res.error, 0.9 * res.error_identity) << squish::describe(spec);
  EXPECT_GT(res.alpha, 0.0);
  RecordProperty("alpha", std::to_string(res.alpha));
  RecordProperty("error_ratio", std::to_string(res.error / res.error_identity));

  // The scales are mean|x|^α (clamped), normalised so that max·min = 1.
  const auto [mn, mx] = std::minmax_element(res.scales.begin(), res.scales.end());
  EXPECT_NEAR(double(*mn) * *mx, 1.0, 1e-5);
  for (int64_t c = 1; c < p.cols; ++c) {
    const double want = std::max(std::pow(double(p.mean_abs[c]), res.alpha), 1e-4) /
                        std::max(std::pow(double(p.mean_abs[0]), res.alpha), 1e-4);
    EXPECT_NEAR(res.scales[c] / res.scales[0], want, 1e-5 * want);
  }

  // The reported errors are Σ_i ||X W_iᵀ − X W'_iᵀ||² at the chosen scales and at s = 1.
  double err = 0, err_identity = 0;
  const std::vector<float> ones(p.cols, 1.0f);
  for (size_t i = 0; i < p.W.size(); ++i) {
    err += output_error(p, p.W[i], scaled_rounding(p.W[i], p.rows[i], p.cols, res.scales, spec), p.rows[i], 0, p.cols);
    err_identity += output_error(p, p.W[i], scaled_rounding(p.W[i], p.rows[i], p.cols, ones, spec), p.rows[i], 0, p.cols);
  }
  EXPECT_NEAR(res.error, err, 1e-3 * err);
  EXPECT_NEAR(res.error_identity, err_identity, 1e-3 * err_identity);
}

INSTANTIATE_TEST_SUITE_P(Grids, AwqSearch,
                         ::testing::Values(int_spec(4, false, 64), int_spec(3, true, 32), int_spec(4, true, 128)),
                         [](const ::testing::TestParamInfo<QuantSpec>& info) {
                           std::string n = squish::describe(info.param);
                           std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(c); }, '_');
                           return n;
                         });

// Folding s into the input (X/s, i.e. the previous norm) and the weights (W·s) keeps X·Wᵀ.
TEST(Awq, FoldingTheScalesKeepsTheProduct) {
  const Problem p = make_problem(2, true);
  const squish::AwqResult res =
      squish::awq_search_scales(p.X.data(), p.n, p.cols, p.ptrs(), p.rows, p.mean_abs, int_spec(4, false, 64), {});
  double worst = 0;
  for (int64_t t = 0; t < 64; ++t)
    for (int64_t r = 0; r < p.rows[0]; ++r) {
      double y = 0, ys = 0, mag = 0;
      for (int64_t c = 0; c < p.cols; ++c) {
        const float x = p.X[t * p.cols + c], w = p.W[0][r * p.cols + c];
        y += double(x) * w;
        ys += double(x / res.scales[c]) * (w * res.scales[c]);
        mag += std::fabs(double(x) * w);
      }
      worst = std::max(worst, std::fabs(y - ys) / mag);
    }
  EXPECT_LT(worst, 1e-6);
}

// Without outliers the search still never loses to rounding; subsampling X keeps that.
TEST(Awq, NeverWorseThanRounding) {
  const Problem p = make_problem(3, false, 3000);
  squish::AwqOptions opt;
  opt.max_rows = 500;
  opt.grid = 10;
  const squish::AwqResult res =
      squish::awq_search_scales(p.X.data(), p.n, p.cols, p.ptrs(), p.rows, p.mean_abs, int_spec(4, true, 32), opt);
  EXPECT_LE(res.error, res.error_identity);
  EXPECT_EQ(res.errors.size(), 10u);
}

// With fewer input rows than 1.5× the channels, X itself scores the candidates: same definition.
TEST(Awq, FewInputRowsScoreByTheDefinition) {
  const Problem p = make_problem(6, true, 300);
  const QuantSpec spec = int_spec(4, false, 64);
  squish::AwqOptions opt;
  opt.grid = 8;
  const squish::AwqResult res = squish::awq_search_scales(p.X.data(), p.n, p.cols, p.ptrs(), p.rows, p.mean_abs, spec, opt);
  double err = 0;
  for (size_t i = 0; i < p.W.size(); ++i)
    err += output_error(p, p.W[i], scaled_rounding(p.W[i], p.rows[i], p.cols, res.scales, spec), p.rows[i], 0, p.cols);
  EXPECT_NEAR(res.error, err, 1e-4 * err);
  EXPECT_LT(res.error, res.error_identity);
}

// Duo scaling (AutoAWQ's default): s ∝ mean|x|^α / (mean|ŵ|^(1−α) + 1e-4), ŵ = |W| / group max.
TEST(Awq, DuoScalingFollowsItsDefinition) {
  const Problem p = make_problem(7, true);
  const QuantSpec spec = int_spec(4, false, 64);
  squish::AwqOptions opt;
  opt.duo_scaling = true;
  const squish::AwqResult res = squish::awq_search_scales(p.X.data(), p.n, p.cols, p.ptrs(), p.rows, p.mean_abs, spec, opt);
  EXPECT_LT(res.error, 0.9 * res.error_identity);
  std::vector<double> w_mean(p.cols, 0.0);
  for (size_t i = 0; i < p.W.size(); ++i)
    for (int64_t r = 0; r < p.rows[i]; ++r)
      for (int64_t c = 0; c < p.cols; ++c) {
        float amax = 0;
        for (int64_t k = c / 64 * 64; k < c / 64 * 64 + 64; ++k) amax = std::max(amax, std::fabs(p.W[i][r * p.cols + k]));
        w_mean[c] += std::fabs(p.W[i][r * p.cols + c]) / (amax + 1e-6) / double(p.rows[0] + p.rows[1]);
      }
  auto raw = [&](int64_t c) {
    return std::max(std::pow(double(p.mean_abs[c]), res.alpha) / (std::pow(w_mean[c], 1 - res.alpha) + 1e-4), 1e-4);
  };
  for (int64_t c = 1; c < p.cols; ++c) EXPECT_NEAR(res.scales[c] / res.scales[0], raw(c) / raw(0), 1e-4 * raw(c) / raw(0));
  double err = 0;
  for (size_t i = 0; i < p.W.size(); ++i)
    err += output_error(p, p.W[i], scaled_rounding(p.W[i], p.rows[i], p.cols, res.scales, spec), p.rows[i], 0, p.cols);
  EXPECT_NEAR(res.error, err, 1e-3 * err);
  RecordProperty("alpha", std::to_string(res.alpha));
  RecordProperty("error_ratio", std::to_string(res.error / res.error_identity));
}

// The clipping search: each group is clamped to one of the grid's ratios of its range, and the
// sum of the groups' output errors drops by the reported amount.
TEST(Awq, ClipLowersGroupErrorsByWhatItReports) {
  const Problem p = make_problem(4, true, 1024, true);
  const QuantSpec spec = int_spec(3, true, 32);
  squish::AwqOptions opt;
  opt.clip_rows = 1024;  // all of X, so the test's sums see the same tokens
  std::vector<float> W = p.W[0];
  const int64_t rows = p.rows[0], gs = spec.group_size;
  const double reduction = squish::awq_clip(W.data(), rows, p.cols, p.X.data(), p.n, spec, opt);
  EXPECT_GT(reduction, 0);

  int clipped = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < p.cols / gs; ++g) {
      float before = 0, after = 0;
      for (int64_t c = g * gs; c < (g + 1) * gs; ++c) {
        before = std::max(before, std::fabs(p.W[0][r * p.cols + c]));
        after = std::max(after, std::fabs(W[r * p.cols + c]));
      }
      const double ratio = after / before;
      const double k = (1 - ratio) * opt.clip_grid;
      EXPECT_NEAR(k, std::round(k), 1e-4) << "ratio " << ratio << " is not on the grid";
      EXPECT_LE(std::round(k), opt.max_shrink * opt.clip_grid);
      clipped += ratio < 1;
      for (int64_t c = g * gs; c < (g + 1) * gs; ++c) {
        const float w0 = p.W[0][r * p.cols + c], w1 = W[r * p.cols + c];
        EXPECT_TRUE(w1 == w0 || std::fabs(w1) == after) << w0 << " became " << w1;
        EXPECT_LE(std::fabs(w1), std::fabs(w0));
      }
    }
  EXPECT_GT(clipped, 0);

  std::vector<float> q0(W.size()), q1(W.size());
  squish::fake_quantize(p.W[0].data(), rows, p.cols, spec, q0.data());
  squish::fake_quantize(W.data(), rows, p.cols, spec, q1.data());
  double e0 = 0, e1 = 0;
  for (int64_t g = 0; g < p.cols / gs; ++g) {
    e0 += output_error(p, p.W[0], q0, rows, g * gs, (g + 1) * gs);
    e1 += output_error(p, p.W[0], q1, rows, g * gs, (g + 1) * gs);
  }
  EXPECT_LT(e1, e0);
  EXPECT_NEAR(e0 - e1, reduction, 1e-3 * e0);
  RecordProperty("group_error_ratio", std::to_string(e1 / e0));
}

TEST(Awq, RejectsBadInputs) {
  const Problem p = make_problem(5, false, 64);
  auto search = [&](const QuantSpec& spec, const std::vector<float>& mean_abs, const std::vector<int64_t>& rows) {
    squish::awq_search_scales(p.X.data(), p.n, p.cols, p.ptrs(), rows, mean_abs, spec, {});
  };
  QuantSpec s = int_spec(4, true, 32);
  s.granularity = Granularity::PerTensor;
  EXPECT_THROW(search(s, p.mean_abs, p.rows), std::invalid_argument);
  s = int_spec(4, true, 32);
  s.double_quant = true;
  EXPECT_THROW(search(s, p.mean_abs, p.rows), std::invalid_argument);
  EXPECT_THROW(search(int_spec(4, true, 96), p.mean_abs, p.rows), std::invalid_argument);
  EXPECT_THROW(search(int_spec(4, true, 32), std::vector<float>(10, 1.0f), p.rows), std::invalid_argument);
  EXPECT_THROW(search(int_spec(4, true, 32), p.mean_abs, {96}), std::invalid_argument);
  std::vector<float> W = p.W[0];
  s.double_quant = false;
  s.granularity = Granularity::PerTensor;
  EXPECT_THROW(squish::awq_clip(W.data(), p.rows[0], p.cols, p.X.data(), p.n, s, {}), std::invalid_argument);
  squish::AwqOptions bad;
  bad.max_shrink = 1.5;
  EXPECT_THROW(squish::awq_clip(W.data(), p.rows[0], p.cols, p.X.data(), p.n, int_spec(4, true, 32), bad),
               std::invalid_argument);
}

}  // namespace
