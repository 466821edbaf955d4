// KV cache element types: what attention reads back equals what was stored, within each type's
// rounding bound; values come back transposed; the bytes match the layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "squish/common/error.h"
#include "squish/model/config.h"
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

}  // namespace
