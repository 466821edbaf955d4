// The tensor registry: for each architecture, every tensor kind it stores — GGUF and HF names, ggml
// shape as a formula of the config, role, which linears share an input, whether it is required,
// the load-time transform llama.cpp's converter applies — and the forward pass's features.
// Everything that lists an architecture's tensors reads it from here.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "squish/arch/config.h"

namespace squish {

// Every per-layer tensor kind squish knows (the order layers are loaded and visited in).
enum class LayerTensor {
  AttnNorm, AttnQ, AttnK, AttnV, AttnOutput, AttnQBias, AttnKBias, AttnVBias, AttnOutputBias,
  AttnQNorm, AttnKNorm, PostAttentionNorm, PostFfwNorm, FfnNorm, FfnGate, FfnUp, FfnDown,
  AttnQKV,    // q, k, v rows in one matrix (phi3), loaded as AttnQ / AttnK / AttnV
  FfnGateUp,  // gate then up rows in one matrix (phi3's ffn_up), loaded as FfnGate / FfnUp
  FfnGateInp, // the router of a mixture of experts (one logit per expert)
  FfnGateExps, FfnUpExps, FfnDownExps,  // every expert's gate / up / down, stacked (3-D)
};

// Every LayerTensor, in order.
inline constexpr LayerTensor kLayerTensors[] = {
    LayerTensor::AttnNorm,  LayerTensor::AttnQ,     LayerTensor::AttnK,
    LayerTensor::AttnV,     LayerTensor::AttnOutput, LayerTensor::AttnQBias,
    LayerTensor::AttnKBias, LayerTensor::AttnVBias, LayerTensor::AttnOutputBias,
    LayerTensor::AttnQNorm, LayerTensor::AttnKNorm, LayerTensor::PostAttentionNorm,
    LayerTensor::PostFfwNorm, LayerTensor::FfnNorm, LayerTensor::FfnGate,
    LayerTensor::FfnUp,     LayerTensor::FfnDown,   LayerTensor::AttnQKV,
    LayerTensor::FfnGateUp, LayerTensor::FfnGateInp, LayerTensor::FfnGateExps,
    LayerTensor::FfnUpExps, LayerTensor::FfnDownExps,
};

// The model-wide tensor kinds.
enum class GlobalTensor { TokenEmbd, OutputNorm, Output };

// One dimension of a tensor's shape, as a function of the config.
enum class Dim {
  Embd,    // n_embd
  Ff,      // n_ff
  Vocab,   // n_vocab
  QRows,   // n_head * head_dim_k (q projection outputs)
  KRows,   // n_head_kv * head_dim_k
  VRows,   // n_head_kv * head_dim_v
  ORows,   // n_head * head_dim_v (attention output, o projection input)
  HeadK,   // head_dim_k (QK-norm weights)
  QKVRows, // QRows + KRows + VRows (fused q, k, v)
  FfPair,  // 2 * n_ff (fused gate and up)
  Expert,  // n_expert
  FfExp,   // n_ff_exp (one expert's feed-forward length)
};

// What a tensor does.
enum class TensorRole { Norm, Linear, Bias, Embedding };

// Which linears read the same input (and so share its statistics and input-side scales).
enum class InputGroup {
  None,        // not a linear
  AttnInput,   // q, k, v: the attention norm's output
  AttnOutput,  // o: the attention heads' output
  FfnInput,    // gate, up: the feed-forward norm's output
  FfnOutput,   // down: the gated activation
};

// A value transformation llama.cpp's converter applies between HF and GGUF layouts.
enum class LoadTransform {
  None,
  RopePermuteQ,  // llama q rows: HF half-split RoPE layout <-> interleaved pairs (n_head heads)
  RopePermuteK,  // llama k rows: the same over n_head_kv heads
  NormPlusOne,   // gemma3 norms: GGUF stores 1 + w (Gemma3RMSNorm multiplies by 1 + w)
  SplitRows,     // a fused matrix (phi3's attn_qkv, ffn_up): stored as one tensor in GGUF and HF,
                 // loaded as consecutive row blocks into the kinds split_parts lists
  StackExperts,  // expert tensors: one HF tensor per expert (the HF name's "*" is the expert
                 // number), stacked along the last ggml dimension as GGUF stores them
};

// One tensor kind of an architecture.
struct TensorSpec {
  const char* gguf;             // GGUF suffix ("attn_q.weight"; after "blk.N." for layer tensors)
  const char* hf;               // HF suffix ("self_attn.q_proj.weight"; after "model.layers.N.")
  std::vector<Dim> shape;       // ggml order (shape[0] is the row length)
  TensorRole role;
  InputGroup group;
  bool required;                // loading fails without it (else optional)
  LoadTransform transform;
};

// One layer tensor kind of an architecture.
struct LayerTensorSpec {
  LayerTensor kind;
  TensorSpec spec;
};

// One model-wide tensor kind of an architecture.
struct GlobalTensorSpec {
  GlobalTensor kind;
  TensorSpec spec;
};

// What the forward pass does beyond the llama block.
struct ArchFeatures {
  bool qk_norm = false;            // RMS norm of each q / k head before RoPE
  bool post_norms = false;         // norms after attention and after the feed-forward block
  bool attn_bias = false;          // q / k / v projections carry biases (required)
  bool sliding_window = false;     // some layers attend within a window (config sliding_window)
  bool final_logit_softcap = false;  // logits soft-capped (config final_logit_softcap)
  bool attn_logit_softcap = false;   // attention scores soft-capped (config attn_logit_softcap)
  bool embed_scale = false;        // token embeddings multiplied by sqrt(n_embd)
  bool gelu = false;               // GELU (tanh) gate instead of SiLU
  bool rope_neox = false;          // NEOX (half-split) rotation instead of interleaved pairs
  bool rope_freqs = false;         // llama3 RoPE scaling, stored as the rope_freqs tensor
  bool spm_no_space_prefix = false;  // the converter writes add_space_prefix false (SentencePiece)
  int64_t swa_pattern = 0;         // with sliding_window: layer il slides iff il % swa_pattern <
                                   // swa_pattern - 1 (llama.cpp's default pattern for the arch)
  bool moe = false;                // mixture-of-experts feed-forward: router softmax, top-k experts
                                   // (weights renormalised per config expert_weights_norm)
  float swa_rope_base = 0.f;       // RoPE base of sliding layers in GGUF files; 0: the global base
  int64_t wide_scale_layers = 0;   // llama.cpp scales q by 1/sqrt(n_embd/n_head) at this layer
                                   // count (the 27B), by 1/sqrt(head_dim) otherwise; 0: default
};

// Everything squish knows about one architecture.
struct ArchSpec {
  Arch arch;
  const char* name;                            // GGUF general.architecture
  const char* hf_architecture;                 // config.json "architectures"[0] squish writes
  std::vector<const char*> hf_model_types;     // config.json model_type values (first: written)
  ArchFeatures features;
  std::vector<GlobalTensorSpec> global_tensors;
  std::vector<LayerTensorSpec> layer_tensors;  // in load order
};

// The registry entry of `arch`.
const ArchSpec& arch_spec(Arch arch);
// The entry whose GGUF name is `name`; nullptr for architectures squish does not run.
const ArchSpec* find_arch(const std::string& name);
// The entry listing config.json model_type `model_type`; nullptr for none.
const ArchSpec* find_arch_by_hf_model_type(const std::string& model_type);
// Every registered architecture.
const std::vector<const ArchSpec*>& all_archs();
// The registered GGUF names / config.json model types, comma-separated (for error messages).
std::string supported_arch_names();
std::string supported_hf_model_types();

// The tensor spec of layer kind `kind` in `arch`; nullptr when the architecture has none.
const TensorSpec* find_layer_tensor(const ArchSpec& arch, LayerTensor kind);

// One row block of a fused (SplitRows) tensor: the kind it is loaded as and its row count.
struct SplitPart {
  LayerTensor kind;
  Dim rows;
};
// The row blocks of fused kind `fused` in order (AttnQKV: q, k, v; FfnGateUp: gate, up); empty
// for kinds that are not fused.
const std::vector<SplitPart>& split_parts(LayerTensor fused);
// The spec of the tensor that stores kind `kind` in `arch`: its own, or the fused tensor it is a
// row block of; nullptr when none.
const TensorSpec* layer_tensor_source(const ArchSpec& arch, LayerTensor kind);
// Whether some layer tensor of `arch` is fused (loaded as several linears).
bool has_fused_tensors(const ArchSpec& arch);

// A layer tensor's spec by its GGUF suffix ("attn_q.weight") or HF suffix ("self_attn.q_proj.weight",
// an expert's "mlp.experts.3.up_proj.weight": *expert is then set to 3, else to -1); nullptr when
// the architecture has no such tensor.
const TensorSpec* layer_tensor_by_gguf(const ArchSpec& arch, const std::string& suffix);
const TensorSpec* layer_tensor_by_hf(const ArchSpec& arch, const std::string& suffix,
                                     int64_t* expert = nullptr);
// The HF suffix of expert `expert`'s part of a StackExperts tensor (its "*" replaced).
std::string expert_hf_name(const TensorSpec& spec, int64_t expert);
// A model-wide tensor's spec by its full GGUF / HF name; nullptr when none.
const TensorSpec* global_tensor_by_gguf(const ArchSpec& arch, const std::string& name);
const TensorSpec* global_tensor_by_hf(const ArchSpec& arch, const std::string& name);
// The spec of any GGUF tensor name ("blk.3.attn_q.weight", "output_norm.weight"); nullptr when the
// architecture has none. Sets *layer_text to the layer number as written ("" for model-wide ones).
const TensorSpec* tensor_by_gguf_name(const ArchSpec& arch, const std::string& name,
                                      std::string* layer_text = nullptr);

// The load-time transform of GGUF tensor `name` in arch (None for tensors the registry lacks).
LoadTransform tensor_transform(const ArchSpec& arch, const std::string& name);

// A shape formula evaluated for config c (n_vocab given separately: loaders may refine it).
std::vector<int64_t> tensor_shape(const TensorSpec& spec, const ModelConfig& c, int64_t n_vocab);
inline std::vector<int64_t> tensor_shape(const TensorSpec& spec, const ModelConfig& c) {
  return tensor_shape(spec, c, c.n_vocab);
}

// GGUF name of layer il's tensor ("blk.<il>.<suffix>").
std::string layer_tensor_name(int64_t il, const TensorSpec& spec);

// Calls f(kind, spec) for every layer tensor kind of arch, in load order.
template <class F>
void for_each_layer_tensor(const ArchSpec& arch, F&& f) {
  for (const LayerTensorSpec& t : arch.layer_tensors) f(t.kind, t.spec);
}

}  // namespace squish
