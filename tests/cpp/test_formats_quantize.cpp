// squish::quantize_row against llama.cpp's own quantizer (goldens written by
// tests/oracle/formats_quant_goldens.py through ggml_quantize_chunk): bytes must be identical,
// with and without importance weights. Plus round-trip error bounds and importance benefit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/formats/half.h"
#include "squish/formats/quantize.h"
#include "test_support.h"

namespace squish {
namespace {

struct Input {
  uint64_t nrows, n;
  std::vector<float> src, imatrix;
};

struct Expected {
  uint32_t input, type, with_imatrix;
  std::vector<uint8_t> bytes;
};

std::string golden(const std::string& name) {
  return test::read_file(test::source_dir() + "/tests/goldens/formats/" + name);
}

std::map<uint32_t, Input> load_inputs() {
  const std::string d = golden("quant_inputs.bin");
  std::map<uint32_t, Input> out;
  size_t p = 0;
  while (p + 24 <= d.size()) {
    EXPECT_EQ(d.compare(p, 4, "SQIN"), 0);
    uint32_t id;
    Input in;
    std::memcpy(&id, &d[p + 4], 4);
    std::memcpy(&in.nrows, &d[p + 8], 8);
    std::memcpy(&in.n, &d[p + 16], 8);
    p += 24;
    in.src.resize(in.nrows * in.n);
    std::memcpy(in.src.data(), &d[p], in.src.size() * 4);
    p += in.src.size() * 4;
    in.imatrix.resize(in.n);
    std::memcpy(in.imatrix.data(), &d[p], in.n * 4);
    p += in.n * 4;
    out[id] = std::move(in);
  }
  return out;
}

std::vector<Expected> load_expected() {
  const std::string d = golden("quant_llama.bin");
  std::vector<Expected> out;
  size_t p = 0;
  while (p + 24 <= d.size()) {
    EXPECT_EQ(d.compare(p, 4, "SQQB"), 0);
    Expected e;
    uint64_t nbytes;
    std::memcpy(&e.input, &d[p + 4], 4);
    std::memcpy(&e.type, &d[p + 8], 4);
    std::memcpy(&e.with_imatrix, &d[p + 12], 4);
    std::memcpy(&nbytes, &d[p + 16], 8);
    p += 24;
    e.bytes.assign(d.begin() + p, d.begin() + p + nbytes);
    p += nbytes;
    out.push_back(std::move(e));
  }
  return out;
}

TEST(FormatsQuantize, ByteIdenticalToLlamaCpp) {
  const auto inputs = load_inputs();
  const auto expected = load_expected();
  ASSERT_GE(expected.size(), 98u);
  std::map<std::string, int> checked;
  for (const auto& e : expected) {
    const auto t = static_cast<GGMLType>(e.type);
    const Input& in = inputs.at(e.input);
    ASSERT_TRUE(can_quantize(t)) << type_name(t);
    const size_t rb = row_bytes(t, static_cast<int64_t>(in.n));
    ASSERT_EQ(rb * in.nrows, e.bytes.size());
    std::vector<uint8_t> got(e.bytes.size(), 0xAB);
    for (uint64_t r = 0; r < in.nrows; ++r)
      quantize_row(t, in.src.data() + r * in.n, got.data() + r * rb, static_cast<int64_t>(in.n),
                   e.with_imatrix ? in.imatrix.data() : nullptr);
    size_t bad = 0, first = got.size();
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != e.bytes[i]) {
        if (first == got.size()) first = i;
        ++bad;
      }
    EXPECT_EQ(bad, 0u) << type_name(t) << " input " << e.input << " imatrix " << e.with_imatrix
                       << ": " << bad << " bytes differ, first at byte " << first << " (block "
                       << first / type_traits(t).type_size << ")";
    checked[type_name(t) + (e.with_imatrix ? "+imatrix" : "")]++;
  }
  for (const char* name : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
                           "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"}) {
    EXPECT_GE(checked[name], 1) << name;
    EXPECT_GE(checked[std::string(name) + "+imatrix"], 1) << name;
  }
}

TEST(FormatsQuantize, FloatTypesRoundToNearestEven) {
  const float in[] = {1.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65520.0f, -0.0f, 1e-8f,
                      1.0f + 1.0f / 256, 1.0f + 3.0f / 256};
  uint16_t h[8], b[8];
  quantize_row(GGMLType::F16, in, h, 8);
  quantize_row(GGMLType::BF16, in, b, 8);
  EXPECT_EQ(h[0], 0x3C00);
  EXPECT_EQ(h[1], 0x3C00);  // halfway, rounds to even
  EXPECT_EQ(h[2], 0x3C02);  // halfway, rounds up to even
  EXPECT_EQ(h[3], 0x7C00);  // overflow to inf
  EXPECT_EQ(h[4], 0x8000);
  EXPECT_EQ(h[5], 0x0000);  // below half the smallest subnormal
  EXPECT_EQ(b[6], 0x3F80);  // halfway → even
  EXPECT_EQ(b[7], 0x3F82);
  float back[8];
  dequantize_row(GGMLType::F16, h, back, 8);
  EXPECT_EQ(back[0], 1.0f);
}

// Relative RMS error of dequant(quant(x)) on Gaussian data: sanity bounds per bit width.
TEST(FormatsQuantize, RoundTripErrorWithinBounds) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const int64_t n = 4096;
  std::vector<float> x(n), y(n);
  for (auto& v : x) v = nd(rng);
  const std::map<GGMLType, double> bound = {
      {GGMLType::Q8_0, 0.006}, {GGMLType::Q8_K, 0.01}, {GGMLType::Q6_K, 0.025},
      {GGMLType::Q5_0, 0.06},  {GGMLType::Q5_1, 0.06},  {GGMLType::Q5_K, 0.045},
      {GGMLType::Q4_0, 0.12},  {GGMLType::Q4_1, 0.12},  {GGMLType::Q4_K, 0.09},
      {GGMLType::Q3_K, 0.2},   {GGMLType::Q2_K, 0.4},   {GGMLType::F16, 0.0005},
      {GGMLType::BF16, 0.004}, {GGMLType::IQ4_NL, 0.11}, {GGMLType::IQ4_XS, 0.11},
      {GGMLType::TQ1_0, 0.85},  {GGMLType::TQ2_0, 0.85}};  // ternary: d = max|x|, most round to 0
  for (const auto& [t, b] : bound) {
    std::vector<uint8_t> q(row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
      num += (x[i] - y[i]) * (x[i] - y[i]);
      den += x[i] * x[i];
    }
    const double rel = std::sqrt(num / den);
    EXPECT_LT(rel, b) << type_name(t);
    EXPECT_GT(rel, 0.0) << type_name(t);
  }
}

// With importance weights the weighted error must not get worse (on average over rows).
TEST(FormatsQuantize, ImportanceReducesWeightedError) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::exponential_distribution<float> ed(1.0f);
  const int64_t n = 2048, rows = 16;
  std::vector<float> imp(n);
  for (auto& v : imp) v = std::pow(ed(rng), 3.0f);  // heavy-tailed importance
  for (GGMLType t : {GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K,
                     GGMLType::Q6_K, GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0,
                     GGMLType::Q5_1, GGMLType::IQ4_NL, GGMLType::IQ4_XS}) {
    ASSERT_TRUE(uses_importance(t));
    double err_plain = 0, err_imp = 0;
    std::vector<float> x(n), y(n);
    std::vector<uint8_t> q(row_bytes(t, n));
    for (int r = 0; r < rows; ++r) {
      for (auto& v : x) v = nd(rng);
      for (int pass = 0; pass < 2; ++pass) {
        quantize_row(t, x.data(), q.data(), n, pass ? imp.data() : nullptr);
        dequantize_row(t, q.data(), y.data(), n);
        double e = 0;
        for (int64_t i = 0; i < n; ++i) e += imp[i] * (x[i] - y[i]) * (x[i] - y[i]);
        (pass ? err_imp : err_plain) += e;
      }
    }
    EXPECT_LE(err_imp, err_plain) << type_name(t);
  }
  EXPECT_FALSE(uses_importance(GGMLType::Q8_0));
  EXPECT_FALSE(uses_importance(GGMLType::TQ1_0));
  EXPECT_FALSE(uses_importance(GGMLType::TQ2_0));
  EXPECT_FALSE(uses_importance(GGMLType::F16));
}

// IQ4_NL / IQ4_XS edge blocks: zeros decode to zeros, a block's largest value is kept to F16
// precision (it lands on an end level of the table), huge and tiny magnitudes stay finite.
TEST(FormatsQuantize, Iq4EdgeBlocks) {
  for (GGMLType t : {GGMLType::IQ4_NL, GGMLType::IQ4_XS}) {
    const int64_t n = 512;
    std::vector<float> x(n, 0.0f), y(n, 1.0f);
    std::vector<uint8_t> q(row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    for (float v : y) EXPECT_EQ(v, 0.0f) << type_name(t);
    x[5] = -3.0f;  // alone in its block
    x[300] = 1e4f;
    for (int64_t i = 301; i < 330; ++i) x[i] = 1e-3f * static_cast<float>(i % 7);
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    EXPECT_NEAR(y[5], -3.0f, 3.0f * 1e-3f) << type_name(t);
    EXPECT_NEAR(y[300], 1e4f, 1e4f * 2e-3f) << type_name(t);
    for (int64_t i = 0; i < n; ++i) EXPECT_TRUE(std::isfinite(y[i])) << type_name(t) << " " << i;
    if (t == GGMLType::IQ4_NL)
      for (int64_t i = 32; i < 256; ++i) EXPECT_EQ(y[i], 0.0f) << i;  // its own all-zero blocks
  }
}

// TQ1_0 / TQ2_0: values already on a ternary grid (times the block's largest magnitude) come back
// exactly up to the F16 scale; zero blocks decode to zeros; every value is -d, 0 or d.
TEST(FormatsQuantize, TernaryBlocks) {
  for (GGMLType t : {GGMLType::TQ1_0, GGMLType::TQ2_0}) {
    const int64_t n = 512;
    std::vector<float> x(n), y(n, 1.0f);
    for (int64_t i = 0; i < 256; ++i) x[i] = 0.5f * static_cast<float>(static_cast<int>(i * 7 % 3) - 1);
    for (int64_t i = 256; i < n; ++i) x[i] = 0.0f;
    std::vector<uint8_t> q(row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], x[i]) << type_name(t) << " " << i;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(rng) * 1e3f;
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    for (int64_t b = 0; b < n / 256; ++b) {
      float amax = 0;
      for (int64_t i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[b * 256 + i]));
      const float d = fp16_to_fp32(fp32_to_fp16(amax));
      for (int64_t i = 0; i < 256; ++i) {
        const float v = y[b * 256 + i];
        EXPECT_TRUE(v == 0.0f || v == d || v == -d) << type_name(t) << " " << v;
      }
    }
  }
}

TEST(FormatsQuantize, RejectsBadInput) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> q(1024);
  EXPECT_THROW(quantize_row(GGMLType::Q4_K, x.data(), q.data(), 300), std::exception);
  EXPECT_FALSE(can_quantize(GGMLType::IQ2_XXS));
  EXPECT_THROW(quantize_row(GGMLType::IQ2_XXS, x.data(), q.data(), 256), std::exception);
}

}  // namespace
}  // namespace squish
