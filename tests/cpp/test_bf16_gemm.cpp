// F16 / BF16 weights through the vdpbf16ps GEMM and the multi-stream decoding GEMV: the SIMD
// kernel equals the scalar reference that rounds the same way (edge shapes, bias, every split), the
// splits are as accurate as their rounding says, quant_matmul dispatches to them, and SQUISH_ISA
// caps turn the BF16 path off.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "squish/formats/half.h"
#include "squish/kernels/bf16_gemm.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"
#include "squish/kernels/quant_matmul.h"

namespace sk = squish::kernels;
using squish::GGMLType;

namespace {

struct Problem {
  int64_t m, n, k;
  std::vector<uint16_t> w;  // n x k F16 or BF16
  std::vector<float> wf;    // the same values as F32
  std::vector<float> a, bias;
};

Problem make_problem(GGMLType t, int64_t m, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  Problem p{m, n, k, {}, {}, {}, {}};
  p.w.resize(static_cast<size_t>(n * k));
  p.wf.resize(p.w.size());
  for (size_t i = 0; i < p.w.size(); ++i) {
    const float v = d(rng) * (0.02f + static_cast<float>(i % 13) / 10.f);
    p.w[i] = t == GGMLType::BF16 ? squish::fp32_to_bf16(v) : squish::fp32_to_fp16(v);
    p.wf[i] = t == GGMLType::BF16 ? squish::bf16_to_fp32(p.w[i]) : squish::fp16_to_fp32(p.w[i]);
  }
  p.a.resize(static_cast<size_t>(m * k));
  for (size_t i = 0; i < p.a.size(); ++i) p.a[i] = d(rng) * (i % 7 == 0 ? 8.f : 1.f);
  p.bias.resize(static_cast<size_t>(n));
  for (auto& b : p.bias) b = d(rng);
  return p;
}

// Σ_t |A[i, t] W[j, t]| per output: the scale rounding errors are measured against.
std::vector<double> magnitudes(const Problem& p) {
  std::vector<double> s(static_cast<size_t>(p.m * p.n), 0.0);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t t = 0; t < p.k; ++t)
        s[static_cast<size_t>(i * p.n + j)] += std::fabs(double{p.a[static_cast<size_t>(i * p.k + t)]} * p.wf[static_cast<size_t>(j * p.k + t)]);
  return s;
}

const sk::Bf16Split kSplits[] = {{1, 1}, {1, 2}, {2, 1}, {2, 2}};

class Bf16Gemm : public ::testing::TestWithParam<GGMLType> {};

TEST_P(Bf16Gemm, KernelEqualsRoundingReference) {
  if (!sk::bf16_gemm_available()) GTEST_SKIP() << "no AVX512-BF16";
  const GGMLType t = GetParam();
  // Shapes off every tile edge: m vs the 8-row tile, n vs the 32-row panel, k odd / vs the
  // 16-element step and the 128-pair block.
  const int64_t shapes[][3] = {{1, 1, 1}, {9, 33, 31}, {8, 32, 256}, {13, 65, 258}, {37, 40, 300}, {17, 100, 513}};
  for (const auto& s : shapes) {
    const Problem p = make_problem(t, s[0], s[1], s[2], static_cast<uint32_t>(s[0] * 31 + s[2]));
    const auto mag = magnitudes(p);
    for (const sk::Bf16Split split : kSplits)
      for (bool with_bias : {false, true}) {
        const float* bias = with_bias ? p.bias.data() : nullptr;
        std::vector<float> ref(static_cast<size_t>(p.m * p.n)), simd(ref.size(), -1.f);
        sk::bf16_matmul(t, p.w.data(), p.m, p.n, p.k, p.a.data(), ref.data(), bias, split, false);
        sk::bf16_matmul(t, p.w.data(), p.m, p.n, p.k, p.a.data(), simd.data(), bias, split, true);
        for (size_t i = 0; i < ref.size(); ++i)  // same products in the same order: a few F32 ulps at most
          ASSERT_NEAR(simd[i], ref[i], 1e-6 * mag[i] + 1e-30)
              << squish::type_name(t) << " " << p.m << "x" << p.n << "x" << p.k << " split " << split.weight_levels
              << split.act_levels << " bias " << with_bias << " i=" << i;
      }
  }
}

TEST_P(Bf16Gemm, SplitsAreAsAccurateAsTheirRounding) {
  const GGMLType t = GetParam();
  const Problem p = make_problem(t, 5, 24, 384, 5);
  const auto mag = magnitudes(p);
  std::vector<float> exact(static_cast<size_t>(p.m * p.n));
  sk::gemm_nt_reference(p.m, p.n, p.k, p.a.data(), p.k, p.wf.data(), p.k, exact.data(), p.n, p.bias.data());
  for (const sk::Bf16Split split : kSplits) {
    std::vector<float> ref(exact.size());
    sk::bf16_matmul(t, p.w.data(), p.m, p.n, p.k, p.a.data(), ref.data(), p.bias.data(), split, false);
    // One BF16 level rounds to 2^-9 relative; two levels leave ~2^-17 (plus F32 summation).
    const bool w_exact = t == GGMLType::BF16 || split.weight_levels == 2;
    const double bound = (w_exact ? 0.0 : 0.004) + (split.act_levels == 2 ? 2e-5 : 0.004);
    double worst = 0;
    for (size_t i = 0; i < exact.size(); ++i) {
      ASSERT_NEAR(ref[i], exact[i], bound * mag[i]) << split.weight_levels << split.act_levels << " i=" << i;
      worst = std::max(worst, std::fabs(ref[i] - exact[i]) / mag[i]);
    }
    // The rounding is really there: one-level operands are measurably off the exact product.
    if (split.act_levels == 1) {
      EXPECT_GT(worst, 1e-5) << split.weight_levels << split.act_levels;
    }
  }
}

TEST_P(Bf16Gemm, QuantMatmulPrefillAndDecodeAgreeWithF32Weights) {
  const GGMLType t = GetParam();
  const sk::Bf16Split split = sk::bf16_split_for(t, sk::QuantPath::Auto);
  for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 40}) {
    for (int64_t n : {37, 101}) {  // rows not a multiple of the decoding streams
      for (int64_t k : {200 + m, 2048 + m}) {  // below and above the GEMM's crossover
        const Problem p = make_problem(t, m, n, k, static_cast<uint32_t>(m * n + k));
        const auto mag = magnitudes(p);
        std::vector<float> exact(static_cast<size_t>(m * n)), got(exact.size());
        sk::gemm_nt_reference(m, n, k, p.a.data(), k, p.wf.data(), k, exact.data(), n, p.bias.data());
        sk::quant_matmul(t, p.w.data(), m, n, k, p.a.data(), got.data(), p.bias.data(), sk::QuantPath::Auto);
        const bool bf16 = sk::bf16_gemm_available() && m > 8 && sk::bf16_gemm_pays(split, n, k);
        if (bf16) {  // prompts: exactly the BF16 GEMM with the default split
          std::vector<float> want(exact.size());
          sk::bf16_matmul(t, p.w.data(), m, n, k, p.a.data(), want.data(), p.bias.data(), split, true);
          for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "m=" << m << " k=" << k << " i=" << i;
        }
        // Decoding and the F32 tiles widen to F32 (exact up to summation order); the BF16 GEMM
        // holds its split's rounding (two-level activations: ~2^-17 of each product; F16 weights
        // rounded to one BF16 level: 2^-9).
        const bool rounds_weights = t == GGMLType::F16 && split.weight_levels == 1;
        const double bound = !bf16 ? 1e-5 : rounds_weights ? 0.004 : 1e-4;
        for (size_t i = 0; i < exact.size(); ++i)
          ASSERT_NEAR(got[i], exact[i], bound * mag[i] + 1e-30)
              << squish::type_name(t) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, Bf16Gemm, ::testing::Values(GGMLType::F16, GGMLType::BF16),
                         [](const auto& info) { return squish::type_name(info.param); });

// Under SQUISH_ISA=avx2|scalar the BF16 path is off and F16 / BF16 products still agree with F32
// weights (run in a child process: the ISA is chosen once per process).
TEST(Bf16Dispatch, IsaCapTurnsTheBf16PathOff) {
  const char* forced = std::getenv("SQUISH_ISA");
  if (forced && *forced) {
    EXPECT_FALSE(sk::bf16_gemm_available());
    for (GGMLType t : {GGMLType::F16, GGMLType::BF16})
      for (int64_t m : {1, 6, 20}) {
        const Problem p = make_problem(t, m, 40, 96, 3);
        const auto mag = magnitudes(p);
        std::vector<float> exact(static_cast<size_t>(m * 40)), got(exact.size());
        sk::gemm_nt_reference(m, 40, 96, p.a.data(), 96, p.wf.data(), 96, exact.data(), 40, p.bias.data());
        sk::quant_matmul(t, p.w.data(), m, 40, 96, p.a.data(), got.data(), p.bias.data(), sk::QuantPath::Auto);
        for (size_t i = 0; i < exact.size(); ++i) ASSERT_NEAR(got[i], exact[i], 1e-6 * mag[i]) << forced << " m=" << m;
      }
    return;
  }
  for (const char* isa : {"avx2", "scalar"}) {
    const std::string cmd = std::string("SQUISH_ISA=") + isa +
                            " /proc/" + std::to_string(getpid()) + "/exe --gtest_filter=Bf16Dispatch.* > /dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
}

}  // namespace
