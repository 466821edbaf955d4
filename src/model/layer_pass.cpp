// LayerPass: decoder_layer() over one sequence with a private cache and scratch.
#include "squish/model/layer_pass.h"

#include <algorithm>
#include <cmath>
#include <vector>
#include <stdexcept>

#include "forward.h"
#include "squish/model/kv_cache.h"

namespace squish {

namespace {
// The config of a one-layer cache (a layer pass keeps only the current layer's keys and values).
ModelConfig one_layer(ModelConfig c) {
  c.n_layer = 1;
  return c;
}
}  // namespace

LayerPass::LayerPass(const ModelConfig& config, int64_t max_len)
    : config_(config), max_len_(max_len),
      cache_(std::make_unique<KVCache>(one_layer(config), max_len, KVCacheType::F32)),
      scratch_(std::make_unique<SessionScratch>(config, std::string("output.weight"))) {}

LayerPass::~LayerPass() = default;

void LayerPass::embed(const Weight& token_embd, std::span<const int32_t> tokens, float* x) {
  embed_tokens(config_, token_embd, tokens, x);
}

void LayerPass::run(const LayerWeights& L, int64_t il, float* x, int64_t n,
                    const LinearObserver* observer) {
  if (n > max_len_) throw std::invalid_argument("LayerPass: sequence longer than its capacity");
  SessionScratch& S = *scratch_;
  S.reserve(n);
  const int64_t E = config_.n_embd;
  std::copy_n(x, n * E, S.x.data());
  const SequenceRows seq{cache_.get(), max_len_, 0, n, 0, 0};
  decoder_layer(config_, L, il, S, observer, n, std::span<const SequenceRows>(&seq, 1));
  std::copy_n(S.x.data(), n * E, x);
}

void LayerPass::kv_absmax(int64_t n, float* k_absmax, float* v_absmax) const {
  float km = 0, vm = 0;
  std::vector<float> buf;
  for (int64_t g = 0; g < config_.n_head_kv; ++g) {
    const float* k = cache_->keys(0, g, 0, n, buf);
    for (int64_t i = 0; i < n * config_.head_dim_k; ++i) km = std::max(km, std::fabs(k[i]));
    int64_t ld = 0;
    const float* vt = cache_->values_t(0, g, 0, n, buf, &ld);
    for (int64_t d = 0; d < config_.head_dim_v; ++d)
      for (int64_t j = 0; j < n; ++j) vm = std::max(vm, std::fabs(vt[d * ld + j]));
  }
  *k_absmax = km, *v_absmax = vm;
}

}  // namespace squish
