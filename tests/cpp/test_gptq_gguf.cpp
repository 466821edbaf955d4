// GPTQ inside every GGUF block type squish supports for it (legacy Q4_0 … Q8_0, k-quants Q2_K …
// Q6_K): the blocks decode (dequantize_row, ggml-exact) bit for bit to the values the solver
// optimised; on correlated inputs with outlier channels its output error is below plain ggml
// rounding's (quantize_row); with an identity Hessian it is plain ggml rounding, byte for byte;
// k-quant rows must be whole super-blocks.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/quant/gptq_gguf.h"

namespace {

using squish::GGMLType;

struct Problem {
  int64_t rows = 32, cols = 512, tokens = 1024;
  std::vector<float> W, X, importance;
  std::vector<double> H;
};

// X = Z·A (a few latent factors mixed into every channel, plus noise), channel scales growing
// with the index and a few outlier channels ten times larger, as real activations have.
Problem make_problem(uint32_t seed, int64_t cols = 512) {
  Problem p;
  p.cols = cols;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0, 1);
  p.W.resize(p.rows * p.cols);
  for (float& w : p.W) w = n01(rng) * 0.05f;
  constexpr int kLatent = 12;
  std::vector<float> A(kLatent * p.cols);
  for (float& a : A) a = n01(rng);
  std::vector<float> scale(p.cols);
  for (int64_t c = 0; c < p.cols; ++c) scale[c] = (1.0f + (c % 7)) * (c % 61 == 5 ? 10.0f : 1.0f);
  p.X.resize(p.tokens * p.cols);
  for (int64_t t = 0; t < p.tokens; ++t) {
    float z[kLatent];
    for (float& v : z) v = n01(rng);
    for (int64_t c = 0; c < p.cols; ++c) {
      float v = 0.1f * n01(rng);
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
  p.importance.resize(p.cols);  // an imatrix row: the mean squared activation per channel
  for (int64_t c = 0; c < p.cols; ++c) p.importance[c] = static_cast<float>(p.H[c * p.cols + c] / p.tokens);
  return p;
}

std::vector<double> identity(int64_t n) {
  std::vector<double> I(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) I[i * n + i] = 1.0;
  return I;
}

std::vector<float> decode(GGMLType t, const std::vector<uint8_t>& bytes, int64_t rows, int64_t cols) {
  std::vector<float> out(rows * cols);
  const size_t rb = squish::row_bytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) squish::dequantize_row(t, bytes.data() + r * rb, out.data() + r * cols, cols);
  return out;
}

// Plain ggml rounding (squish's quantize_row, byte-identical to llama.cpp's) of every row.
std::vector<uint8_t> plain(GGMLType t, const Problem& p, const float* importance) {
  const size_t rb = squish::row_bytes(t, p.cols);
  std::vector<uint8_t> out(p.rows * rb);
  for (int64_t r = 0; r < p.rows; ++r)
    squish::quantize_row(t, p.W.data() + r * p.cols, out.data() + r * rb, p.cols, importance);
  return out;
}

bool is_kquant(GGMLType t) { return squish::type_traits(t).block_size == 256; }

class GptqGgufGrid : public ::testing::TestWithParam<GGMLType> {};

TEST_P(GptqGgufGrid, BlocksDecodeToTheSolversValuesAndBeatRounding) {
  const GGMLType t = GetParam();
  const Problem p = make_problem(1);
  for (const bool weighted : {false, true}) {
    SCOPED_TRACE(weighted ? "with importance" : "without importance");
    const float* imp = weighted ? p.importance.data() : nullptr;
    std::vector<uint8_t> bytes(p.rows * squish::row_bytes(t, p.cols));
    std::vector<float> solved(p.rows * p.cols);
    const squish::GptqReport rep =
        squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, p.H, {}, bytes.data(), true, imp, solved.data());
    const std::vector<float> q = decode(t, bytes, p.rows, p.cols);
    size_t differ = 0;
    for (size_t i = 0; i < q.size(); ++i) differ += std::memcmp(&q[i], &solved[i], 4) != 0;
    EXPECT_EQ(differ, 0u) << "decoded blocks must equal the solver's values bit for bit";
    // Plain ggml rounding of the same weights is the baseline GPTQ measured itself against.
    const std::vector<float> pq = decode(t, plain(t, p, imp), p.rows, p.cols);
    const double err_plain = squish::relative_output_error(p.W.data(), pq.data(), p.rows, p.cols, p.H);
    EXPECT_GT(err_plain, 0);
    if (!weighted) {
      EXPECT_DOUBLE_EQ(rep.rel_error_rtn, err_plain);
    }
    const double err = squish::relative_output_error(p.W.data(), q.data(), p.rows, p.cols, p.H);
    EXPECT_NEAR(err, rep.rel_error, 1e-9 + 1e-6 * err);
    EXPECT_LT(err, 0.8 * err_plain) << "GPTQ should beat plain rounding clearly on correlated inputs";
  }
}

TEST_P(GptqGgufGrid, IdentityHessianIsPlainRoundingByteForByte) {
  const GGMLType t = GetParam();
  const Problem p = make_problem(2);
  const std::vector<double> I = identity(p.cols);
  std::vector<uint8_t> bytes(p.rows * squish::row_bytes(t, p.cols));
  const squish::GptqReport rep = squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, I, {}, bytes.data(), true);
  EXPECT_EQ(rep.rel_error, rep.rel_error_rtn);
  EXPECT_TRUE(bytes == plain(t, p, nullptr)) << "same scales and codes as quantize_row";
  // With importance the scales are quantize_row's weighted ones; k-quants re-round onto them as
  // GPTQ does, so their whole blocks match. Legacy types keep the weighted search's own codes
  // where GPTQ rounds to nearest on the same grid: never worse in the importance-weighted error.
  squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, I, {}, bytes.data(), false, p.importance.data());
  const std::vector<uint8_t> weighted = plain(t, p, p.importance.data());
  if (is_kquant(t)) {
    EXPECT_TRUE(bytes == weighted);
  }
  std::vector<double> D(p.cols * p.cols, 0.0);
  for (int64_t i = 0; i < p.cols; ++i) D[i * p.cols + i] = p.importance[i];
  const double e_gptq = squish::relative_output_error(p.W.data(), decode(t, bytes, p.rows, p.cols).data(), p.rows, p.cols, D);
  const double e_plain = squish::relative_output_error(p.W.data(), decode(t, weighted, p.rows, p.cols).data(), p.rows, p.cols, D);
  EXPECT_LE(e_gptq, 1.01 * e_plain);
  EXPECT_GE(e_gptq, 0.9 * e_plain);
}

TEST_P(GptqGgufGrid, NearIdentityHessianIsRoundingQuality) {
  const GGMLType t = GetParam();
  const Problem p = make_problem(3);
  // H = I + a weak rank-one coupling: almost no correlation for GPTQ to exploit.
  std::vector<double> H = identity(p.cols);
  std::mt19937 rng(4);
  std::normal_distribution<double> n01(0, 1);
  std::vector<double> v(p.cols);
  for (double& x : v) x = 0.02 * n01(rng);
  for (int64_t i = 0; i < p.cols; ++i)
    for (int64_t j = 0; j < p.cols; ++j) H[i * p.cols + j] += v[i] * v[j];
  std::vector<uint8_t> bytes(p.rows * squish::row_bytes(t, p.cols));
  const squish::GptqReport rep = squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, H, {}, bytes.data(), true);
  EXPECT_GT(rep.rel_error_rtn, 0);
  EXPECT_NEAR(rep.rel_error, rep.rel_error_rtn, 0.05 * rep.rel_error_rtn);
}

INSTANTIATE_TEST_SUITE_P(AllBlockTypes, GptqGgufGrid,
                         ::testing::Values(GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1,
                                           GGMLType::Q8_0, GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K,
                                           GGMLType::Q5_K, GGMLType::Q6_K),
                         [](const auto& info) { return squish::type_name(info.param); });

TEST(GptqGguf, KQuantRowsMustBeWholeSuperBlocks) {
  const Problem p = make_problem(5, 288);  // 9 legacy blocks, not a whole number of super-blocks
  for (const GGMLType t : {GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K}) {
    EXPECT_TRUE(squish::gptq_supports(t));
    std::vector<uint8_t> bytes(p.rows * p.cols * 4);
    EXPECT_THROW(squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, p.H, {}, bytes.data()), std::invalid_argument)
        << squish::type_name(t);
  }
  std::vector<uint8_t> bytes(p.rows * squish::row_bytes(GGMLType::Q4_1, p.cols));
  EXPECT_NO_THROW(squish::gptq_encode_gguf(GGMLType::Q4_1, p.W.data(), p.rows, p.cols, p.H, {}, bytes.data()));
}

TEST(GptqGguf, RejectsTypesWithoutABlockGrid) {
  const Problem p = make_problem(6, 256);
  std::vector<uint8_t> bytes(p.rows * p.cols * 4);
  for (const GGMLType t : {GGMLType::Q8_K, GGMLType::F16, GGMLType::F32}) {
    EXPECT_FALSE(squish::gptq_supports(t));
    EXPECT_THROW(squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, p.H, {}, bytes.data()), std::invalid_argument);
  }
}

}  // namespace
