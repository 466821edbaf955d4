// ModelConfig from GGUF metadata, following the keys and defaults llama.cpp's loader uses.
#include "squish/io/gguf_config.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "squish/arch/rope_scaling.h"
#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"
#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_reader.h"

namespace squish {

namespace {

// The rope_freqs tensor (llama3 RoPE scaling's per-pair frequency divisors) into c, when present.
void read_rope_freqs(const GGUFFile& f, ModelConfig& c) {
  const GGUFTensor* t = f.find_tensor(kRopeFreqsTensor);
  if (!t) return;
  if (!arch_spec(c.arch).features.rope_freqs)
    throw Error(f.path(), std::string("rope_freqs is not supported for ") + arch_name(c.arch));
  if (t->shape.size() != 1 || t->shape[0] != c.n_rot / 2 || !can_dequantize(t->type) ||
      row_bytes(t->type, t->shape[0]) > t->nbytes)
    throw Error(f.path(), std::string(kRopeFreqsTensor) + " is not a vector of " + std::to_string(c.n_rot / 2) + " factors");
  c.rope_freq_factors.resize(static_cast<size_t>(t->shape[0]));
  dequantize_row(t->type, t->data, c.rope_freq_factors.data(), t->shape[0]);
}

}  // namespace

ModelConfig read_gguf_config(const GGUFFile& f) {
  const std::string& file = f.path();
  const GGUFValue* av = f.find("general.architecture");
  if (!av || av->type != GGUFValueType::STRING) throw Error(file, "missing general.architecture");
  const std::string arch = av->as_string();
  ModelConfig c;
  if (const ArchSpec* a = find_arch(arch)) c.arch = a->arch;
  else
    throw Error(file, "unsupported architecture '" + arch + "' (squish runs " + supported_arch_names() + ")");
  const std::string p = arch + ".";
  // Mixtral files say llama; their experts tell them apart (as llama.cpp's loader reads them).
  c.n_expert = f.get_int(p + "expert_count", 0);
  if (c.arch == Arch::Llama && c.n_expert > 0) c.arch = Arch::Mixtral;
  if (arch_spec(c.arch).features.moe != (c.n_expert > 0))
    throw Error(file, arch + (c.n_expert > 0 ? " has no mixture of experts (expert_count is set)"
                                             : " needs " + p + "expert_count"));

  c.n_embd = f.get_int(p + "embedding_length");
  c.n_layer = f.get_int(p + "block_count");
  c.n_ff = f.get_int(p + "feed_forward_length");
  c.n_head = f.get_int(p + "attention.head_count");
  c.n_head_kv = f.get_int(p + "attention.head_count_kv", c.n_head);
  c.n_ctx_train = f.get_int(p + "context_length", 0);
  if (c.n_expert > 0) {
    c.n_expert_used = f.get_int(p + "expert_used_count");
    c.n_ff_exp = f.get_int(p + "expert_feed_forward_length", c.n_ff);
    c.expert_weights_norm = true;  // llama.cpp: mixtral and qwen3moe renormalise the top-k weights
  }
  if (c.n_head <= 0) throw Error(file, "head count must be positive");
  c.head_dim_k = f.get_int(p + "attention.key_length", c.n_embd / c.n_head);
  c.head_dim_v = f.get_int(p + "attention.value_length", c.n_embd / c.n_head);
  c.n_rot = f.get_int(p + "rope.dimension_count", c.head_dim_k);
  c.rms_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon"));
  c.rope_freq_base = static_cast<float>(f.get_float(p + "rope.freq_base", 10000.0));
  c.rope_freq_base_local = c.rope_freq_base;
  // llama.cpp: linear RoPE scaling is rope_freq_scale = 1 / factor.
  const std::string scaling = f.get_string(p + "rope.scaling.type", "");
  const double factor = f.get_float(p + "rope.scaling.factor", 0.0);
  if (factor > 0 && (scaling.empty() || scaling == "linear"))
    c.rope_freq_scale = static_cast<float>(1.0 / factor);
  else if (!scaling.empty() && scaling != "none" && scaling != "linear")
    throw Error(file, "unsupported rope scaling type '" + scaling + "'");

  // Vocabulary: metadata, else the tokenizer's token list, else the embedding matrix.
  if (const GGUFValue* v = f.find(p + "vocab_size"); v && v->is_integer()) {
    c.n_vocab = v->as_int();
  } else if (const GGUFValue* t = f.find("tokenizer.ggml.tokens"); t && t->type == GGUFValueType::ARRAY) {
    c.n_vocab = static_cast<int64_t>(t->as_array().items.size());
  } else if (const GGUFTensor* e = f.find_tensor("token_embd.weight"); e && e->shape.size() == 2) {
    c.n_vocab = e->shape[1];
  }

  read_rope_freqs(f, c);
  c.rope_neox = arch_spec(c.arch).features.rope_neox;  // llama.cpp: LLAMA_ROPE_TYPE_NORM for llama, NEOX otherwise
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.attn_logit_softcap = static_cast<float>(f.get_float(p + "attn_logit_softcapping", 0.0));
  c.final_logit_softcap = static_cast<float>(f.get_float(p + "final_logit_softcapping", 0.0));
  // Checked here too, not only by validate() below: the per-layer table is sized by it.
  if (c.n_layer < 1 || c.n_layer > kMaxLayers)
    throw Error(file, p + "block_count must be 1.." + std::to_string(kMaxLayers) + ", got " + std::to_string(c.n_layer));
  c.layer_is_swa.assign(static_cast<size_t>(c.n_layer), false);

  const ArchFeatures& features = arch_spec(c.arch).features;
  if (c.attn_logit_softcap != 0.f && !features.attn_logit_softcap)
    throw Error(file, arch + " does not use attn_logit_softcapping");
  if (features.sliding_window) {
    // llama.cpp: sliding layers il % pattern < pattern - 1, with the arch's own RoPE base.
    c.sliding_window = f.get_int(p + "attention.sliding_window", 0);
    const int64_t pattern = features.swa_pattern;
    if (c.sliding_window > 0) {
      for (int64_t i = 0; i < c.n_layer; ++i) c.layer_is_swa[static_cast<size_t>(i)] = i % pattern < pattern - 1;
      if (features.swa_rope_base > 0.f) c.rope_freq_base_local = features.swa_rope_base;
    }
  }
  if (features.wide_scale_layers > 0)  // 1/sqrt(head_dim), except the 27B: 1/sqrt(n_embd/n_head)
    c.attention_scale = c.n_layer == features.wide_scale_layers
                            ? 1.f / std::sqrt(static_cast<float>(c.n_embd / c.n_head))
                            : 1.f / std::sqrt(static_cast<float>(c.head_dim_k));
  c.validate(file);
  return c;
}

}  // namespace squish
