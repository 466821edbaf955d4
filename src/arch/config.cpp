// ModelConfig: architecture names (from the registry), derived attention/RoPE values and the sanity check.
#include "squish/arch/config.h"

#include <cmath>
#include <string>

#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace squish {

const char* arch_name(Arch a) {
  for (const ArchSpec* s : all_archs())
    if (s->arch == a) return s->name;
  return "?";
}

float ModelConfig::kq_scale() const {
  if (attention_scale > 0.f) return attention_scale;
  return 1.f / std::sqrt(static_cast<float>(head_dim_k));
}

float ModelConfig::layer_rope_base(int64_t il) const {
  return is_swa(il) ? rope_freq_base_local : rope_freq_base;
}

float ModelConfig::layer_rope_scale(int64_t il) const {
  return is_swa(il) ? 1.f : rope_freq_scale;  // llama.cpp: rope_freq_scale_train_swa = 1
}

void ModelConfig::validate(const std::string& file) const {
  auto in_range = [&](int64_t v, int64_t lo, int64_t hi, const char* what) {
    if (v < lo || v > hi)
      throw Error(file, std::string(what) + " = " + std::to_string(v) + " is out of range [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  in_range(n_vocab, 1, int64_t{1} << 24, "vocabulary size");
  in_range(n_embd, 1, int64_t{1} << 17, "embedding length");
  in_range(n_layer, 1, kMaxLayers, "block count");
  in_range(n_ff, 1, int64_t{1} << 20, "feed-forward length");
  in_range(n_head, 1, 4096, "head count");
  in_range(n_head_kv, 1, n_head, "head_count_kv");
  if (n_head % n_head_kv != 0)
    throw Error(file, "head count " + std::to_string(n_head) + " is not a multiple of head_count_kv " +
                          std::to_string(n_head_kv));
  in_range(head_dim_k, 1, 8192, "key_length");
  in_range(head_dim_v, 1, 8192, "value_length");
  in_range(n_rot, 0, head_dim_k, "rope dimension count");
  if (n_rot % 2 != 0) throw Error(file, "rope dimension count " + std::to_string(n_rot) + " is odd");
  in_range(sliding_window, 0, int64_t{1} << 31, "sliding window");
  if (!(rms_eps > 0.f && rms_eps < 1.f)) throw Error(file, "bad rms epsilon " + std::to_string(rms_eps));
  if (!(rope_freq_base > 0.f) || !(rope_freq_base_local > 0.f) || !(rope_freq_scale > 0.f))
    throw Error(file, "bad rope frequency base/scale");
  if (!rope_freq_factors.empty()) {
    if (static_cast<int64_t>(rope_freq_factors.size()) != n_rot / 2)
      throw Error(file, "rope_freqs has " + std::to_string(rope_freq_factors.size()) + " factors for " +
                            std::to_string(n_rot / 2) + " rotary pairs");
    for (float f : rope_freq_factors)
      if (!(f > 0.f) || !std::isfinite(f)) throw Error(file, "rope_freqs holds a factor that is not positive");
  }
  if (n_expert > 0) {
    in_range(n_expert, 1, 4096, "expert count");
    in_range(n_expert_used, 1, n_expert, "expert_used_count");
    in_range(n_ff_exp, 1, int64_t{1} << 20, "expert feed-forward length");
  }
  if (layer_is_swa.size() != static_cast<size_t>(n_layer))
    throw Error(file, "per-layer sliding-window flags do not match the block count");
}

}  // namespace squish
