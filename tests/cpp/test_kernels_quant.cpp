// Quantized dot products: the scalar reference against dequantize-then-F32 (squish's bit-exact
// dequantizers), every ISA path against the scalar reference, the GEMV against F32, and the AVX2
// row dequantizers against the portable ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/dequant_fast.h"
#include "squish/kernels/quant_dot.h"

namespace sk = squish::kernels;
using squish::GGMLType;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> quantized(GGMLType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(squish::row_bytes(t, static_cast<int64_t>(x.size())));
  squish::quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> dequantized(GGMLType t, const void* q, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  squish::dequantize_row(t, q, x.data(), n);
  return x;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i];
  return s;
}

class QuantDot : public ::testing::TestWithParam<GGMLType> {};

TEST_P(QuantDot, ScalarEqualsDequantizedDot) {
  const GGMLType t = GetParam();
  for (int64_t n : {32, 256, 576, 1536}) {
    if (n % squish::type_traits(t).block_size != 0) continue;
    const auto w = quantized(t, random_vector(static_cast<size_t>(n), 11));
    const auto x = random_vector(static_cast<size_t>(n), 12);
    const GGMLType at = sk::activation_type(t);
    std::vector<uint8_t> act(squish::row_bytes(at, n));
    sk::quantize_activations(t, x.data(), act.data(), n);
    const double want = dot(dequantized(t, w.data(), n), dequantized(at, act.data(), n));
    const float got = sk::quant_dot_scalar(t, w.data(), act.data(), n);
    EXPECT_NEAR(got, want, 1e-5 * n) << "n=" << n;
  }
}

TEST_P(QuantDot, EveryIsaEqualsScalar) {
  const GGMLType t = GetParam();
  const bool k_quant = sk::activation_type(t) == GGMLType::Q8_K;
  __builtin_cpu_init();
  for (int64_t n : {256, 512, 2048, 4864}) {
    // Weights of varied magnitude and sign (scales, mins and the Q6_K offset all matter).
    auto wf = random_vector(static_cast<size_t>(n), 21 + static_cast<uint32_t>(n));
    for (size_t i = 0; i < wf.size(); ++i) wf[i] = wf[i] * (0.05f + static_cast<float>(i % 61) / 15.f) + 0.3f;
    const auto w = quantized(t, wf);
    const auto x = random_vector(static_cast<size_t>(n), 22 + static_cast<uint32_t>(n));
    std::vector<uint8_t> act(squish::row_bytes(sk::activation_type(t), n));
    sk::quantize_activations(t, x.data(), act.data(), n);
    const float want = sk::quant_dot_scalar(t, w.data(), act.data(), n);
    const float tol = 1e-3f * (1 + std::fabs(want));
    if (__builtin_cpu_supports("avx2")) {
      EXPECT_NEAR(sk::quant_dot_avx2(t, w.data(), act.data(), n), want, tol) << "avx2 n=" << n;
    }
    if ((!k_quant || t == GGMLType::Q4_K) &&
        static_cast<int>(sk::active_isa()) >= static_cast<int>(sk::Isa::Avx512)) {
      EXPECT_NEAR(sk::quant_dot_avx512(t, w.data(), act.data(), n), want, tol) << "avx512 n=" << n;
    }
    // The dispatched version, whatever the ISA.
    EXPECT_NEAR(sk::quant_dot(sk::active_isa(), t, w.data(), act.data(), n), want, tol) << "n=" << n;
  }
}

TEST_P(QuantDot, Avx2Dot4EqualsScalar) {
  const GGMLType t = GetParam();
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this CPU";
  const int64_t n = 1024;
  const auto w = quantized(t, random_vector(static_cast<size_t>(n), 41));
  std::vector<std::vector<uint8_t>> acts(4, std::vector<uint8_t>(squish::row_bytes(sk::activation_type(t), n)));
  const void* a4[4];
  for (int r = 0; r < 4; ++r) {
    const auto x = random_vector(static_cast<size_t>(n), 50 + r);
    sk::quantize_activations(t, x.data(), acts[r].data(), n);
    a4[r] = acts[r].data();
  }
  float got[4];
  sk::quant_dot4(sk::Isa::Avx2, t, w.data(), a4, n, got);
  for (int r = 0; r < 4; ++r) {
    const float want = sk::quant_dot_scalar(t, w.data(), a4[r], n);
    EXPECT_NEAR(got[r], want, 1e-3f * (1 + std::fabs(want))) << "row " << r;
  }
}

TEST_P(QuantDot, GemvTracksF32Product) {
  const GGMLType t = GetParam();
  const int64_t rows = 17, n = 768;
  const auto wf = random_vector(static_cast<size_t>(rows * n), 31);
  const auto w = quantized(t, wf);
  const auto x = random_vector(static_cast<size_t>(n), 32);
  std::vector<float> y(static_cast<size_t>(rows));
  sk::quant_gemv(t, w.data(), rows, n, x.data(), y.data());
  const auto wd = dequantized(t, w.data(), rows * n);
  for (int64_t j = 0; j < rows; ++j) {
    double want = 0;
    for (int64_t i = 0; i < n; ++i) want += double{wd[j * n + i]} * x[i];
    // Only the int8 activation rounding separates the two (Q8_K rounds per 256 elements).
    EXPECT_NEAR(y[j], want, 0.04 * std::sqrt(static_cast<double>(n))) << "row " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantDot, ::testing::Values(GGMLType::Q4_0, GGMLType::Q8_0,
                                                           GGMLType::Q4_K, GGMLType::Q6_K),
                         [](const auto& info) { return squish::type_name(info.param); });

// Every type dequantize_row_avx2 covers, on rows of varied magnitude, equals dequantize_row bit
// for bit; types it does not cover are left to the reference (false, nothing written).
TEST(DequantAvx2, BitExactWithReference) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no AVX2";
  const GGMLType types[] = {GGMLType::F16,  GGMLType::BF16, GGMLType::Q4_0, GGMLType::Q4_1,
                            GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0, GGMLType::Q4_K,
                            GGMLType::Q5_K, GGMLType::Q6_K};
  for (GGMLType t : types) {
    const int64_t bs = squish::type_traits(t).block_size;
    for (int64_t n : {bs * 3, int64_t{256}, int64_t{768}, int64_t{2816}, bs == 1 ? int64_t{37} : bs}) {
      if (n % bs != 0) continue;
      auto x = random_vector(static_cast<size_t>(n), 60 + static_cast<uint32_t>(n));
      for (size_t i = 0; i < x.size(); ++i) x[i] = x[i] * (0.01f + static_cast<float>(i % 97) / 20.f) + 0.1f;
      const auto q = quantized(t, x);
      std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), -1.f);
      squish::dequantize_row(t, q.data(), want.data(), n);
      ASSERT_TRUE(sk::dequantize_row_avx2(t, q.data(), got.data(), n)) << squish::type_name(t);
      ASSERT_EQ(std::memcmp(want.data(), got.data(), sizeof(float) * n), 0) << squish::type_name(t) << " n=" << n;
    }
  }
  float y = 0.f;
  const uint8_t none[4] = {};
  EXPECT_FALSE(sk::dequantize_row_avx2(GGMLType::F32, none, &y, 1));
  EXPECT_EQ(y, 0.f);
}

TEST(QuantDotIsa, ActiveIsaHasAName) {
  const std::string name = sk::isa_name(sk::active_isa());
  EXPECT_TRUE(name == "scalar" || name == "avx2" || name == "avx512");
  EXPECT_FALSE(sk::can_quant_dot(GGMLType::F32));
  EXPECT_TRUE(sk::can_quant_dot(GGMLType::Q4_0));
}

}  // namespace
