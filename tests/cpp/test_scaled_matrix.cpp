// Runtime INT8 / FP8 / NF4 layouts (ScaledMatrix): every SIMD inner loop equals the portable one,
// scaled_matmul equals the product of the dequantized weights with the inputs each path feeds
// (per-token INT8 for W8A8, the outlier split for LLM.int8()), and converted models run through
// the kernels to the logits of their dequantized F32 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "../../src/kernels/scaled_kernels.h"
#include "squish/common/error.h"
#include "squish/formats/activation_quant.h"
#include "squish/formats/minifloat.h"
#include "squish/formats/number_formats.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"
#include "squish/kernels/scaled_matrix.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"
#include "test_support.h"

namespace sk = squish::kernels;
namespace sc = squish::kernels::scaled;

namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = d(rng) * (0.05f + static_cast<float>(i % 13) / 10.f);
  return x;
}

std::vector<int8_t> random_codes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> q(n);
  for (auto& v : q) v = static_cast<int8_t>(d(rng));
  return q;
}

bool has_avx2() { return sk::active_isa() >= sk::Isa::Avx2; }
bool has_avx512() { return sk::active_isa() >= sk::Isa::Avx512; }

// The dequantized weights of M, row-major.
std::vector<float> dequantized(const sk::ScaledMatrix& M) {
  std::vector<float> w(static_cast<size_t>(M.rows * M.cols));
  for (int64_t r = 0; r < M.rows; ++r) M.row_f32(r, w.data() + r * M.cols);
  return w;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel) {
  double scale = 0;
  for (float v : want) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], rel * scale) << "at " << i;
}

}  // namespace

TEST(ScaledKernels, Int8TilesEqualTheScalarDots) {
  const int64_t k = 192;
  const auto a = random_codes(4 * k, 1), w = random_codes(4 * k, 2);
  const int8_t* ap[4] = {a.data(), a.data() + k, a.data() + 2 * k, a.data() + 3 * k};
  const int8_t* wp[4] = {w.data(), w.data() + k, w.data() + 2 * k, w.data() + 3 * k};
  int32_t sums[4] = {0, 0, 0, 0};
  for (int r = 0; r < 4; ++r)
    for (int64_t t = 0; t < k; ++t) sums[r] += wp[r][t];
  int32_t ref[16], got[16];
  sc::int8_tile_scalar(ap, wp, k, sums, ref);
  int32_t direct = 0;
  for (int64_t t = 0; t < k; ++t) direct += int32_t{ap[2][t]} * wp[1][t];
  EXPECT_EQ(ref[2 * 4 + 1], direct);
  if (has_avx2()) {
    sc::int8_tile_avx2(ap, wp, k, sums, got);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(got[i], ref[i]) << "avx2 " << i;
  }
  if (has_avx512()) {
    sc::int8_tile_avx512(ap, wp, k, sums, got);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(got[i], ref[i]) << "avx512 " << i;
  }
}

TEST(ScaledKernels, Fp8DecodeEqualsTheScalarDecodeForEveryCode) {
  std::vector<uint8_t> q;
  for (int c = 0; c < 256; ++c)
    if ((c & 0x7F) != 0x7F) q.push_back(static_cast<uint8_t>(c));  // every code but NaN
  while (q.size() % 32) q.push_back(0x38);
  const int64_t n = static_cast<int64_t>(q.size());
  std::vector<float> ref(q.size()), got(q.size());
  sc::decode_fp8_scalar(q.data(), 0.37f, ref.data(), n);
  EXPECT_FLOAT_EQ(ref[0x38], 0.37f);  // 0x38 is 1.0
  if (has_avx2()) {
    sc::decode_fp8_avx2(q.data(), 0.37f, got.data(), n);
    for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "avx2 code " << int(q[i]);
  }
  if (has_avx512()) {
    sc::decode_fp8_avx512(q.data(), 0.37f, got.data(), n);
    for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "avx512 code " << int(q[i]);
  }
}

TEST(ScaledKernels, Nf4DecodeEqualsTheScalarDecode) {
  const int64_t n = 256;
  std::vector<uint8_t> q(static_cast<size_t>(n / 2));
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<uint8_t>(i * 37 + 11);
  const std::vector<float> scales = {0.5f, 2.0f, 0.01f, 7.0f};
  std::vector<float> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  sc::decode_nf4_scalar(q.data(), scales.data(), ref.data(), n);
  EXPECT_EQ(ref[0], squish::nf4_levels()[q[0] & 15] * 0.5f);
  EXPECT_EQ(ref[32], squish::nf4_levels()[q[0] >> 4] * 0.5f);
  if (has_avx2()) {
    sc::decode_nf4_avx2(q.data(), scales.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(got[i], ref[i]) << "avx2 " << i;
  }
  if (has_avx512()) {
    sc::decode_nf4_avx512(q.data(), scales.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(got[i], ref[i]) << "avx512 " << i;
  }
}

TEST(ScaledMatrix, LayoutsRoundTripWithinTheirFormatsError) {
  const int64_t rows = 9, cols = 160;  // 160: NF4's last block is partial, INT8 rows padded
  const auto w = random_matrix(rows, cols, 3);
  for (auto f : {sk::ScaledFormat::Int8, sk::ScaledFormat::Fp8E4M3, sk::ScaledFormat::Nf4}) {
    const sk::ScaledMatrix M = sk::make_scaled_matrix(f, w.data(), rows, cols);
    const auto d = dequantized(M);
    double err = 0, norm = 0;
    for (size_t i = 0; i < w.size(); ++i) err += (d[i] - w[i]) * (d[i] - w[i]), norm += w[i] * w[i];
    const double rel = std::sqrt(err / norm);
    const double bound = f == sk::ScaledFormat::Int8 ? 0.02 : f == sk::ScaledFormat::Fp8E4M3 ? 0.06 : 0.2;
    EXPECT_LT(rel, bound) << sk::scaled_format_name(f);
    EXPECT_GT(rel, 0.0) << sk::scaled_format_name(f);
  }
  // INT8: codes are round(w / s) with s = max|row| / 127, so the row maximum is exactly ±127 · s.
  const sk::ScaledMatrix M = sk::make_scaled_matrix(sk::ScaledFormat::Int8, w.data(), rows, cols);
  float amax = 0;
  for (int64_t t = 0; t < cols; ++t) amax = std::max(amax, std::fabs(w[t]));
  EXPECT_FLOAT_EQ(M.scales[0], amax / 127.f);
  EXPECT_EQ(M.stride, 192);
}

TEST(ScaledMatrix, W8A8EqualsTheProductOfPerTokenRoundedInputs) {
  const int64_t m = 7, n = 13, k = 200;
  const auto w = random_matrix(n, k, 4), a = random_matrix(m, k, 5);
  std::vector<float> bias(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) bias[j] = 0.1f * static_cast<float>(j);
  const sk::ScaledMatrix M = sk::make_scaled_matrix(sk::ScaledFormat::Int8, w.data(), n, k);
  std::vector<float> got(static_cast<size_t>(m * n)), want(got.size()), aq(a.size());
  sk::scaled_matmul(M, m, a.data(), got.data(), bias.data());
  squish::fake_quantize_input(squish::InputQuant::Int8PerToken, 0.f, a.data(), aq.data(), m, k);
  const auto wd = dequantized(M);
  sk::gemm_nt_reference(m, n, k, aq.data(), k, wd.data(), k, want.data(), n, bias.data());
  expect_close(got, want, 1e-5);
  // A static input scale is used for every row.
  sk::scaled_matmul(M, m, a.data(), got.data(), nullptr, 0.05f);
  squish::fake_quantize_input(squish::InputQuant::Int8Static, 0.05f, a.data(), aq.data(), m, k);
  sk::gemm_nt_reference(m, n, k, aq.data(), k, wd.data(), k, want.data(), n, nullptr);
  expect_close(got, want, 1e-5);
}

TEST(ScaledMatrix, LlmInt8ComputesOutlierColumnsInF32) {
  const int64_t m = 5, n = 11, k = 128;
  const auto w = random_matrix(n, k, 6);
  auto a = random_matrix(m, k, 7);
  for (int64_t i = 0; i < m; ++i) a[i * k + 17] = 40.f + static_cast<float>(i), a[i * k + 90] = -25.f;
  const sk::ScaledMatrix plain = sk::make_scaled_matrix(sk::ScaledFormat::Int8, w.data(), n, k);
  const sk::ScaledMatrix mixed = sk::make_scaled_matrix(sk::ScaledFormat::Int8, w.data(), n, k, 6.0f);
  const auto wd = dequantized(plain);
  // Reference: outlier columns exact, the rest rounded per token after zeroing the outliers.
  std::vector<float> rest = a, out(a.size(), 0.f), rq(a.size());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c : {17, 90}) out[i * k + c] = a[i * k + c], rest[i * k + c] = 0.f;
  squish::fake_quantize_input(squish::InputQuant::Int8PerToken, 0.f, rest.data(), rq.data(), m, k);
  for (size_t i = 0; i < rq.size(); ++i) rq[i] += out[i];
  std::vector<float> want(static_cast<size_t>(m * n)), got(want.size()), w8(want.size()), exact(want.size());
  sk::gemm_nt_reference(m, n, k, rq.data(), k, wd.data(), k, want.data(), n, nullptr);
  sk::scaled_matmul(mixed, m, a.data(), got.data());
  expect_close(got, want, 1e-5);
  // The split is closer to the F32 product than plain W8A8, whose per-token scale the outliers set.
  sk::scaled_matmul(plain, m, a.data(), w8.data());
  sk::gemm_nt_reference(m, n, k, a.data(), k, wd.data(), k, exact.data(), n, nullptr);
  double e_mixed = 0, e_plain = 0;
  for (size_t i = 0; i < exact.size(); ++i)
    e_mixed += std::pow(got[i] - exact[i], 2), e_plain += std::pow(w8[i] - exact[i], 2);
  EXPECT_LT(e_mixed * 4, e_plain);
}

TEST(ScaledMatrix, WeightOnlyLayoutsEqualTheirDequantizedProduct) {
  const int64_t n = 37, k = 96;
  for (auto f : {sk::ScaledFormat::Fp8E4M3, sk::ScaledFormat::Nf4})
    for (int64_t m : {1, 3, 20}) {
      const auto w = random_matrix(n, k, 8), a = random_matrix(m, k, 9);
      const sk::ScaledMatrix M = sk::make_scaled_matrix(f, w.data(), n, k);
      std::vector<float> got(static_cast<size_t>(m * n)), want(got.size());
      sk::scaled_matmul(M, m, a.data(), got.data());
      const auto wd = dequantized(M);
      sk::gemm_nt_reference(m, n, k, a.data(), k, wd.data(), k, want.data(), n, nullptr);
      expect_close(got, want, 1e-5);
    }
}

// Converted models: the kernels give the logits of the dequantized F32 reference of the same
// conversion, and each conversion changes the model's logits (it really quantized).
TEST(WeightConversion, KernelsMatchTheirDequantizedReference) {
  using namespace squish;
  const std::string path = test::source_dir() + "/tests/goldens/model/tiny_llama.gguf";
  const std::vector<int32_t> tokens = {1, 40, 41, 42, 43, 100, 200, 7, 9, 300, 12, 13};
  const auto logits = [&](LoadOptions o) {
    Session s(Model::load(path, o), 64);
    return s.eval(tokens, true);
  };
  const std::vector<float> base = logits({});
  for (WeightConversion c : {WeightConversion::W8A8, WeightConversion::LlmInt8, WeightConversion::Fp8,
                             WeightConversion::Nf4}) {
    LoadOptions run, ref;
    run.keep_quantized = true;
    run.convert = ref.convert = c;
    const auto model = Model::load(path, run);
    EXPECT_TRUE(model->weights().layers[0].ffn_down.is_scaled()) << conversion_name(c);
    EXPECT_FALSE(model->weights().token_embd.is_scaled());
    const std::vector<float> got = logits(run), want = logits(ref);
    if (c != WeightConversion::LlmInt8) expect_close(got, want, 1e-4);
    double diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(got[i] - base[i])));
    EXPECT_GT(diff, 1e-4) << conversion_name(c);
  }
  EXPECT_EQ(parse_conversion("nf4"), WeightConversion::Nf4);
  EXPECT_THROW(parse_conversion("int3"), Error);
}
