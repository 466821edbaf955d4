// KV cache storage and the row codecs of each KVCacheType.
#include "squish/model/kv_cache.h"
#include "squish/model/weights.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "squish/common/error.h"
#include "squish/formats/ggml_type.h"
#include "squish/formats/half.h"
#include "squish/formats/minifloat.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/dequant_fast.h"

namespace squish {

namespace {

constexpr float kE4M3Max = 448.f;

struct Named {
  KVCacheType type;
  const char* name;
};
constexpr std::array<Named, 9> kNames = {{{KVCacheType::F32, "f32"},
                                          {KVCacheType::F16, "f16"},
                                          {KVCacheType::BF16, "bf16"},
                                          {KVCacheType::FP8_E4M3, "fp8"},
                                          {KVCacheType::Int8, "int8"},
                                          {KVCacheType::Int4, "int4"},
                                          {KVCacheType::FP8_E4M3, "fp8_e4m3"},
                                          {KVCacheType::Int8, "q8_0"},
                                          {KVCacheType::Int4, "q4_0"}}};

// The GGUF block type a cache row is stored as (F32 for FP8, which has its own codec).
GGMLType row_type(KVCacheType t) {
  switch (t) {
    case KVCacheType::F16: return GGMLType::F16;
    case KVCacheType::BF16: return GGMLType::BF16;
    case KVCacheType::Int8: return GGMLType::Q8_0;
    case KVCacheType::Int4: return GGMLType::Q4_0;
    default: return GGMLType::F32;
  }
}

const std::array<float, 256>& e4m3_table() {
  static const auto t = [] {
    std::array<float, 256> a{};
    for (int i = 0; i < 256; ++i) a[i] = e4m3_to_fp32(static_cast<uint8_t>(i));
    return a;
  }();
  return t;
}

// Encodes one row of n floats into dst (kv_row_bytes(t, n) bytes); FP8 with static_scale > 0 uses
// it instead of the row's absmax / 448.
void encode_row(KVCacheType t, const float* x, int64_t n, uint8_t* dst, float static_scale = 0.f) {
  if (t == KVCacheType::F32) {
    std::memcpy(dst, x, sizeof(float) * n);
  } else if (t == KVCacheType::FP8_E4M3) {
    float amax = 0.f;
    for (int64_t i = 0; i < n && static_scale <= 0.f; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float scale = static_scale > 0.f ? static_scale : amax > 0.f ? amax / kE4M3Max : 1.f;
    std::memcpy(dst, &scale, sizeof scale);
    for (int64_t i = 0; i < n; ++i) dst[sizeof scale + i] = fp32_to_e4m3(x[i] / scale);
  } else if (t == KVCacheType::F16) {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = fp32_to_fp16(x[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  } else if (t == KVCacheType::BF16) {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = fp32_to_bf16(x[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  } else {
    quantize_row(row_type(t), x, dst, n);
  }
}

// Decodes one row of n elements into y.
void decode_row(KVCacheType t, const uint8_t* src, int64_t n, float* y) {
  if (t == KVCacheType::F32) {
    std::memcpy(y, src, sizeof(float) * n);
  } else if (t == KVCacheType::FP8_E4M3) {
    float scale;
    std::memcpy(&scale, src, sizeof scale);
    const auto& tab = e4m3_table();
    for (int64_t i = 0; i < n; ++i) y[i] = tab[src[sizeof scale + i]] * scale;
  } else {
    kernels::dequantize_row_fast(row_type(t), src, y, n);
  }
}

}  // namespace

std::string kv_cache_type_name(KVCacheType t) {
  for (const Named& n : kNames)
    if (n.type == t) return n.name;
  return "?";
}

std::vector<std::string> kv_cache_type_names() {
  std::vector<std::string> v;
  for (size_t i = 0; i < 6; ++i) v.push_back(kNames[i].name);
  return v;
}

KVCacheType parse_kv_cache_type(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const Named& n : kNames)
    if (lower == n.name) return n.type;
  std::string valid;
  for (const auto& v : kv_cache_type_names()) valid += (valid.empty() ? "" : ", ") + v;
  throw Error("--kv-cache-dtype " + name, "unknown KV cache type (valid: " + valid + ")");
}

size_t kv_row_bytes(KVCacheType t, int64_t n) {
  if (t == KVCacheType::FP8_E4M3) return sizeof(float) + static_cast<size_t>(n);
  if (t == KVCacheType::F32) return sizeof(float) * static_cast<size_t>(n);
  return row_bytes(row_type(t), n);
}

KVCache::KVCache(const ModelConfig& c, int64_t n_ctx, KVCacheType type)
    : type_(type), n_layer_(c.n_layer), n_ctx_(n_ctx), n_kv_(c.n_head_kv), hdk_(c.head_dim_k), hdv_(c.head_dim_v) {
  if ((type == KVCacheType::Int8 || type == KVCacheType::Int4) && (hdk_ % 32 != 0 || hdv_ % 32 != 0))
    throw Error("--kv-cache-dtype " + kv_cache_type_name(type),
                "needs head dimensions that are multiples of 32 (this model has " +
                    std::to_string(hdk_) + " / " + std::to_string(hdv_) + ")");
  kb_ = kv_row_bytes(type, hdk_);
  vb_ = kv_row_bytes(type, hdv_);
  const size_t rows = static_cast<size_t>(n_layer_ * n_kv_ * n_ctx);
  k_.resize(rows * kb_);
  v_.resize(rows * vb_);
}

uint8_t* KVCache::k_row(int64_t il, int64_t g, int64_t pos) {
  return k_.data() + static_cast<size_t>((il * n_kv_ + g) * n_ctx_ + pos) * kb_;
}
const uint8_t* KVCache::k_row(int64_t il, int64_t g, int64_t pos) const {
  return k_.data() + static_cast<size_t>((il * n_kv_ + g) * n_ctx_ + pos) * kb_;
}
uint8_t* KVCache::v_row(int64_t il, int64_t g, int64_t pos) {
  return v_.data() + static_cast<size_t>((il * n_kv_ + g) * n_ctx_ + pos) * vb_;
}
const uint8_t* KVCache::v_row(int64_t il, int64_t g, int64_t pos) const {
  return v_.data() + static_cast<size_t>((il * n_kv_ + g) * n_ctx_ + pos) * vb_;
}

void KVCache::set_static_scales(std::vector<float> k, std::vector<float> v) {
  const auto n_layer = static_cast<size_t>(n_layer_);
  if (type_ != KVCacheType::FP8_E4M3) throw Error("--kv-cache-dtype " + kv_cache_type_name(type_), "static scales are for an FP8 cache");
  bool ok = k.size() == n_layer && v.size() == n_layer;
  for (size_t i = 0; ok && i < n_layer; ++i) ok = k[i] > 0.f && v[i] > 0.f && std::isfinite(k[i]) && std::isfinite(v[i]);
  if (!ok) throw Error("--kv-cache-dtype fp8", "static KV-cache scales need one positive scale per layer");
  k_scale_ = std::move(k), v_scale_ = std::move(v);
}

void KVCache::store(int64_t il, int64_t g, int64_t pos, const float* k, const float* v) {
  const bool fixed = !k_scale_.empty();
  encode_row(type_, k, hdk_, k_row(il, g, pos), fixed ? k_scale_[static_cast<size_t>(il)] : 0.f);
  if (type_ == KVCacheType::F32) {  // transposed: row d holds dimension d of every position
    auto* vt = reinterpret_cast<float*>(v_.data()) + (il * n_kv_ + g) * hdv_ * n_ctx_;
    for (int64_t d = 0; d < hdv_; ++d) vt[d * n_ctx_ + pos] = v[d];
  } else {
    encode_row(type_, v, hdv_, v_row(il, g, pos), fixed ? v_scale_[static_cast<size_t>(il)] : 0.f);
  }
}

void KVCache::copy_prefix(const KVCache& from, int64_t n) {
  if (from.type_ != type_ || from.n_layer_ != n_layer_ || from.n_ctx_ != n_ctx_ || from.n_kv_ != n_kv_ ||
      from.hdk_ != hdk_ || from.hdv_ != hdv_ || n < 0 || n > n_ctx_)
    throw Error("KV cache", "cannot copy " + std::to_string(n) + " positions between caches of different shapes");
  for (int64_t il = 0; il < n_layer_; ++il)
    for (int64_t g = 0; g < n_kv_; ++g) {
      std::memcpy(k_row(il, g, 0), from.k_row(il, g, 0), static_cast<size_t>(n) * kb_);
      if (type_ != KVCacheType::F32) {
        std::memcpy(v_row(il, g, 0), from.v_row(il, g, 0), static_cast<size_t>(n) * vb_);
        continue;
      }
      const size_t head = static_cast<size_t>((il * n_kv_ + g) * hdv_ * n_ctx_);  // transposed values
      const auto* src = reinterpret_cast<const float*>(from.v_.data()) + head;
      auto* dst = reinterpret_cast<float*>(v_.data()) + head;
      for (int64_t d = 0; d < hdv_; ++d) std::memcpy(dst + d * n_ctx_, src + d * n_ctx_, static_cast<size_t>(n) * sizeof(float));
    }
}

const float* KVCache::keys(int64_t il, int64_t g, int64_t j0, int64_t j1, std::vector<float>& buf) const {
  if (type_ == KVCacheType::F32) return reinterpret_cast<const float*>(k_row(il, g, j0));
  buf.resize(static_cast<size_t>((j1 - j0) * hdk_));
  for (int64_t j = j0; j < j1; ++j) decode_row(type_, k_row(il, g, j), hdk_, buf.data() + (j - j0) * hdk_);
  return buf.data();
}

const float* KVCache::values_t(int64_t il, int64_t g, int64_t j0, int64_t j1, std::vector<float>& buf,
                               int64_t* ld) const {
  if (type_ == KVCacheType::F32) {
    *ld = n_ctx_;
    return reinterpret_cast<const float*>(v_.data()) + (il * n_kv_ + g) * hdv_ * n_ctx_ + j0;
  }
  const int64_t nk = j1 - j0;
  buf.resize(static_cast<size_t>(nk * hdv_ + hdv_));
  float* row = buf.data() + nk * hdv_;  // one decoded row, then scattered into the columns
  for (int64_t j = 0; j < nk; ++j) {
    decode_row(type_, v_row(il, g, j0 + j), hdv_, row);
    for (int64_t d = 0; d < hdv_; ++d) buf[static_cast<size_t>(d * nk + j)] = row[d];
  }
  *ld = nk;
  return buf.data();
}

std::unique_ptr<KVCache> make_session_cache(const ModelConfig& c, const ModelWeights& weights, int64_t n_ctx,
                                            KVCacheType type) {
  auto cache = std::make_unique<KVCache>(c, n_ctx, type);
  if (type == KVCacheType::FP8_E4M3 && !weights.kv_k_scale.empty())
    cache->set_static_scales(weights.kv_k_scale, weights.kv_v_scale);
  return cache;
}

}  // namespace squish
