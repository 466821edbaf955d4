// GPTQ solver and its GGUF-block grids: on synthetic correlated inputs GPTQ's output error is
// below round-to-nearest's; with an identity Hessian (no correlations) it is round-to-nearest;
// the blocks it writes decode (squish's ggml-exact dequantizer) to the values it optimised.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/quant/gptq_gguf.h"

namespace {

using squish::GGMLType;

struct Problem {
  int64_t rows = 48, cols = 128, tokens = 512;
  std::vector<float> W, X;
  std::vector<double> H;
};

// Inputs with strongly correlated, unequal-scale channels (as real activations are).
Problem make_problem(uint32_t seed) {
  Problem p;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0, 1);
  p.W.resize(p.rows * p.cols);
  for (float& w : p.W) w = n01(rng) * 0.05f;
  std::vector<float> mix(p.cols * 8);
  for (float& m : mix) m = n01(rng);
  p.X.resize(p.tokens * p.cols);
  for (int64_t t = 0; t < p.tokens; ++t) {
    float z[8];
    for (float& v : z) v = n01(rng);
    for (int64_t c = 0; c < p.cols; ++c) {
      float v = 0.1f * n01(rng);
      for (int k = 0; k < 8; ++k) v += mix[c * 8 + k] * z[k];
      p.X[t * p.cols + c] = v * (1.0f + (c % 7));
    }
  }
  p.H.assign(p.cols * p.cols, 0.0);
  for (int64_t t = 0; t < p.tokens; ++t)
    for (int64_t i = 0; i < p.cols; ++i)
      for (int64_t j = 0; j < p.cols; ++j) p.H[i * p.cols + j] += double(p.X[t * p.cols + i]) * p.X[t * p.cols + j];
  return p;
}

std::vector<float> decode(GGMLType t, const std::vector<uint8_t>& bytes, int64_t rows, int64_t cols) {
  std::vector<float> out(rows * cols);
  const size_t rb = squish::row_bytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) squish::dequantize_row(t, bytes.data() + r * rb, out.data() + r * cols, cols);
  return out;
}

class GptqGrid : public ::testing::TestWithParam<GGMLType> {};

TEST_P(GptqGrid, LowerOutputErrorThanRoundingAndBlocksDecodeToTheResult) {
  const GGMLType t = GetParam();
  const Problem p = make_problem(1);
  std::vector<uint8_t> bytes(p.rows * squish::row_bytes(t, p.cols));
  const squish::GptqReport rep = squish::gptq_encode_gguf(t, p.W.data(), p.rows, p.cols, p.H, {}, bytes.data(), true);
  EXPECT_GT(rep.rel_error_rtn, 0);
  EXPECT_LT(rep.rel_error, 0.8 * rep.rel_error_rtn) << "GPTQ should beat rounding clearly on correlated inputs";
  // The stored blocks are what GPTQ optimised: their output error equals the reported one.
  const std::vector<float> q = decode(t, bytes, p.rows, p.cols);
  EXPECT_NEAR(squish::relative_output_error(p.W.data(), q.data(), p.rows, p.cols, p.H), rep.rel_error,
              1e-6 + 1e-4 * rep.rel_error);
  // And plain ggml rounding of the same weights has the RTN error GPTQ compared against.
  std::vector<uint8_t> plain(bytes.size());
  for (int64_t r = 0; r < p.rows; ++r)
    squish::quantize_row(t, p.W.data() + r * p.cols, plain.data() + r * squish::row_bytes(t, p.cols), p.cols);
  const std::vector<float> pq = decode(t, plain, p.rows, p.cols);
  EXPECT_NEAR(squish::relative_output_error(p.W.data(), pq.data(), p.rows, p.cols, p.H), rep.rel_error_rtn,
              0.05 * rep.rel_error_rtn);
}

INSTANTIATE_TEST_SUITE_P(LegacyBlocks, GptqGrid,
                         ::testing::Values(GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q8_0));

TEST(Gptq, IdentityHessianIsRoundToNearest) {
  const Problem p = make_problem(2);
  std::vector<double> I(p.cols * p.cols, 0.0);
  for (int64_t i = 0; i < p.cols; ++i) I[i * p.cols + i] = 1.0;
  std::vector<uint8_t> bytes(p.rows * squish::row_bytes(GGMLType::Q4_0, p.cols));
  const squish::GptqReport rep = squish::gptq_encode_gguf(GGMLType::Q4_0, p.W.data(), p.rows, p.cols, I, {}, bytes.data(), true);
  EXPECT_NEAR(rep.rel_error, rep.rel_error_rtn, 1e-12);
}

TEST(Gptq, RejectsUnsupportedGrids) {
  const Problem p = make_problem(3);
  std::vector<uint8_t> bytes(1 << 20);
  // Plain float types have no grid to carry GPTQ out on.
  EXPECT_FALSE(squish::gptq_supports(GGMLType::F16));
  EXPECT_THROW(squish::gptq_encode_gguf(GGMLType::F16, p.W.data(), p.rows, 256, p.H, {}, bytes.data()),
               std::invalid_argument);
}

}  // namespace
