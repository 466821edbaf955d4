// GGUF Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 rows repacked into 16-row panels (BlockPanels): the panels hold the
// source rows' values bit for bit, the AVX-512 VNNI and AVX2 tiles and activation quantizers equal
// the scalar reference bit for bit, and the product equals the integer dots of the row kernels (quant_dot)
// and, up to int8 activation rounding, the F32 product of the dequantized weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "../../src/kernels/block_panel_kernels.h"
#include "quantized_rows.h"
#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"

namespace sk = squish::kernels;
using squish::GGMLType;
using squish::test::quantized_rows;
using squish::test::panel_error;
using squish::test::random_values;

namespace {

const GGMLType kTypes[] = {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0};

bool has_avx512() { return sk::active_isa() >= sk::Isa::Avx512; }
bool has_avx2() { return sk::active_isa() >= sk::Isa::Avx2; }

}  // namespace

TEST(BlockPanels, HoldTheSourceRowsValues) {
  const int64_t n = 37, k = 96;  // a partial last panel
  for (GGMLType t : kTypes) {
    std::string where;
    EXPECT_TRUE(squish::test::panels_hold_source_values(t, n, k, &where)) << where;
  }
}

TEST(BlockPanels, SameBytesAsTheFileForWholePanels) {
  for (GGMLType t : kTypes) {
    const auto rows = quantized_rows(t, 32, 64, 2);
    EXPECT_EQ(sk::make_block_panels(t, rows.data(), 32, 64).bytes(), rows.size()) << squish::type_name(t);
  }
}

TEST(BlockPanels, RejectsOtherTypesAndLengths) {
  const auto rows = quantized_rows(GGMLType::Q8_0, 1, 256, 3);
  EXPECT_THROW(sk::make_block_panels(GGMLType::F16, rows.data(), 1, 256), std::exception);
  EXPECT_THROW(sk::make_block_panels(GGMLType::Q4_K, rows.data(), 1, 128), std::exception);
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::F16, 256, sk::Isa::Avx512));
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q4_K, 128, sk::Isa::Avx512));
  EXPECT_TRUE(sk::block_panels_supported(GGMLType::Q4_K, 256, sk::Isa::Avx2));
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q4_K, 256, sk::Isa::Scalar));
  EXPECT_TRUE(sk::block_panels_supported(GGMLType::Q6_K, 256, sk::Isa::Avx512));
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q6_K, 256, sk::Isa::Avx2));  // row path is faster
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q4_0, 48, sk::Isa::Avx512));
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q4_0, 64, sk::Isa::Scalar));
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q4_K, 128, sk::Isa::Avx2));
  EXPECT_TRUE(sk::block_panels_supported(GGMLType::Q4_0, 64, sk::Isa::Avx2));
  EXPECT_TRUE(sk::block_panels_supported(GGMLType::Q5_1, 64, sk::Isa::Avx2));
  EXPECT_FALSE(sk::block_panels_supported(GGMLType::Q8_0, 64, sk::Isa::Avx2));  // F32 tiles are faster
  EXPECT_TRUE(sk::block_panels_supported(GGMLType::Q8_0, 64, sk::Isa::Avx512));
}

TEST(BlockPanels, ScalarEqualsRowIntegerDots) {
  // Q4_0 / Q8_0 rows times Q8_0-quantized activations through quant_dot_scalar: the same integer
  // sums and scales, summed in another order.
  const int64_t n = 21, k = 128, m = 5;
  for (GGMLType t : {GGMLType::Q4_0, GGMLType::Q8_0}) {
    const auto rows = quantized_rows(t, n, k, 4);
    const auto A = random_values(m * k, 5);
    const sk::BlockPanels P = sk::make_block_panels(t, rows.data(), n, k);
    std::vector<float> C(static_cast<size_t>(m * n));
    sk::block_panel_matmul(P, m, A.data(), C.data(), nullptr, sk::Isa::Scalar);
    std::vector<uint8_t> act(squish::row_bytes(GGMLType::Q8_0, k));
    for (int64_t i = 0; i < m; ++i) {
      sk::quantize_activations_q8_0(A.data() + i * k, act.data(), k);
      for (int64_t j = 0; j < n; ++j) {
        const float want = sk::quant_dot_scalar(t, rows.data() + j * squish::row_bytes(t, k), act.data(), k);
        ASSERT_NEAR(C[i * n + j], want, 1e-4f * (1.0f + std::fabs(want))) << squish::type_name(t);
      }
    }
  }
}

TEST(BlockPanels, TwoLevelActivationsMatchF32Inputs) {
  for (GGMLType t : kTypes) {
    const double one = panel_error(t, false, sk::Isa::Scalar), two = panel_error(t, true, sk::Isa::Scalar);
    EXPECT_LT(two, 1e-4) << squish::type_name(t);  // ~15-bit inputs
    EXPECT_LT(two, one / 50) << squish::type_name(t);
  }
}

TEST(BlockPanels, CloseToTheF32ProductOfDequantizedWeights) {
  const int64_t n = 40, k = 256, m = 9;
  for (GGMLType t : kTypes) {
    const auto rows = quantized_rows(t, n, k, 6);
    const auto A = random_values(m * k, 7);
    const auto bias = random_values(n, 8);
    std::vector<float> W(static_cast<size_t>(n * k));
    for (int64_t r = 0; r < n; ++r) squish::dequantize_row(t, rows.data() + r * squish::row_bytes(t, k), W.data() + r * k, k);
    std::vector<float> want(static_cast<size_t>(m * n)), got(want.size());
    sk::matmul(m, n, k, A.data(), W.data(), want.data(), bias.data());
    sk::block_panel_matmul(sk::make_block_panels(t, rows.data(), n, k), m, A.data(), got.data(), bias.data(),
                           sk::Isa::Scalar);
    double err = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      err += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
    EXPECT_LT(std::sqrt(err / norm), 0.01) << squish::type_name(t);  // int8 inputs: ~0.3% here
    EXPECT_GT(std::sqrt(err / norm), 0.0) << squish::type_name(t);   // and they are rounded
  }
}

namespace {

// The panel product on `isa` equals the scalar reference bit for bit for every type, m = 1..70
// (every tile width and several chunks), one- and two-level activations, with a partial last panel.
void expect_tiles_equal_scalar(sk::Isa isa, const std::vector<int64_t>& ms) {
  const int64_t n = 53, k = 160;
  for (GGMLType t : kTypes) {
    const auto rows = quantized_rows(t, n, k, 9);
    const sk::BlockPanels P = sk::make_block_panels(t, rows.data(), n, k);
    const auto bias = random_values(n, 10);
    for (int64_t m : ms) {
      auto A = random_values(m * k, 11 + static_cast<uint32_t>(m));
      for (int64_t c = 0; c < 32; ++c) A[static_cast<size_t>(c)] = 0.0f;  // an all-zero block
      for (bool two_level : {false, true}) {
        std::vector<float> scalar(static_cast<size_t>(m * n)), simd(scalar.size());
        sk::block_panel_matmul(P, m, A.data(), scalar.data(), bias.data(), sk::Isa::Scalar, two_level);
        sk::block_panel_matmul(P, m, A.data(), simd.data(), bias.data(), isa, two_level);
        for (size_t i = 0; i < simd.size(); ++i)
          ASSERT_EQ(simd[i], scalar[i]) << squish::type_name(t) << " m=" << m << " levels=" << 1 + two_level
                                        << " at " << i;
      }
    }
  }
}

// The activation quantizers q / q2 equal quantize_scalar / quantize2_scalar bit for bit.
void expect_quantizers_equal_scalar(const sk::panels::Kernels& simd) {
  const int64_t k = 512;
  auto x = random_values(k, 12);
  for (int i = 64; i < 96; ++i) x[static_cast<size_t>(i)] = 0.0f;  // an all-zero block
  x[5] = 0.5f * x[6];                                                // ties are unlikely; values vary
  x[200] = -3.0f * x[201];                                           // a block's extreme is negative
  std::vector<int8_t> q0(k), q1(k);
  std::vector<float> d0(k / 32), d1(k / 32), s0(k / 32), s1(k / 32);
  sk::panels::quantize_scalar(x.data(), k, q0.data(), d0.data(), s0.data());
  simd.quantize(x.data(), k, q1.data(), d1.data(), s1.data());
  EXPECT_EQ(q0, q1);
  EXPECT_EQ(d0, d1);
  EXPECT_EQ(s0, s1);
  EXPECT_EQ(d0[2], 0.0f);
  std::vector<int8_t> r0(k), r1(k);
  sk::panels::quantize2_scalar(x.data(), k, q0.data(), d0.data(), s0.data(), r0.data());
  simd.quantize2(x.data(), k, q1.data(), d1.data(), s1.data(), r1.data());
  EXPECT_EQ(q0, q1);
  EXPECT_EQ(r0, r1);
  EXPECT_EQ(s0, s1);
  int nonzero = 0;
  for (int8_t v : r0) nonzero += v != 0;
  EXPECT_GT(nonzero, k / 2);  // the residual level carries information
}

// n rows of type t whose code bytes all hold pattern[r % 6] (the extreme codes: 0, the largest,
// Q8_0's -128 and 127) and whose F16 scale and minimum are 1.
std::vector<uint8_t> extreme_rows(GGMLType t, int64_t n, int64_t k) {
  const uint8_t pattern[] = {0xFF, 0x00, 0x7F, 0x80, 0xF0, 0x0F};
  const size_t rb = squish::row_bytes(t, k), bb = squish::row_bytes(t, 32);
  const bool has_min = t == GGMLType::Q4_1 || t == GGMLType::Q5_1;
  std::vector<uint8_t> rows(rb * static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r)
    for (size_t b = 0; b < rb / bb; ++b) {
      uint8_t* blk = rows.data() + static_cast<size_t>(r) * rb + b * bb;
      std::fill(blk, blk + bb, pattern[r % 6]);
      blk[0] = 0x00, blk[1] = 0x3C;  // d = 1 (F16), then m = 1 for the types with a minimum
      if (has_min) blk[2] = 0x00, blk[3] = 0x3C;
    }
  return rows;
}

std::vector<int64_t> one_to(int64_t last) {
  std::vector<int64_t> ms;
  for (int64_t m = 1; m <= last; ++m) ms.push_back(m);
  return ms;
}

}  // namespace

TEST(BlockPanels, Avx512TilesEqualScalarBitForBit) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 VNNI";
  expect_tiles_equal_scalar(sk::Isa::Avx512, {1, 3, 8, 13, 70});
}

TEST(BlockPanels, Avx2TilesEqualScalarBitForBit) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  expect_tiles_equal_scalar(sk::Isa::Avx2, one_to(70));
}

// Extreme codes times ±127 activations: where the AVX2 dots' int16 pairs and sums are at their
// bounds (vpmaddubsw saturates beyond them), they still equal the scalar reference.
TEST(BlockPanels, SimdTilesEqualScalarAtExtremeCodes) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  const int64_t n = 24, k = 96, m = 3;
  std::vector<float> A(static_cast<size_t>(m * k), 1.0f);  // codes 127, -127 and mixed
  for (int64_t c = 0; c < k; ++c) A[static_cast<size_t>(k + c)] = -1.0f, A[static_cast<size_t>(2 * k + c)] = c % 3 ? 1.0f : -1.0f;
  for (GGMLType t : kTypes) {
    const auto rows = extreme_rows(t, n, k);
    const sk::BlockPanels P = sk::make_block_panels(t, rows.data(), n, k);
    for (sk::Isa isa : {sk::Isa::Avx2, sk::Isa::Avx512}) {
      if (isa > sk::active_isa()) continue;
      for (bool two_level : {false, true}) {
        std::vector<float> scalar(static_cast<size_t>(m * n)), simd(scalar.size());
        sk::block_panel_matmul(P, m, A.data(), scalar.data(), nullptr, sk::Isa::Scalar, two_level);
        sk::block_panel_matmul(P, m, A.data(), simd.data(), nullptr, isa, two_level);
        for (size_t i = 0; i < simd.size(); ++i)
          ASSERT_EQ(simd[i], scalar[i]) << squish::type_name(t) << " " << sk::isa_name(isa) << " at " << i;
      }
    }
  }
}

TEST(BlockPanels, Avx512QuantizerEqualsScalar) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 VNNI";
  expect_quantizers_equal_scalar(sk::panels::avx512_kernels);
}

TEST(BlockPanels, Avx2QuantizerEqualsScalar) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  expect_quantizers_equal_scalar(sk::panels::avx2_kernels);
}
