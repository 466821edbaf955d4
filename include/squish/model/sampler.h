// Token sampling from logits: greedy, temperature, top-k, top-p, seeded.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace squish {

// Sampling settings. temperature <= 0 means greedy (argmax; ties to the lowest id).
struct SamplerParams {
  float temperature = 0.f;
  int32_t top_k = 0;     // keep the k most likely tokens (0: all)
  float top_p = 1.f;     // keep the smallest set whose probability reaches p (1: all)
  uint64_t seed = 0;
};

// Picks the next token. Order as llama.cpp's default chain: top-k, top-p (on the untempered
// distribution), then temperature and a draw from the renormalised distribution.
class Sampler {
 public:
  explicit Sampler(SamplerParams params);
  // Samples one token id from logits [n_vocab].
  int32_t sample(std::span<const float> logits);
  const SamplerParams& params() const { return params_; }

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

// Index of the largest logit (lowest index on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace squish
