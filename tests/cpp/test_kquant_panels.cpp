// GGUF Q2_K / Q3_K / Q4_K / Q5_K / Q6_K rows repacked into 16-row panels (kquant_panel_kernels.h):
// the panels hold the source rows' values bit for bit in about the file's bytes, the AVX-512 VNNI
// and AVX2 tiles equal the scalar reference bit for bit, and the product is close to the F32 product of the
// dequantized weights (two-level activations: to ~1e-5).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../src/kernels/kquant_panel_kernels.h"
#include "quantized_rows.h"
#include "squish/formats/ggml_type.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/gemm.h"

namespace sk = squish::kernels;
using squish::GGMLType;
using squish::test::panel_error;
using squish::test::quantized_rows;
using squish::test::random_values;

namespace {

const GGMLType kTypes[] = {GGMLType::Q4_K, GGMLType::Q6_K, GGMLType::Q5_K, GGMLType::Q3_K, GGMLType::Q2_K};

}  // namespace

TEST(KQuantPanels, HoldTheSourceRowsValues) {
  const int64_t n = 37, k = 512;  // a partial last panel
  for (GGMLType t : kTypes) {
    ASSERT_TRUE(sk::block_panels_supported(t, k, sk::Isa::Avx512));
    std::string where;
    EXPECT_TRUE(squish::test::panels_hold_source_values(t, n, k, &where)) << where;
  }
}

TEST(KQuantPanels, AboutTheFilesBytesForWholePanels) {
  for (GGMLType t : kTypes) {
    const auto rows = quantized_rows(t, 32, 512, 2);
    const size_t bytes = sk::make_block_panels(t, rows.data(), 32, 512).bytes();
    EXPECT_GE(bytes, rows.size()) << squish::type_name(t);
    EXPECT_LE(bytes, rows.size() * 104 / 100) << squish::type_name(t);  // F16 d/dmin, byte scales
  }
}

TEST(KQuantPanels, TwoLevelActivationsMatchF32Inputs) {
  for (GGMLType t : kTypes) {
    const double one = panel_error(t, false, sk::Isa::Scalar), two = panel_error(t, true, sk::Isa::Scalar);
    EXPECT_LT(one, 0.01) << squish::type_name(t);  // int8 inputs
    EXPECT_GT(one, 0.0) << squish::type_name(t);   // and they are rounded
    EXPECT_LT(two, 1e-4) << squish::type_name(t);  // ~14-bit inputs
    EXPECT_LT(two, one / 50) << squish::type_name(t);
  }
}

namespace {

// The SIMD tiles of isa against the scalar reference for m = 1..70 activation rows (every tile
// height, several 64-row chunks), one and two levels, n = 37 rows (a partial last panel).
void expect_tiles_equal_scalar(sk::Isa isa) {
  const int64_t n = 37, k = 512;
  for (GGMLType t : kTypes) {
    const auto rows = quantized_rows(t, n, k, 9);
    const sk::BlockPanels P = sk::make_block_panels(t, rows.data(), n, k);
    const auto bias = random_values(n, 10);
    for (int64_t m = 1; m <= 70; ++m) {
      const auto A = random_values(m * k, 11 + static_cast<uint32_t>(m));
      std::vector<float> scalar(static_cast<size_t>(m * n)), simd(scalar.size());
      for (bool two_level : {false, true}) {
        sk::block_panel_matmul(P, m, A.data(), scalar.data(), bias.data(), sk::Isa::Scalar, two_level);
        sk::block_panel_matmul(P, m, A.data(), simd.data(), bias.data(), isa, two_level);
        for (size_t i = 0; i < simd.size(); ++i)
          ASSERT_EQ(simd[i], scalar[i]) << squish::type_name(t) << " two_level=" << two_level << " m=" << m << " at " << i;
      }
    }
  }
}

// m <= 2 walks up to 4 panel ranges per thread in lockstep: 13 panels, the last partial.
void expect_lockstep_equals_scalar(sk::Isa isa) {
  const int64_t n = 200, k = 768;
  for (GGMLType t : kTypes) {
    const auto rows = quantized_rows(t, n, k, 12);
    const sk::BlockPanels P = sk::make_block_panels(t, rows.data(), n, k);
    for (int64_t m : {1, 2}) {
      const auto A = random_values(m * k, 13 + static_cast<uint32_t>(m));
      std::vector<float> scalar(static_cast<size_t>(m * n)), simd(scalar.size());
      for (bool two_level : {false, true}) {
        sk::block_panel_matmul(P, m, A.data(), scalar.data(), nullptr, sk::Isa::Scalar, two_level);
        sk::block_panel_matmul(P, m, A.data(), simd.data(), nullptr, isa, two_level);
        EXPECT_EQ(simd, scalar) << squish::type_name(t) << " two_level=" << two_level << " m=" << m;
      }
    }
  }
}

// Every weight at the largest code and every input at ±127 (two levels): the int32 sums of the
// tile (and AVX2's int16 pairs) are at their largest, and SIMD still equals the scalar reference
// and the F32 product — for decoding (m = 1: AVX2 forms code vectors one at a time) and prompts.
void expect_extreme_codes_exact(sk::Isa isa) {
  const int64_t n = 16, k = 256;
  for (GGMLType t : kTypes)
    for (int64_t m : {1, 3, 16, 17}) {  // 16, 17: AMX tiles where present
      std::vector<float> w(static_cast<size_t>(n * k), 1.0f), A(static_cast<size_t>(m * k), 1.0f);
      for (size_t i = 0; i < w.size(); i += 7) w[i] = -1.0f;
      std::vector<uint8_t> rows(squish::row_bytes(t, k) * n);
      for (int64_t r = 0; r < n; ++r) squish::quantize_row(t, w.data() + r * k, rows.data() + r * squish::row_bytes(t, k), k);
      const sk::BlockPanels P = sk::make_block_panels(t, rows.data(), n, k);
      std::vector<float> scalar(static_cast<size_t>(m * n)), simd(scalar.size()), W(k);
      sk::block_panel_matmul(P, m, A.data(), scalar.data(), nullptr, sk::Isa::Scalar, true);
      sk::block_panel_matmul(P, m, A.data(), simd.data(), nullptr, isa, true);
      EXPECT_EQ(simd, scalar) << squish::type_name(t) << " m=" << m;
      sk::block_panel_row_f32(P, 0, W.data());
      double want = 0;
      for (float v : W) want += v;
      EXPECT_NEAR(scalar[0], want, 1e-4 * k) << squish::type_name(t) << " m=" << m;
    }
}

bool has(sk::Isa isa) { return sk::active_isa() >= isa; }

}  // namespace

TEST(KQuantPanels, Avx512TilesEqualScalarBitForBit) {
  if (!has(sk::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI";
  expect_tiles_equal_scalar(sk::Isa::Avx512);
}

// Where the CPU has AMX, prompts (16 rows at a time) run on its tiles: m = 16..70 above took them.
TEST(KQuantPanels, AmxTilesEqualScalarBitForBit) {
  if (!has(sk::Isa::Avx512) || !sk::cpu_has_amx()) GTEST_SKIP() << "no AMX";
  expect_tiles_equal_scalar(sk::Isa::Avx512);
}

TEST(KQuantPanels, Avx2TilesEqualScalarBitForBit) {
  if (!has(sk::Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  expect_tiles_equal_scalar(sk::Isa::Avx2);
}

TEST(KQuantPanels, LockstepDecodingEqualsScalarBitForBit) {
  for (sk::Isa isa : {sk::Isa::Avx2, sk::Isa::Avx512})
    if (has(isa)) expect_lockstep_equals_scalar(isa);
}

TEST(KQuantPanels, ExtremeCodesKeepExactIntegerSums) {
  for (sk::Isa isa : {sk::Isa::Avx2, sk::Isa::Avx512})
    if (has(isa)) expect_extreme_codes_exact(isa);
}
