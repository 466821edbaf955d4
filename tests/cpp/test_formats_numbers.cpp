// Number formats: FP8/FP4 conversions against ml_dtypes (goldens from
// tests/oracle/formats_minifloat_goldens.py), NF4 levels against the published table, INTk,
// ternary, granularity, scale methods, double quantization and bits per weight.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "squish/formats/minifloat.h"
#include "squish/formats/number_formats.h"
#include "test_support.h"

namespace squish {
namespace {

std::vector<float> gaussian(size_t n, unsigned seed, float outlier_rate = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng) * (u(rng) < outlier_rate ? 12.0f : 1.0f);
  return v;
}

TEST(FormatsNumbers, MinifloatMatchesMlDtypes) {
  const std::string d =
      test::read_file(test::source_dir() + "/tests/goldens/formats/minifloat.bin");
  size_t p = 0;
  int formats = 0;
  while (p < d.size()) {
    ASSERT_EQ(d.compare(p, 4, "SQMF"), 0);
    uint32_t fid, ncodes, nvals;
    std::memcpy(&fid, &d[p + 4], 4);
    std::memcpy(&ncodes, &d[p + 8], 4);
    p += 12;
    const auto f = static_cast<Minifloat>(fid);
    for (uint32_t c = 0; c < ncodes; ++c) {
      float want;
      std::memcpy(&want, &d[p + 4 * c], 4);
      const float got = minifloat_decode(f, static_cast<uint8_t>(c));
      if (std::isnan(want))
        EXPECT_TRUE(std::isnan(got)) << "format " << fid << " code " << c;
      else
        EXPECT_EQ(got, want) << "format " << fid << " code " << c;
    }
    p += 4 * ncodes;
    std::memcpy(&nvals, &d[p], 4);
    p += 4;
    int bad = 0;
    for (uint32_t i = 0; i < nvals; ++i) {
      float x;
      std::memcpy(&x, &d[p + 4 * i], 4);
      const uint8_t want = static_cast<uint8_t>(d[p + 4 * nvals + i]);
      const uint8_t got = minifloat_encode(f, x);
      if (got != want && ++bad < 5)
        ADD_FAILURE() << "format " << fid << " x=" << x << " got " << int(got) << " want "
                      << int(want);
    }
    EXPECT_EQ(bad, 0);
    EXPECT_GT(nvals, 1000u);
    p += 5 * static_cast<size_t>(nvals);
    ++formats;
  }
  EXPECT_EQ(formats, 3);
}

TEST(FormatsNumbers, MinifloatSaturatesAndKeepsNaN) {
  EXPECT_EQ(fp32_to_e4m3(1000.0f), 0x7E);
  EXPECT_EQ(fp32_to_e4m3(-INFINITY), 0xFE);
  EXPECT_EQ(e4m3_to_fp32(0x7E), 448.0f);
  EXPECT_EQ(fp32_to_e4m3(NAN), 0x7F);
  EXPECT_TRUE(std::isnan(e4m3_to_fp32(fp32_to_e4m3(NAN))));
  EXPECT_EQ(fp32_to_e5m2(1e6f), 0x7B);
  EXPECT_EQ(fp32_to_e5m2(INFINITY), 0x7B);
  EXPECT_EQ(e5m2_to_fp32(0x7B), 57344.0f);
  EXPECT_TRUE(std::isinf(e5m2_to_fp32(0x7C)));
  EXPECT_TRUE(std::isnan(e5m2_to_fp32(fp32_to_e5m2(NAN))));
  EXPECT_EQ(fp32_to_e2m1(100.0f), 0x7);
  EXPECT_EQ(fp32_to_e2m1(-100.0f), 0xF);
  EXPECT_EQ(e2m1_to_fp32(0x7), 6.0f);
  EXPECT_EQ(e2m1_to_fp32(fp32_to_e2m1(2.5f)), 2.0f);  // tie to even
  EXPECT_EQ(e2m1_to_fp32(fp32_to_e2m1(5.0f)), 4.0f);
  EXPECT_EQ(e2m1_to_fp32(fp32_to_e2m1(0.75f)), 1.0f);
  EXPECT_EQ(e4m3_to_fp32(fp32_to_e4m3(0.001953125f)), 0.001953125f);  // smallest subnormal 2^-9
}

TEST(FormatsNumbers, Nf4LevelsMatchPublishedTable) {
  // bitsandbytes / QLoRA NF4 table.
  const float published[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f,
                               -0.39491748809814453f, -0.28444138169288635f,
                               -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                               0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                               0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                               0.7229568362236023f, 1.0f};
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(nf4_levels()[i], published[i], 2e-7) << i;
  EXPECT_EQ(nf4_index(0.0f), 7);
  EXPECT_EQ(nf4_index(0.95f), 15);
  EXPECT_EQ(nf4_index(-0.7f), 1);
}

TEST(FormatsNumbers, IntKnownValuesAndRoundTripBound) {
  const float x[4] = {-7.0f, 3.5f, 2.5f, 7.0f};
  QuantSpec s;
  s.bits = 4;
  s.granularity = Granularity::PerTensor;
  auto q = quantize_matrix(x, 1, 4, s);
  ASSERT_EQ(q.scales.size(), 1u);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.codes, (std::vector<int16_t>{-7, 4, 2, 7}));  // ties to even: 3.5 -> 4, 2.5 -> 2
  const auto v = gaussian(4096, 1);
  std::vector<float> y(v.size());
  for (int bits = 2; bits <= 8; ++bits)
    for (bool sym : {true, false}) {
      QuantSpec t;
      t.bits = bits;
      t.symmetric = sym;
      t.group_size = 64;
      const auto qm = quantize_matrix(v.data(), 8, 512, t);
      dequantize_matrix(qm, y.data());
      const IntRange r = int_range(bits, sym);
      for (size_t g = 0; g < qm.scales.size(); ++g)
        for (int i = 0; i < 64; ++i) {
          const size_t k = g * 64 + i;
          EXPECT_GE(qm.codes[k], r.qmin);
          EXPECT_LE(qm.codes[k], r.qmax);
          EXPECT_LE(std::fabs(y[k] - v[k]), qm.scales[g] * 0.5f * 1.0001f + 1e-6f)
              << "int" << bits << (sym ? "sym" : "asym");
        }
    }
}

TEST(FormatsNumbers, GranularityGroupsAndValidation) {
  const auto v = gaussian(16 * 256, 2);
  QuantSpec s;
  s.bits = 8;
  s.granularity = Granularity::PerTensor;
  EXPECT_EQ(quantize_matrix(v.data(), 16, 256, s).scales.size(), 1u);
  s.granularity = Granularity::PerChannel;
  EXPECT_EQ(quantize_matrix(v.data(), 16, 256, s).scales.size(), 16u);
  s.granularity = Granularity::PerToken;
  EXPECT_EQ(quantize_matrix(v.data(), 16, 256, s).scales.size(), 16u);
  s.granularity = Granularity::PerGroup;
  s.group_size = 32;
  const auto q = quantize_matrix(v.data(), 16, 256, s);
  ASSERT_EQ(q.scales.size(), 128u);
  float amax = 0;
  for (int i = 32; i < 64; ++i) amax = std::max(amax, std::fabs(v[i]));
  EXPECT_FLOAT_EQ(q.scales[1], amax / 127);
  s.group_size = 96;  // does not divide 256
  EXPECT_THROW(quantize_matrix(v.data(), 16, 256, s), std::invalid_argument);
  s.group_size = 32;
  s.bits = 9;
  EXPECT_THROW(quantize_matrix(v.data(), 16, 256, s), std::invalid_argument);
}

TEST(FormatsNumbers, MseClipNeverWorseAndHelpsWithOutliers) {
  const auto v = gaussian(64 * 128, 3, 0.01f);
  std::vector<float> y(v.size());
  for (ElementFormat f : {ElementFormat::Int, ElementFormat::NF4, ElementFormat::FP4_E2M1}) {
    QuantSpec s;
    s.format = f;
    s.bits = 3;
    s.granularity = Granularity::PerChannel;
    const double e_absmax = fake_quantize(v.data(), 64, 128, s, y.data());
    s.method = ScaleMethod::MseClip;
    const double e_mse = fake_quantize(v.data(), 64, 128, s, y.data());
    EXPECT_LT(e_mse, e_absmax) << describe(s);
  }
}

TEST(FormatsNumbers, TernaryAbsMean) {
  const auto v = gaussian(1024, 4);
  QuantSpec s;
  s.format = ElementFormat::Ternary;
  s.granularity = Granularity::PerTensor;
  const auto q = quantize_matrix(v.data(), 4, 256, s);
  double mean_abs = 0;
  for (float x : v) mean_abs += std::fabs(x);
  mean_abs /= v.size();
  EXPECT_NEAR(q.scales[0], mean_abs, 1e-5);
  int counts[3] = {};
  for (int16_t c : q.codes) {
    ASSERT_TRUE(c >= -1 && c <= 1);
    counts[c + 1]++;
  }
  EXPECT_GT(counts[0], 200);
  EXPECT_GT(counts[1], 200);  // |x| < mean/2 → 0: ~31% of a Gaussian
  EXPECT_GT(counts[2], 200);
}

TEST(FormatsNumbers, FloatFormatsFakeQuantError) {
  const auto v = gaussian(32 * 256, 5);
  std::vector<float> y(v.size());
  double power = 0;
  for (float x : v) power += x * x;
  power /= v.size();
  QuantSpec s;
  s.granularity = Granularity::PerChannel;
  s.format = ElementFormat::FP8_E4M3;
  EXPECT_LT(fake_quantize(v.data(), 32, 256, s, y.data()) / power, 1e-3);
  s.format = ElementFormat::FP8_E5M2;
  EXPECT_LT(fake_quantize(v.data(), 32, 256, s, y.data()) / power, 4e-3);
  s.format = ElementFormat::NF4;
  s.granularity = Granularity::PerGroup;
  s.group_size = 64;
  const double nf4 = fake_quantize(v.data(), 32, 256, s, y.data()) / power;
  s.format = ElementFormat::Int;
  s.bits = 4;
  const double int4 = fake_quantize(v.data(), 32, 256, s, y.data()) / power;
  EXPECT_LT(nf4, int4);  // NF4 suits Gaussian weights better than uniform INT4
  EXPECT_LT(nf4, 0.02);
}

TEST(FormatsNumbers, DoubleQuantizationOfScales) {
  const auto v = gaussian(64 * 4096, 6);
  std::vector<float> y(v.size());
  QuantSpec s;
  s.format = ElementFormat::NF4;
  s.group_size = 64;
  const auto plain = quantize_matrix(v.data(), 64, 4096, s);
  const double e_plain = fake_quantize(v.data(), 64, 4096, s, y.data());
  s.double_quant = true;
  const auto dq = quantize_matrix(v.data(), 64, 4096, s);
  const double e_dq = fake_quantize(v.data(), 64, 4096, s, y.data());
  ASSERT_EQ(dq.scales.size(), 4096u);
  EXPECT_EQ(dq.scale_block_scales.size(), 16u);  // 4096 scales / 256
  for (size_t i = 0; i < dq.scales.size(); ++i)
    EXPECT_LE(std::fabs(dq.scales[i] - plain.scales[i]),
              dq.scale_block_scales[i / 256] * 0.5f + 1e-6f);
  EXPECT_LT(e_dq, e_plain * 1.05);
  EXPECT_NEAR(bits_per_weight(s, 64, 4096), 4.127, 0.001);  // QLoRA's figure
}

TEST(FormatsNumbers, BitsPerWeight) {
  QuantSpec s;
  s.bits = 4;
  s.group_size = 128;
  s.scale_bits = 16;
  EXPECT_DOUBLE_EQ(bits_per_weight(s, 16, 1024), 4.125);
  s.symmetric = false;
  EXPECT_DOUBLE_EQ(bits_per_weight(s, 16, 1024), 4.0 + 20.0 / 128);
  QuantSpec f;
  f.format = ElementFormat::FP8_E4M3;
  f.granularity = Granularity::PerChannel;
  EXPECT_DOUBLE_EQ(bits_per_weight(f, 16, 4096), 8.0 + 32.0 / 4096);
  f.granularity = Granularity::PerTensor;
  EXPECT_DOUBLE_EQ(bits_per_weight(f, 16, 4096), 8.0 + 32.0 / (16 * 4096));
  EXPECT_EQ(describe(s), "int4-asym/g128/absmax/fp16-scales");
}

}  // namespace
}  // namespace squish
