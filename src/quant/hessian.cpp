// Input second moments of every block linear, accumulated through Session's linear observer.
#include "squish/quant/hessian.h"

#include <cmath>
#include <set>

#include "squish/kernels/gemm.h"
#include "squish/model/model.h"

namespace squish {

std::string HessianSet::input_key(const std::string& tensor) {
  if (tensor.rfind("blk.", 0) != 0) return "";
  const size_t dot = tensor.find('.', 4);
  if (dot == std::string::npos) return "";
  const std::string layer = tensor.substr(0, dot);
  std::string kind = tensor.substr(dot + 1);
  if (kind.size() > 7 && kind.compare(kind.size() - 7, 7, ".weight") == 0) kind.resize(kind.size() - 7);
  if (kind == "attn_q" || kind == "attn_k" || kind == "attn_v") return layer + ".attn_q";
  if (kind == "ffn_gate" || kind == "ffn_up") return layer + ".ffn_gate";
  if (kind == "attn_output" || kind == "ffn_down") return layer + "." + kind;
  return "";
}

void HessianSet::collect(const std::shared_ptr<const Model>& model,
                         const std::vector<std::vector<int32_t>>& samples,
                         const std::function<void(int64_t, int64_t)>& on_sample) {
  std::vector<float> xt, prod;
  std::set<std::string> seen;  // inputs already reported for the current sample
  int64_t sample_len = 1;
  auto observe = [&](const LinearInput& in) {
    const std::string key = input_key(in.tensor);
    // Shared inputs are reported once per reading tensor: take them from the first reader only.
    if (key.empty() || key + ".weight" != in.tensor) return;
    Entry& e = entries_[key];
    // The first position of each sample is an attention sink in most models: nearly every later
    // query attends to it, so errors on its (unusual, massive-activation) input direction reach
    // every token. Weighting it as much as the rest of the sample together keeps GPTQ from
    // pushing rounding error into that direction.
    const bool first = seen.insert(key).second;
    const int64_t n = in.n_cols, t = in.n_tokens;
    const float sink_scale = first ? std::sqrt(static_cast<float>(sample_len)) : 1.0f;
    const float* data = in.data;
    if (e.h.empty()) {
      e.n = n;
      e.h.assign(static_cast<size_t>(n * n), 0.0);
    }
    xt.resize(static_cast<size_t>(n * t));
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < n; ++j) xt[j * t + i] = data[i * n + j] * (i == 0 ? sink_scale : 1.0f);
    prod.resize(static_cast<size_t>(n * n));
    kernels::matmul(n, n, t, xt.data(), xt.data(), prod.data());  // Xᵀ·X
    for (size_t k = 0; k < prod.size(); ++k) e.h[k] += prod[k];
    e.tokens += t;
  };
  for (size_t s = 0; s < samples.size(); ++s) {
    seen.clear();
    sample_len = static_cast<int64_t>(samples[s].size());
    Session session(model, static_cast<int64_t>(samples[s].size()));
    session.set_observer(observe);
    session.eval(samples[s], false);
    if (on_sample) on_sample(static_cast<int64_t>(s + 1), static_cast<int64_t>(samples.size()));
  }
}

const std::vector<double>* HessianSet::find(const std::string& tensor, int64_t* n, int64_t* tokens) const {
  auto it = entries_.find(input_key(tensor));
  if (it == entries_.end()) return nullptr;
  if (n) *n = it->second.n;
  if (tokens) *tokens = it->second.tokens;
  return &it->second.h;
}

}  // namespace squish
