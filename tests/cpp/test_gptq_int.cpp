// GPTQ onto INTk grids: on correlated inputs with outlier channels its output error is below
// round-to-nearest's on the same grid for every width, symmetry, granularity, act-order and
// static-groups choice; its result is a QuantizedMatrix that dequantize_matrix() decodes to the
// returned weights bit for bit; with a diagonal Hessian (no feedback) it is quantize_matrix().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <tuple>

#include "squish/formats/number_formats.h"
#include "squish/quant/gptq_int.h"

namespace {

using squish::ElementFormat;
using squish::Granularity;
using squish::QuantSpec;
using squish::ScaleMethod;

struct Problem {
  int64_t rows = 64, cols = 256, tokens = 1024;
  std::vector<float> W, X;
  std::vector<double> H;
};

// X = Z·A + noise (32 latent factors, so the channels are correlated), channel scales varying
// over 1..8 and four outlier channels 20× larger, as real activations have.
Problem build_problem(uint32_t seed) {
  Problem p;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0, 1);
  p.W.resize(p.rows * p.cols);
  for (float& w : p.W) w = n01(rng) * 0.05f;
  constexpr int kLatent = 32;
  std::vector<float> A(kLatent * p.cols), scale(p.cols);
  for (float& a : A) a = n01(rng);
  for (int64_t c = 0; c < p.cols; ++c) scale[c] = 1.0f + static_cast<float>((c * 37) % 8);
  for (int64_t c : {5, 77, 130, 201}) scale[c] *= 20.0f;
  p.X.resize(p.tokens * p.cols);
  for (int64_t t = 0; t < p.tokens; ++t) {
    float z[kLatent];
    for (float& v : z) v = n01(rng);
    for (int64_t c = 0; c < p.cols; ++c) {
      float v = 2.0f * n01(rng);
      for (int k = 0; k < kLatent; ++k) v += z[k] * A[k * p.cols + c];
      p.X[t * p.cols + c] = v * scale[c];
    }
  }
  p.H.assign(p.cols * p.cols, 0.0);
  for (int64_t t = 0; t < p.tokens; ++t) {
    const float* x = p.X.data() + t * p.cols;
    for (int64_t i = 0; i < p.cols; ++i)
      for (int64_t j = 0; j < p.cols; ++j) p.H[i * p.cols + j] += double(x[i]) * x[j];
  }
  return p;
}

// The problem of a seed, built once.
const Problem& make_problem(uint32_t seed) {
  static std::map<uint32_t, Problem> cache;
  auto it = cache.find(seed);
  if (it == cache.end()) it = cache.emplace(seed, build_problem(seed)).first;
  return it->second;
}

// A number for the test log.
std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

QuantSpec int_spec(int bits, bool symmetric, int64_t group) {
  QuantSpec s;
  s.format = ElementFormat::Int;
  s.bits = bits;
  s.symmetric = symmetric;
  s.method = symmetric ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
  s.granularity = group > 0 ? Granularity::PerGroup : Granularity::PerChannel;
  s.group_size = group > 0 ? group : 128;
  return s;
}

std::vector<float> dequantized(const squish::QuantizedMatrix& q) {
  std::vector<float> out(q.rows * q.cols);
  squish::dequantize_matrix(q, out.data());
  return out;
}

// g_idx maps every column to a group of the row, each group holding exactly `group` columns.
void expect_valid_group_map(const squish::QuantizedMatrix& q) {
  ASSERT_EQ(static_cast<int64_t>(q.g_idx.size()), q.cols);
  const int64_t groups = q.cols / q.group;
  std::vector<int64_t> count(groups, 0);
  for (int32_t g : q.g_idx) {
    ASSERT_GE(g, 0);
    ASSERT_LT(g, groups);
    ++count[g];
  }
  for (int64_t c : count) EXPECT_EQ(c, q.group);
}

// bits, symmetric, group (0 = per channel), act_order, static_groups
using Case = std::tuple<int, bool, int64_t, bool, bool>;
class GptqIntGrid : public ::testing::TestWithParam<Case> {};

TEST_P(GptqIntGrid, BeatsRoundingAndDecodesBitExactly) {
  const auto [bits, symmetric, group, act_order, static_groups] = GetParam();
  const Problem& p = make_problem(11);
  const QuantSpec spec = int_spec(bits, symmetric, group);
  squish::GptqIntOptions opt;
  opt.act_order = act_order;
  opt.static_groups = static_groups;
  opt.compare_rtn = true;
  std::vector<float> W = p.W;
  squish::GptqReport rep;
  const squish::QuantizedMatrix q = squish::gptq_quantize_int(W.data(), p.rows, p.cols, p.H, spec, opt, &rep);

  // Laid out as quantize_matrix() lays this spec out.
  const squish::QuantizedMatrix rtn = squish::quantize_matrix(p.W.data(), p.rows, p.cols, spec);
  EXPECT_EQ(q.group, rtn.group);
  EXPECT_EQ(q.codes.size(), rtn.codes.size());
  EXPECT_EQ(q.scales.size(), rtn.scales.size());
  EXPECT_EQ(q.zeros.size(), rtn.zeros.size());
  EXPECT_EQ(q.g_idx.empty(), !(act_order && !static_groups));
  if (!q.g_idx.empty()) {
    expect_valid_group_map(q);
    // AutoGPTQ's desc_act map: the groups are consecutive in descending diag(H) order.
    std::vector<int64_t> order(p.cols);
    for (int64_t c = 0; c < p.cols; ++c) order[c] = c;
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return p.H[a * p.cols + a] > p.H[b * p.cols + b]; });
    for (int64_t pos = 0; pos < p.cols; ++pos) EXPECT_EQ(q.g_idx[order[pos]], pos / q.group);
  }
  const squish::IntRange range = squish::int_range(bits, symmetric);
  for (int16_t c : q.codes) {
    ASSERT_GE(c, range.qmin);
    ASSERT_LE(c, range.qmax);
  }

  // The returned weights are exactly what the matrix decodes to.
  const std::vector<float> d = dequantized(q);
  EXPECT_EQ(std::memcmp(d.data(), W.data(), W.size() * sizeof(float)), 0);

  // The reported errors are the real ones, and GPTQ's is below plain rounding's.
  std::vector<float> r(W.size());
  squish::fake_quantize(p.W.data(), p.rows, p.cols, spec, r.data());
  const double e_rtn = squish::relative_output_error(p.W.data(), r.data(), p.rows, p.cols, p.H);
  const double e_gptq = squish::relative_output_error(p.W.data(), W.data(), p.rows, p.cols, p.H);
  EXPECT_NEAR(rep.rel_error, e_gptq, 1e-9 + 1e-6 * e_gptq);
  EXPECT_NEAR(rep.rel_error_rtn, e_rtn, 1e-9 + 1e-6 * e_rtn);
  EXPECT_LT(e_gptq, e_rtn) << squish::describe(spec);
  RecordProperty("rel_error_gptq", fmt(e_gptq));
  RecordProperty("rel_error_rtn", fmt(e_rtn));
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const auto [bits, symmetric, group, act_order, static_groups] = info.param;
  return "int" + std::to_string(bits) + (symmetric ? "sym" : "asym") +
         (group > 0 ? "_g" + std::to_string(group) : std::string("_channel")) + (act_order ? "_act" : "") +
         (static_groups ? "_static" : "");
}

INSTANTIATE_TEST_SUITE_P(IntGrids, GptqIntGrid,
                         ::testing::Combine(::testing::Values(2, 3, 4, 8), ::testing::Bool(),
                                            ::testing::Values(int64_t{32}, int64_t{128}, int64_t{0}),
                                            ::testing::Bool(), ::testing::Bool()),
                         case_name);

// With a diagonal Hessian nothing is fed back: GPTQ is quantize_matrix(), code for code, also when
// act-order visits the columns in another order (static groups keep quantize_matrix's groups).
TEST(GptqInt, DiagonalHessianIsQuantizeMatrix) {
  const Problem& p = make_problem(12);
  std::vector<double> D(p.cols * p.cols, 0.0);
  for (int64_t i = 0; i < p.cols; ++i) D[i * p.cols + i] = p.H[i * p.cols + i];
  for (const bool symmetric : {true, false})
    for (const bool act_order : {false, true}) {
      QuantSpec spec = int_spec(4, symmetric, 32);
      spec.scale_bits = 16;
      squish::GptqIntOptions opt;
      opt.act_order = act_order;
      opt.static_groups = act_order;
      std::vector<float> W = p.W;
      const squish::QuantizedMatrix q = squish::gptq_quantize_int(W.data(), p.rows, p.cols, D, spec, opt);
      const squish::QuantizedMatrix r = squish::quantize_matrix(p.W.data(), p.rows, p.cols, spec);
      EXPECT_EQ(q.codes, r.codes);
      EXPECT_EQ(q.scales, r.scales);
      EXPECT_EQ(q.zeros, r.zeros);
      EXPECT_TRUE(q.g_idx.empty());
      EXPECT_EQ(dequantized(q), dequantized(r));
    }
}

// Other scale rules of the spec (MSE clipping, FP16 scales) and a group size that does not divide
// the solver block are carried through too.
TEST(GptqInt, MseClipFp16ScalesAndOddGroups) {
  const Problem& p = make_problem(13);
  for (const int64_t group : {int64_t{64}, int64_t{16}}) {
    QuantSpec spec = int_spec(3, true, group);
    spec.method = ScaleMethod::MseClip;
    spec.scale_bits = 16;
    squish::GptqIntOptions opt;
    opt.act_order = true;
    opt.compare_rtn = true;
    opt.solver.block = 100;  // rounded to a multiple of the group
    std::vector<float> W = p.W;
    squish::GptqReport rep;
    const squish::QuantizedMatrix q = squish::gptq_quantize_int(W.data(), p.rows, p.cols, p.H, spec, opt, &rep);
    EXPECT_EQ(dequantized(q), W);
    expect_valid_group_map(q);
    EXPECT_LT(rep.rel_error, rep.rel_error_rtn);
  }
  // A group of 48 in a row of 144.
  std::vector<float> W(p.rows * 144);
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t c = 0; c < 144; ++c) W[r * 144 + c] = p.W[r * p.cols + c];
  std::vector<double> H(144 * 144);
  for (int64_t i = 0; i < 144; ++i)
    for (int64_t j = 0; j < 144; ++j) H[i * 144 + j] = p.H[i * p.cols + j];
  const std::vector<float> W0 = W;
  squish::GptqIntOptions opt;
  opt.compare_rtn = true;
  squish::GptqReport rep;
  const squish::QuantizedMatrix q = squish::gptq_quantize_int(W.data(), p.rows, 144, H, int_spec(4, false, 48), opt, &rep);
  EXPECT_EQ(dequantized(q), W);
  EXPECT_LT(rep.rel_error, rep.rel_error_rtn);
}

// Act-order (largest Hessian diagonal first) lowers the error when the diagonal varies strongly.
TEST(GptqInt, ActOrderHelpsWithUnequalChannels) {
  double plain = 0, act = 0;
  for (uint32_t seed = 20; seed < 24; ++seed) {
    const Problem& p = make_problem(seed);
    for (const int64_t group : {int64_t{0}, int64_t{128}}) {
      const QuantSpec spec = int_spec(3, true, group);
      for (const bool act_order : {false, true}) {
        squish::GptqIntOptions opt;
        opt.act_order = act_order;
        std::vector<float> W = p.W;
        squish::GptqReport rep;
        squish::gptq_quantize_int(W.data(), p.rows, p.cols, p.H, spec, opt, &rep);
        (act_order ? act : plain) += rep.rel_error;
      }
    }
  }
  RecordProperty("plain", fmt(plain / 8));
  RecordProperty("act_order", fmt(act / 8));
  EXPECT_LT(act, 0.95 * plain);
}

// A dead input channel (zero Hessian row) gets zero weights and the layout stays valid.
TEST(GptqInt, DeadChannelsAreZeroed) {
  Problem p = make_problem(14);  // a copy: its Hessian is edited
  const int64_t dead = 40;
  for (int64_t j = 0; j < p.cols; ++j) p.H[dead * p.cols + j] = p.H[j * p.cols + dead] = 0.0;
  squish::GptqIntOptions opt;
  opt.act_order = true;
  std::vector<float> W = p.W;
  const squish::QuantizedMatrix q = squish::gptq_quantize_int(W.data(), p.rows, p.cols, p.H, int_spec(4, false, 32), opt);
  for (int64_t r = 0; r < p.rows; ++r) EXPECT_EQ(W[r * p.cols + dead], 0.0f);
  EXPECT_EQ(dequantized(q), W);
}

TEST(GptqInt, RejectsSpecsWithoutAGptqGrid) {
  const Problem& p = make_problem(15);
  auto run = [&](const QuantSpec& spec, int64_t cols, const std::vector<double>& H) {
    std::vector<float> W(p.W.begin(), p.W.begin() + p.rows * cols);
    squish::gptq_quantize_int(W.data(), p.rows, cols, H, spec, {});
  };
  QuantSpec s = int_spec(4, true, 32);
  s.format = ElementFormat::NF4;
  EXPECT_THROW(run(s, p.cols, p.H), std::invalid_argument);
  s = int_spec(4, true, 32);
  s.format = ElementFormat::FP8_E4M3;
  EXPECT_THROW(run(s, p.cols, p.H), std::invalid_argument);
  s = int_spec(4, true, 32);
  s.granularity = Granularity::PerTensor;
  EXPECT_THROW(run(s, p.cols, p.H), std::invalid_argument);
  s.granularity = Granularity::PerToken;
  EXPECT_THROW(run(s, p.cols, p.H), std::invalid_argument);
  s = int_spec(4, true, 32);
  s.double_quant = true;
  EXPECT_THROW(run(s, p.cols, p.H), std::invalid_argument);
  EXPECT_THROW(run(int_spec(9, true, 32), p.cols, p.H), std::invalid_argument);
  EXPECT_THROW(run(int_spec(4, true, 96), p.cols, p.H), std::invalid_argument);  // 96 ∤ 256
  EXPECT_THROW(run(int_spec(4, true, 32), p.cols, std::vector<double>(10, 1.0)), std::invalid_argument);
}

}  // namespace
