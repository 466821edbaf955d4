// Token sampling: greedy, top-k, top-p, temperature, seeded draws.
#include "squish/model/sampler.h"

#include <algorithm>
#include <cmath>

#include "squish/common/error.h"

namespace squish {

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) {
  if (!(params_.top_p > 0.f && params_.top_p <= 1.f))
    throw Error("", "top-p must be in (0, 1], got " + std::to_string(params_.top_p));
  if (params_.top_k < 0) throw Error("", "top-k must be >= 0, got " + std::to_string(params_.top_k));
  if (!std::isfinite(params_.temperature))
    throw Error("", "temperature must be finite");
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw Error("", "no logits to sample from");
  if (params_.temperature <= 0.f) return argmax(logits);
  const size_t n = logits.size();
  cand_.resize(n);
  for (size_t i = 0; i < n; ++i) cand_[i] = {logits[i], static_cast<int32_t>(i)};
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = n;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + keep, cand_.end(), by_logit);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(keep);
  if (params_.top_p < 1.f) {
    const float mx = cand_[0].first;
    double total = 0.0;
    for (const auto& c : cand_) total += std::exp(static_cast<double>(c.first - mx));
    double cum = 0.0;
    size_t i = 0;
    for (; i < cand_.size(); ++i) {
      cum += std::exp(static_cast<double>(cand_[i].first - mx)) / total;
      if (cum >= params_.top_p) break;
    }
    cand_.resize(std::min(cand_.size(), i + 1));
  }
  const double mx = cand_[0].first;
  std::vector<double> w(cand_.size());
  double total = 0.0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    w[i] = std::exp((cand_[i].first - mx) / params_.temperature);
    total += w[i];
  }
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  for (size_t i = 0; i < cand_.size(); ++i) {
    r -= w[i];
    if (r < 0.0) return cand_[i].second;
  }
  return cand_.back().second;
}

}  // namespace squish
