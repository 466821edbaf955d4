// KV cache element types: what attention reads back equals what was stored, within each type's
// rounding bound; values come back transposed; the bytes match the layout.
#include <gtest/gtest.h>

#include "squish/formats/minifloat.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "squish/common/error.h"
#include "squish/arch/config.h"
#include "squish/model/kv_cache.h"

using squish::KVCache;
using squish::KVCacheType;

namespace {

squish::ModelConfig small_config() {
  squish::ModelConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim_k = 64;
  c.head_dim_v = 64;
  return c;
}

// Largest rounding error a type may make, relative to the absolute maximum of the row / block.
double bound(KVCacheType t) {
  switch (t) {
    case KVCacheType::F32: return 0;
    case KVCacheType::F16: return 1e-3;
    case KVCacheType::BF16: return 8e-3;
    case KVCacheType::FP8_E4M3: return 0.07;
    case KVCacheType::Int8: return 0.5 / 127 + 1e-3;
    case KVCacheType::Int4: return 0.5 / 7 + 0.02;
  }
  return 0;
}

class KVCacheTypes : public ::testing::TestWithParam<KVCacheType> {};

TEST_P(KVCacheTypes, ReadsBackWhatWasStored) {
  const KVCacheType t = GetParam();
  const auto c = small_config();
  const int64_t n_ctx = 40, hd = 64;
  KVCache cache(c, n_ctx, t);
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> k(static_cast<size_t>(n_ctx * hd)), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) k[i] = d(rng) * (1 + i % 7), v[i] = d(rng) * 0.1f;
  for (int64_t p = 0; p < n_ctx; ++p) cache.store(1, 1, p, k.data() + p * hd, v.data() + p * hd);
  const double amax_k = std::fabs(*std::max_element(k.begin(), k.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }));
  const double amax_v = std::fabs(*std::max_element(v.begin(), v.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }));
  std::vector<float> kb, vb;
  const int64_t j0 = 3, j1 = 29;
  const float* keys = cache.keys(1, 1, j0, j1, kb);
  int64_t ld = 0;
  const float* vt = cache.values_t(1, 1, j0, j1, vb, &ld);
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t i = 0; i < hd; ++i) {
      const float kw = k[static_cast<size_t>(j * hd + i)], vw = v[static_cast<size_t>(j * hd + i)];
      ASSERT_NEAR(keys[(j - j0) * hd + i], kw, bound(t) * amax_k + 1e-7) << j << "," << i;
      ASSERT_NEAR(vt[i * ld + (j - j0)], vw, bound(t) * amax_v + 1e-7) << j << "," << i;
    }
  const size_t per_row = squish::kv_row_bytes(t, hd);
  EXPECT_EQ(cache.bytes(), 2 * per_row * static_cast<size_t>(c.n_layer * c.n_head_kv * n_ctx));
}

INSTANTIATE_TEST_SUITE_P(All, KVCacheTypes,
                         ::testing::Values(KVCacheType::F32, KVCacheType::F16, KVCacheType::BF16,
                                           KVCacheType::FP8_E4M3, KVCacheType::Int8, KVCacheType::Int4),
                         [](const auto& info) { return squish::kv_cache_type_name(info.param); });

TEST(KVCacheType, QuantizedTypesHalveF16AndNamesParse) {
  const double f16 = static_cast<double>(squish::kv_row_bytes(KVCacheType::F16, 256));
  EXPECT_LT(squish::kv_row_bytes(KVCacheType::Int8, 256) / f16, 0.54);
  EXPECT_LT(squish::kv_row_bytes(KVCacheType::FP8_E4M3, 256) / f16, 0.51);
  EXPECT_LT(squish::kv_row_bytes(KVCacheType::Int4, 256) / f16, 0.29);
  for (const auto& n : squish::kv_cache_type_names())
    EXPECT_EQ(squish::kv_cache_type_name(squish::parse_kv_cache_type(n)), n);
  EXPECT_EQ(squish::parse_kv_cache_type("Q8_0"), KVCacheType::Int8);
  EXPECT_THROW(squish::parse_kv_cache_type("int3"), squish::Error);
  auto c = small_config();
  c.head_dim_k = c.head_dim_v = 48;  // not a multiple of the 32-element blocks
  EXPECT_THROW(KVCache(c, 8, KVCacheType::Int4), squish::Error);
  EXPECT_NO_THROW(KVCache(c, 8, KVCacheType::FP8_E4M3));
}

TEST(KVCache, StaticFp8ScalesFixTheGridAndSaturate) {
  const auto c = small_config();
  const int64_t hd = c.head_dim_k;
  KVCache cache(c, 4, KVCacheType::FP8_E4M3);
  std::vector<float> ks(static_cast<size_t>(c.n_layer), 0.01f), vs(static_cast<size_t>(c.n_layer), 0.02f);
  EXPECT_THROW(KVCache(c, 4, KVCacheType::F16).set_static_scales(ks, vs), squish::Error);
  EXPECT_THROW(cache.set_static_scales({0.01f}, vs), squish::Error);  // one per layer
  cache.set_static_scales(ks, vs);
  std::vector<float> k(static_cast<size_t>(hd)), v(static_cast<size_t>(c.head_dim_v));
  for (int64_t i = 0; i < hd; ++i) k[i] = 0.001f * static_cast<float>(i) - 0.01f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.05f * static_cast<float>(i);
  k[3] = 100.0f;  // far beyond 448 · 0.01: saturates instead of rescaling the row
  cache.store(1, 0, 2, k.data(), v.data());
  std::vector<float> buf, vb;
  const float* got = cache.keys(1, 0, 2, 3, buf);
  EXPECT_FLOAT_EQ(got[3], 448.0f * 0.01f);
  for (int64_t i = 0; i < hd; ++i) {
    if (i == 3) continue;
    // On the fixed grid: value / 0.01 is an E4M3 value, within E4M3's 2^-3 relative step.
    EXPECT_EQ(squish::fp32_to_e4m3(got[i] / 0.01f), squish::fp32_to_e4m3(k[i] / 0.01f)) << i;
    EXPECT_NEAR(got[i], k[i], std::fabs(k[i]) / 16 + 0.01f * 0.002f) << i;
  }
  int64_t ld = 0;
  const float* vt = cache.values_t(1, 0, 2, 3, vb, &ld);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(vt[i * ld], std::min(v[i], 448.0f * 0.02f), v[i] / 16 + 1e-6f) << i;
}

}  // namespace
