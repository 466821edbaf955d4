// Quantized linear layers: the SIMD row dequantizers are bit-exact with the portable reference for
// every GGUF type, and quant_matmul's paths (F32 tiles, int8 dots) agree with the F32 product of
// the dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/dequant_fast.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"
#include "squish/kernels/quant_matmul.h"

namespace sk = squish::kernels;
using squish::GGMLType;

namespace {

// Rows of varied magnitude (so scales and mins differ between blocks), quantized to type t.
std::vector<uint8_t> random_rows(GGMLType t, int64_t rows, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (size_t i = 0; i < x.size(); ++i) x[i] = d(rng) * (0.01f + static_cast<float>(i % 97) / 20.f) + 0.1f;
  const size_t rb = squish::row_bytes(t, k);
  std::vector<uint8_t> q(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) squish::quantize_row(t, x.data() + r * k, q.data() + r * rb, k);
  return q;
}

class QuantMatmul : public ::testing::TestWithParam<GGMLType> {};

TEST_P(QuantMatmul, FastDequantizerIsBitExact) {
  const GGMLType t = GetParam();
  const int64_t rows = 5, k = 512;
  const auto q = random_rows(t, rows, k, 7);
  const size_t rb = squish::row_bytes(t, k);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> ref(k), fast(k, -1.f);
    squish::dequantize_row(t, q.data() + r * rb, ref.data(), k);
    sk::dequantize_row_fast(t, q.data() + r * rb, fast.data(), k);
    ASSERT_EQ(std::memcmp(ref.data(), fast.data(), sizeof(float) * k), 0) << squish::type_name(t) << " row " << r;
  }
}

TEST_P(QuantMatmul, PathsAgreeWithF32Product) {
  const GGMLType t = GetParam();
  const int64_t n = 48, k = 512;
  const auto q = random_rows(t, n, k, 11);
  const size_t rb = squish::row_bytes(t, k);
  std::vector<float> w(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r) squish::dequantize_row(t, q.data() + r * rb, w.data() + r * k, k);
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> bias(n);
  for (auto& b : bias) b = d(rng);
  for (int64_t m : {1, 3, 37}) {
    std::vector<float> a(static_cast<size_t>(m * k));
    for (auto& x : a) x = d(rng);
    std::vector<float> ref(static_cast<size_t>(m * n)), tiles(ref.size()), int8(ref.size());
    sk::gemm_nt_reference(m, n, k, a.data(), k, w.data(), k, ref.data(), n, bias.data());
    sk::quant_matmul(t, q.data(), m, n, k, a.data(), tiles.data(), bias.data(), sk::QuantPath::F32Tiles);
    sk::quant_matmul(t, q.data(), m, n, k, a.data(), int8.data(), bias.data(), sk::QuantPath::Int8);
    double scale = 0;
    for (float v : ref) scale = std::max(scale, std::fabs(double{v}));
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_NEAR(tiles[i], ref[i], 1e-5 * scale) << squish::type_name(t) << " m=" << m << " i=" << i;
      // Int8 activations (or the same tiles when the type has no integer kernel) stay close; F16 /
      // BF16 decoding (the AVX-512 in-register widening GEMV) is exact up to summation order.
      const bool half = t == GGMLType::F16 || t == GGMLType::BF16;
      ASSERT_NEAR(int8[i], ref[i], (half ? 1e-5 : 0.03) * scale) << squish::type_name(t) << " m=" << m << " i=" << i;
    }
  }
}

TEST(QuantDot4, EveryIsaEqualsFourScalarDots) {
  for (GGMLType t : {GGMLType::Q4_0, GGMLType::Q8_0, GGMLType::Q4_K}) {
    const int64_t k = 512;
    const auto w = random_rows(t, 1, k, 21);
    const GGMLType at = sk::activation_type(t);
    std::vector<std::vector<uint8_t>> acts(4, std::vector<uint8_t>(squish::row_bytes(at, k)));
    std::mt19937 rng(9);
    std::normal_distribution<float> d(0.f, 1.f);
    const void* a[4];
    for (int r = 0; r < 4; ++r) {
      std::vector<float> x(k);
      for (auto& v : x) v = d(rng);
      sk::quantize_activations(t, x.data(), acts[r].data(), k);
      a[r] = acts[r].data();
    }
    for (sk::Isa isa : {sk::Isa::Scalar, sk::Isa::Avx2, sk::Isa::Avx512}) {
      if (isa > sk::active_isa()) continue;
      float out[4];
      sk::quant_dot4(isa, t, w.data(), a, k, out);
      for (int r = 0; r < 4; ++r) {
        const float want = sk::quant_dot_scalar(t, w.data(), a[r], k);
        EXPECT_NEAR(out[r], want, 1e-4f * (1.f + std::fabs(want))) << squish::type_name(t) << " " << sk::isa_name(isa);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantMatmul,
                         ::testing::Values(GGMLType::F16, GGMLType::BF16, GGMLType::Q4_0, GGMLType::Q4_1,
                                           GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0, GGMLType::Q2_K,
                                           GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K,
                                           GGMLType::IQ4_NL, GGMLType::IQ4_XS, GGMLType::TQ1_0, GGMLType::TQ2_0),
                         [](const auto& info) { return squish::type_name(info.param); });

}  // namespace
