// The KV cache of a Session: per layer and KV head, one row per position for keys and for values,
// stored as KVCacheType. F32 keeps values transposed so attention reads them without conversion;
// the other types are converted to F32 for the positions an attention work item reads.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "squish/arch/config.h"
#include "squish/model/kv_cache_type.h"

namespace squish {

class ModelWeights;

class KVCache {
 public:
  KVCache(const ModelConfig& c, int64_t n_ctx, KVCacheType type);

  // Stores the key row k[head_dim_k] and value row v[head_dim_v] of KV head g, layer il, at `pos`.
  void store(int64_t il, int64_t g, int64_t pos, const float* k, const float* v);
  // Keys of positions [j0, j1) as F32 rows [(j1 - j0) x head_dim_k]: a pointer into the cache (F32)
  // or into buf.
  const float* keys(int64_t il, int64_t g, int64_t j0, int64_t j1, std::vector<float>& buf) const;
  // Values of positions [j0, j1) transposed, F32 [head_dim_v rows, row stride *ld]: into the cache
  // (F32) or into buf.
  const float* values_t(int64_t il, int64_t g, int64_t j0, int64_t j1, std::vector<float>& buf,
                        int64_t* ld) const;
  // FP8 only: from now on rows of layer il are stored with the fixed scales k[il] / v[il] (values
  // beyond ±448 · scale saturate) instead of their own absmax / 448, as vLLM runs a calibrated
  // kv_cache_scheme. Throws Error unless both hold one positive scale per layer.
  void set_static_scales(std::vector<float> k, std::vector<float> v);
  // Positions [0, n) of every layer and head copied from `from`, a cache of the same model, size
  // and type (throws Error otherwise).
  void copy_prefix(const KVCache& from, int64_t n);
  // Bytes held.
  size_t bytes() const { return k_.size() + v_.size(); }
  KVCacheType type() const { return type_; }

 private:
  uint8_t* k_row(int64_t il, int64_t g, int64_t pos);
  const uint8_t* k_row(int64_t il, int64_t g, int64_t pos) const;
  uint8_t* v_row(int64_t il, int64_t g, int64_t pos);
  const uint8_t* v_row(int64_t il, int64_t g, int64_t pos) const;

  KVCacheType type_;
  int64_t n_layer_, n_ctx_, n_kv_, hdk_, hdv_;
  size_t kb_, vb_;  // bytes per key / value row
  std::vector<uint8_t> k_, v_;
  std::vector<float> k_scale_, v_scale_;  // static FP8 scales per layer (empty: per row)
};

// The cache of a session over a model with `weights`: an FP8 one takes the model's static scales
// (ModelWeights::kv_k_scale / kv_v_scale, from a checkpoint's kv_cache_scheme) when it has them.
std::unique_ptr<KVCache> make_session_cache(const ModelConfig& c, const ModelWeights& weights, int64_t n_ctx,
                                            KVCacheType type);

}  // namespace squish
