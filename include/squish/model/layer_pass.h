// One decoder layer at a time over one sequence: what layer-by-layer calibration needs (run a
// layer on activations that the previous, already quantized layers produced).
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "squish/arch/config.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish {

class KVCache;
class SessionScratch;

// Runs single decoder layers over sequences of up to max_len tokens (positions 0 .. n-1).
class LayerPass {
 public:
  LayerPass(const ModelConfig& config, int64_t max_len);
  ~LayerPass();
  // The residual stream of `tokens` after the embedding: x[n × n_embd].
  void embed(const Weight& token_embd, std::span<const int32_t> tokens, float* x);
  // Layer il with weights L over x[n × n_embd] (updated in place). observer (may be null) sees
  // each linear's input as Session's observer does.
  void run(const LayerWeights& L, int64_t il, float* x, int64_t n, const LinearObserver* observer);

  // Largest |key| and |value| the last run() put in the cache (keys after RoPE and any key norm,
  // as attention reads them), over its n positions and every KV head.
  void kv_absmax(int64_t n, float* k_absmax, float* v_absmax) const;

 private:
  const ModelConfig& config_;
  int64_t max_len_;
  std::unique_ptr<KVCache> cache_;
  std::unique_ptr<SessionScratch> scratch_;
};

}  // namespace squish
