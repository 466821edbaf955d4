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

TEST(ScaledKernels, Int8PanelsEqualTheScalarDots) {
  const int64_t k = 200;
  const auto codes = random_codes(static_cast<size_t>(sc::kPanelRows * k), 1);  // panel layout
  const auto acts = random_codes(static_cast<size_t>(sc::kPanelTokens * k), 2);
  std::vector<int32_t> sums(16, 0);
  for (int r = 0; r < 16; ++r)
    for (int64_t t = 0; t < k; ++t) sums[r] += codes[(t / 4) * 64 + r * 4 + t % 4];
  std::vector<float> ws(16), as(8), bias(16);
  for (int r = 0; r < 16; ++r) ws[r] = 0.01f * static_cast<float>(r + 1), bias[r] = static_cast<float>(r);
  for (int i = 0; i < 8; ++i) as[i] = 0.5f + static_cast<float>(i);
  std::vector<uint8_t> offset(acts.size());  // the AVX-512 kernel's unsigned form
  for (size_t i = 0; i < acts.size(); ++i) offset[i] = static_cast<uint8_t>(acts[i]) ^ 0x80u;
  const uint8_t *a[8], *ao[8];
  for (int i = 0; i < 8; ++i)
    a[i] = reinterpret_cast<const uint8_t*>(acts.data()) + i * k, ao[i] = offset.data() + i * k;
  const int64_t ldc = 20;
  // The scalar kernel against the plain definition.
  std::vector<float> ref(static_cast<size_t>(8 * ldc), -1.f);
  sc::int8_panel_scalar(a, 8, codes.data(), k, sums.data(), ws.data(), as.data(), bias.data(), 16, ref.data(), ldc);
  int32_t dot = 0;
  for (int64_t t = 0; t < k; ++t) dot += int32_t{acts[3 * k + t]} * codes[(t / 4) * 64 + 5 * 4 + t % 4];
  EXPECT_FLOAT_EQ(ref[3 * ldc + 5], as[3] * ws[5] * static_cast<float>(dot) + bias[5]);
  for (int na = 1; na <= 8; ++na)
    for (int nr : {16, 5}) {  // all rows, and a partial last panel (rows past nr untouched)
      std::vector<float> got(ref.size(), -1.f);
      const auto check = [&](const char* isa) {
        for (int i = 0; i < 8; ++i)
          for (int r = 0; r < ldc; ++r) {
            const float want = i < na && r < nr ? ref[i * ldc + r] : -1.f;
            EXPECT_FLOAT_EQ(got[i * ldc + r], want) << isa << " na " << na << " nr " << nr << " at " << i << "," << r;
          }
      };
      if (has_avx2()) {
        sc::int8_panel_avx2(a, na, codes.data(), k, sums.data(), ws.data(), as.data(), bias.data(), nr, got.data(), ldc);
        check("avx2");
      }
      if (has_avx512()) {
        std::fill(got.begin(), got.end(), -1.f);
        sc::int8_panel_avx512(ao, na, codes.data(), k, sums.data(), ws.data(), as.data(), bias.data(), nr, got.data(), ldc);
        check("avx512");
      }
    }
}

TEST(ScaledKernels, Avx512ActivationRoundingEqualsQuantizeRowInt8) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (int64_t n : {576, 100, 7}) {
    auto x = random_matrix(1, n, static_cast<uint32_t>(n));
    x[3] = 0.5f * x[0];  // ties land on .5 after scaling in some rows
    for (float fixed : {0.0f, 0.01f}) {  // per token, and a static scale that clamps
      std::vector<int8_t> ref(static_cast<size_t>(n));
      std::vector<uint8_t> got(static_cast<size_t>(n));
      const float s_ref = squish::quantize_row_int8(x.data(), ref.data(), n, fixed);
      const float s_got = sc::quantize_row_int8_offset_avx512(x.data(), got.data(), n, fixed);
      EXPECT_EQ(s_got, s_ref);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(static_cast<int8_t>(got[i] ^ 0x80u), ref[i]) << "n " << n << " at " << i;
    }
  }
  // Half-way cases round to even, as std::nearbyint does.
  const float x[16] = {127.f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, 0, 0, 0, 0, 0, 0, 0, 0};
  int8_t ref[16];
  uint8_t got[16];
  squish::quantize_row_int8(x, ref, 16);
  sc::quantize_row_int8_offset_avx512(x, got, 16, 0.f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(static_cast<int8_t>(got[i] ^ 0x80u), ref[i]) << i;
  EXPECT_EQ(ref[3], 2);
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
  EXPECT_EQ(M.stride, 160);
  EXPECT_EQ(M.scales.size(), 16u);  // padded to a whole panel
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
