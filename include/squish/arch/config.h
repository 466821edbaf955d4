// Architecture hyper-parameters of a decoder-only transformer, read from GGUF (io/gguf_config.h) or HF
// config.json (io/hf_config.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// Supported architectures.
enum class Arch { Llama, Gemma3, Qwen2, Qwen3, Gemma2, Phi3, Mixtral, Qwen3Moe };

// Name as used in GGUF general.architecture ("llama", "gemma3", "qwen2", ...).
const char* arch_name(Arch a);

// Most layers a model may declare (validate() and the readers refuse more).
constexpr int64_t kMaxLayers = 4096;

// Everything the forward pass needs to know about the network's shape.
struct ModelConfig {
  Arch arch = Arch::Llama;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;      // key_length (n_embd / n_head unless given)
  int64_t head_dim_v = 0;      // value_length
  int64_t n_rot = 0;           // rope dimension count
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.f;
  float rope_freq_base_local = 10000.f;  // sliding-window layers (gemma3: its own base)
  float rope_freq_scale = 1.f;
  std::vector<float> rope_freq_factors;  // per rotary pair: frequency divisor (GGUF rope_freqs,
                                         // llama3 scaling); empty: none
  bool rope_neox = false;      // NEOX (half-split) rotation vs interleaved pairs
  int64_t sliding_window = 0;  // 0: none
  std::vector<bool> layer_is_swa;  // per layer: sliding-window attention (gemma3: 5 of 6, gemma2: 1 of 2)
  bool tied_embeddings = false;    // output.weight absent: reuse token_embd
  float attn_logit_softcap = 0.f;  // 0: none
  float final_logit_softcap = 0.f; // 0: none
  float attention_scale = 0.f;     // multiplies q·k; 0: 1/sqrt(head_dim_k)
  int64_t n_expert = 0;            // mixture of experts: experts per layer (0: dense)
  int64_t n_expert_used = 0;       // experts each token is routed to (top-k)
  int64_t n_ff_exp = 0;            // feed-forward length of one expert
  bool expert_weights_norm = true; // the top-k routing weights renormalised to sum to 1

  // Whether the feed-forward blocks are mixtures of experts.
  bool is_moe() const { return n_expert > 0; }

  // The scale applied to attention scores (attention_scale, else 1/sqrt(head_dim_k)).
  float kq_scale() const;
  // RoPE base and frequency scale of layer il (gemma3 sliding-window layers use the local base).
  float layer_rope_base(int64_t il) const;
  float layer_rope_scale(int64_t il) const;
  // Whether layer il uses sliding-window attention.
  bool is_swa(int64_t il) const {
    return sliding_window > 0 && il >= 0 && static_cast<size_t>(il) < layer_is_swa.size() &&
           layer_is_swa[static_cast<size_t>(il)];
  }
  // Checks every field for sanity (positive sizes, divisibility, bounded counts); throws Error
  // naming `file`.
  void validate(const std::string& file) const;
};

}  // namespace squish
