// KL-divergence statistics and the base logits file, checked against an independent numpy
// reference (tests/python/test_kld_stats.py) on random logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "squish/common/error.h"
#include "squish/eval/kld_stats.h"
#include "test_support.h"

namespace fs = std::filesystem;
using squish::BaseLogitsInfo;
using squish::BaseLogitsReader;
using squish::BaseLogitsWriter;
using squish::KldAccumulator;
using squish::KldStats;
using squish::LogitsEncoding;

namespace {

constexpr int kN = 1200;   // positions
constexpr int kV = 1500;   // vocabulary

struct RandomLogits {
  std::vector<float> base, quant;
  std::vector<int32_t> tokens;
};

// Base logits with varied sharpness; quantized = base + noise of varied size, so KLD, Δp and
// top-token agreement spread over a realistic range.
RandomLogits make_logits(uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  RandomLogits r;
  r.base.resize(size_t(kN) * kV);
  r.quant.resize(size_t(kN) * kV);
  r.tokens.resize(kN);
  for (int i = 0; i < kN; ++i) {
    const float sharp = 1.f + 6.f * u(rng);
    const float noise = 0.02f + 0.8f * u(rng) * u(rng);
    float* b = &r.base[size_t(i) * kV];
    float* q = &r.quant[size_t(i) * kV];
    for (int k = 0; k < kV; ++k) {
      b[k] = sharp * g(rng);
      q[k] = b[k] + noise * g(rng);
    }
    // the "text's next token": often the base favourite, sometimes a random one
    int top = 0;
    for (int k = 1; k < kV; ++k) if (b[k] > b[top]) top = k;
    r.tokens[i] = u(rng) < 0.6f ? top : int32_t(rng() % kV);
  }
  return r;
}

void write_raw(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), std::streamsize(n));
}

void write_base_file(const std::string& path, const RandomLogits& r, LogitsEncoding enc) {
  BaseLogitsInfo info;
  info.encoding = enc;
  info.n_vocab = kV;
  info.n_ctx = 512;
  info.n_positions = kN;
  info.tokens = {1, 2, 3, 4, 5};
  info.meta = R"({"model":"random"})";
  BaseLogitsWriter w(path, info, false);
  for (int i = 0; i < kN; ++i) w.add(&r.base[size_t(i) * kV], r.tokens[i]);
  w.commit();
}

KldStats stats_from_file(const std::string& path, const RandomLogits& r) {
  BaseLogitsReader rd(path);
  KldAccumulator acc;
  std::vector<double> lp(kV);
  for (int i = 0; i < kN; ++i) {
    const int32_t tok = rd.log_probs(i, lp.data());
    EXPECT_EQ(tok, r.tokens[i]);
    acc.add(squish::compare_position(lp.data(), &r.quant[size_t(i) * kV], kV, tok));
  }
  return acc.finish();
}

// Compares every number in `got` with `want` (same JSON shape).
void expect_json_near(const nlohmann::json& got, const nlohmann::json& want, const std::string& at,
                      double rel) {
  if (want.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      ASSERT_TRUE(got.contains(it.key())) << at << "." << it.key();
      expect_json_near(got[it.key()], it.value(), at + "." + it.key(), rel);
    }
    EXPECT_EQ(got.size(), want.size()) << at;
    return;
  }
  const double g = got.get<double>(), w = want.get<double>();
  EXPECT_NEAR(g, w, rel * std::max(1.0, std::fabs(w))) << at;
}

std::string python() { return squish::test::python_exe(); }

}  // namespace

TEST(KldStats, EveryStatisticMatchesNumpyReference) {
  const std::string dir = squish::test::temp_dir();
  const RandomLogits r = make_logits(1234);
  write_raw(dir + "/base.f32", r.base.data(), r.base.size() * 4);
  write_raw(dir + "/quant.f32", r.quant.data(), r.quant.size() * 4);
  write_raw(dir + "/tokens.i32", r.tokens.data(), r.tokens.size() * 4);
  write_base_file(dir + "/base_f32.sqlogits", r, LogitsEncoding::F32);
  write_base_file(dir + "/base_u16.sqlogits", r, LogitsEncoding::U16);

  const auto res = squish::test::run_shell(python() + " " + squish::test::source_dir() +
                                           "/tests/python/test_kld_stats.py " + dir);
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const auto ref = nlohmann::json::parse(squish::test::read_file(dir + "/reference.json"));

  KldAccumulator exact;
  for (int i = 0; i < kN; ++i)
    exact.add(squish::compare_logits(&r.base[size_t(i) * kV], &r.quant[size_t(i) * kV], kV,
                                     r.tokens[i]));
  const KldStats s = exact.finish();
  expect_json_near(s.to_json(), ref["exact"], "exact", 1e-9);
  expect_json_near(stats_from_file(dir + "/base_f32.sqlogits", r).to_json(), ref["f32"], "f32", 1e-9);
  const KldStats u16 = stats_from_file(dir + "/base_u16.sqlogits", r);
  expect_json_near(u16.to_json(), ref["u16"], "u16", 1e-9);

  // The data really spreads: statistics are not degenerate.
  EXPECT_GT(s.kld_mean.value, 1e-3);
  EXPECT_GT(s.kld.p99, 2 * s.kld.median);
  EXPECT_GT(s.same_top.value, 0.3);
  EXPECT_LT(s.same_top.value, 0.99);
  EXPECT_GT(s.kld_mean.error, 0);
  // The compact U16 encoding costs almost nothing against exact base log-probs.
  EXPECT_NEAR(u16.kld_mean.value, s.kld_mean.value, 1e-5);
  EXPECT_NEAR(u16.kld.p99, s.kld.p99, 1e-4);
  EXPECT_NEAR(u16.p_diff_rms.value, s.p_diff_rms.value, 1e-5);
  EXPECT_NEAR(u16.ppl_base.value, s.ppl_base.value, 1e-4 * s.ppl_base.value);
}

TEST(KldStats, IdenticalModelsGiveZeroDivergence) {
  const RandomLogits r = make_logits(7);
  KldAccumulator acc;
  for (int i = 0; i < 200; ++i)
    acc.add(squish::compare_logits(&r.base[size_t(i) * kV], &r.base[size_t(i) * kV], kV, r.tokens[i]));
  const KldStats s = acc.finish();
  EXPECT_NEAR(s.kld_mean.value, 0.0, 1e-12);
  EXPECT_NEAR(s.kld.max, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.same_top.value, 1.0);
  EXPECT_NEAR(s.ln_ppl_ratio.value, 0.0, 1e-12);
  EXPECT_NEAR(s.ppl_ratio.value, 1.0, 1e-12);
  EXPECT_NEAR(s.ln_ppl_correlation, 1.0, 1e-6);
}

TEST(KldStats, PercentileInterpolatesLikeLlamaCpp) {
  const std::vector<double> v = {0, 1, 4, 9, 16};
  EXPECT_DOUBLE_EQ(squish::percentile_sorted(v, 0.0), 0);
  EXPECT_DOUBLE_EQ(squish::percentile_sorted(v, 1.0), 16);
  EXPECT_DOUBLE_EQ(squish::percentile_sorted(v, 0.5), 4);
  EXPECT_DOUBLE_EQ(squish::percentile_sorted(v, 0.9), 0.4 * 9 + 0.6 * 16);  // at 3.6
}

TEST(BaseLogitsFile, RejectsBadInput) {
  const std::string dir = squish::test::temp_dir();
  const RandomLogits r = make_logits(99);
  const std::string good = dir + "/good.sqlogits";
  write_base_file(good, r, LogitsEncoding::U16);
  const std::string bytes = squish::test::read_file(good);
  auto variant = [&](const std::string& name, std::string b) {
    const std::string p = dir + "/" + name;
    write_raw(p, b.data(), b.size());
    return p;
  };
  auto expect_error = [&](const std::string& path, const std::string& what, bool on_read) {
    try {
      BaseLogitsReader rd(path);
      if (on_read) {
        std::vector<double> lp(kV);
        for (uint64_t i = 0; i < rd.info().n_positions; ++i) rd.log_probs(i, lp.data());
      }
      ADD_FAILURE() << "no error for " << path;
    } catch (const squish::Error& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error(variant("trunc", bytes.substr(0, bytes.size() - 7)), "truncated", false);
  expect_error(variant("short", bytes.substr(0, 20)), "too short", false);
  std::string b = bytes;
  b[0] = 'X';
  expect_error(variant("magic", b), "bad magic", false);
  b = bytes;
  b[19] = char(0x7f);  // n_vocab huge
  expect_error(variant("vocab", b), "vocabulary size", false);
  b = bytes;
  b[31] = char(0x40);  // n_positions absurd
  expect_error(variant("npos", b), "exceeds the file", false);
  b = bytes;
  const size_t rec0 = (48 + 18 + 20 + 7) / 8 * 8;  // meta is 18 bytes, 5 tokens
  b[rec0 + 3] = char(0x7f);  // token of record 0 out of range
  expect_error(variant("token", b), "outside the vocabulary", true);
  b = bytes;
  for (int k = 0; k < 64; ++k) b[rec0 + 16 + 2 * k + 1] = char(0xff);  // 64 log-probs ≈ top
  expect_error(variant("flip", b), "do not sum to 1", true);
  expect_error(dir + "/missing.sqlogits", "", false);
}

TEST(BaseLogitsFile, WriterIsAtomicAndChecksCount) {
  const std::string dir = squish::test::temp_dir();
  const RandomLogits r = make_logits(5);
  BaseLogitsInfo info;
  info.n_vocab = kV;
  info.n_positions = 3;
  const std::string path = dir + "/x.sqlogits";
  {
    BaseLogitsWriter w(path, info, false);
    w.add(&r.base[0], r.tokens[0]);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_THROW(w.commit(), squish::Error);  // 1 of 3
    EXPECT_THROW(w.add(&r.base[0], kV), squish::Error);  // token out of range
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir));  // no temporary left behind
  write_base_file(path, r, LogitsEncoding::F32);
  EXPECT_THROW(write_base_file(path, r, LogitsEncoding::F32), squish::Error);  // no overwrite
  BaseLogitsReader rd(path);
  EXPECT_EQ(rd.info().meta, R"({"model":"random"})");
  EXPECT_EQ(rd.info().tokens, (std::vector<int32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(rd.info().n_ctx, 512u);
}
