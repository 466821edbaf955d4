// GGUF hyper-parameter metadata from an HF config.json, with the keys and conditions of llama.cpp's
// LlamaModel / Qwen2Model / Gemma2Model / Gemma3Model.set_gguf_parameters (and what read_gguf_config reads).
#include <filesystem>

#include "hf_gguf.h"
#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace squish {

namespace {

GGUFValue u32(int64_t v) { return gguf_u32(static_cast<uint32_t>(v)); }

}  // namespace

void add_hf_model_metadata(const HFModelDir& dir, GGUFMetadata& out) {
  const ModelConfig& c = dir.config();
  const HFConfigExtras& ex = dir.extras();
  const std::string arch = arch_name(c.arch);
  const std::string p = arch + ".";
  auto set = [&](const std::string& k, GGUFValue v) { out.emplace_back(k, std::move(v)); };

  std::string name = std::filesystem::path(dir.path()).lexically_normal().filename().string();
  if (name.empty()) name = std::filesystem::path(dir.path()).lexically_normal().parent_path().filename().string();
  set("general.architecture", gguf_str(arch));
  set("general.type", gguf_str("model"));
  set("general.name", gguf_str(name.empty() ? arch : name));
  set(p + "block_count", u32(c.n_layer));
  set(p + "context_length", u32(c.n_ctx_train));
  set(p + "embedding_length", u32(c.n_embd));
  set(p + "feed_forward_length", u32(c.n_ff));
  set(p + "attention.head_count", u32(c.n_head));
  set(p + "attention.head_count_kv", u32(c.n_head_kv));
  set(p + "rope.freq_base", gguf_f32(c.rope_freq_base));
  set(p + "attention.layer_norm_rms_epsilon", gguf_f32(c.rms_eps));
  const ArchFeatures& features = arch_spec(c.arch).features;
  if (features.moe) {  // Qwen2MoeModel / LlamaModel (through TextModel): experts, top-k, expert width
    if (!c.expert_weights_norm)
      throw Error(dir.path(), "norm_topk_prob false is not supported in GGUF (llama.cpp's " + arch +
                                  " always renormalises the top-k routing weights)");
    set(p + "expert_count", u32(c.n_expert));
    set(p + "expert_used_count", u32(c.n_expert_used));
    if (c.arch == Arch::Qwen3Moe) set(p + "expert_feed_forward_length", u32(c.n_ff_exp));
  }
  if (features.sliding_window || c.head_dim_k * c.n_head != c.n_embd) {
    set(p + "attention.key_length", u32(c.head_dim_k));
    set(p + "attention.value_length", u32(c.head_dim_v));
  }
  set("general.file_type", gguf_u32(0));  // ALL_F32
  const bool llama = arch == "llama";  // LlamaModel (llama, mistral, mixtral) writes these two
  if (llama) set(p + "vocab_size", u32(c.n_vocab));
  if (llama || c.n_rot != c.head_dim_k) set(p + "rope.dimension_count", u32(c.n_rot));
  // llama3 scaling has no keys: the converter stores it as the rope_freqs tensor.
  if (!ex.rope_scaling_type.empty() && ex.rope_scaling_type != "llama3") {
    if (ex.rope_scaling_type != "linear")
      throw Error(dir.path(), "rope_scaling type '" + ex.rope_scaling_type +
                                  "' is not supported (only linear and llama3)");
    set(p + "rope.scaling.type", gguf_str("linear"));
    set(p + "rope.scaling.factor", gguf_f32(ex.rope_scaling_factor));
  }
  if (features.sliding_window && c.sliding_window > 0) set(p + "attention.sliding_window", u32(c.sliding_window));
  if (features.attn_logit_softcap && c.attn_logit_softcap > 0.f)
    set(p + "attn_logit_softcapping", gguf_f32(c.attn_logit_softcap));
  if (features.final_logit_softcap && c.final_logit_softcap > 0.f)
    set(p + "final_logit_softcapping", gguf_f32(c.final_logit_softcap));
}

}  // namespace squish
