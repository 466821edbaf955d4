// The registry entries of llama (and mistral), gemma3, qwen2, qwen3, gemma2, phi3, mixtral and qwen3moe, as llama.cpp's loader (tensor lists) and
// convert_hf_to_gguf.py (names, transforms) see them.
#include "squish/arch/tensor_registry.h"

#include "squish/common/error.h"

namespace squish {

namespace {

using LT = LayerTensor;

// The tensors every architecture here stores (a llama block), with the arch's norm transform.
// Biases of q / k / v are `bias_required` (qwen2) or optional (llama); llama's q / k are RoPE-permuted.
std::vector<LayerTensorSpec> llama_block(bool bias_required, bool permute_rope, LoadTransform norm,
                                         bool biases) {
  const LoadTransform pq = permute_rope ? LoadTransform::RopePermuteQ : LoadTransform::None;
  const LoadTransform pk = permute_rope ? LoadTransform::RopePermuteK : LoadTransform::None;
  const auto N = TensorRole::Norm, L = TensorRole::Linear, B = TensorRole::Bias;
  const auto none = InputGroup::None, ai = InputGroup::AttnInput, ao = InputGroup::AttnOutput;
  std::vector<LayerTensorSpec> t = {
      {LT::AttnNorm, {"attn_norm.weight", "input_layernorm.weight", {Dim::Embd}, N, none, true, norm}},
      {LT::AttnQ, {"attn_q.weight", "self_attn.q_proj.weight", {Dim::Embd, Dim::QRows}, L, ai, true, pq}},
      {LT::AttnK, {"attn_k.weight", "self_attn.k_proj.weight", {Dim::Embd, Dim::KRows}, L, ai, true, pk}},
      {LT::AttnV, {"attn_v.weight", "self_attn.v_proj.weight", {Dim::Embd, Dim::VRows}, L, ai, true,
                   LoadTransform::None}},
      {LT::AttnOutput, {"attn_output.weight", "self_attn.o_proj.weight", {Dim::ORows, Dim::Embd}, L, ao,
                        true, LoadTransform::None}},
  };
  if (biases) {
    t.push_back({LT::AttnQBias, {"attn_q.bias", "self_attn.q_proj.bias", {Dim::QRows}, B, none,
                                 bias_required, pq}});
    t.push_back({LT::AttnKBias, {"attn_k.bias", "self_attn.k_proj.bias", {Dim::KRows}, B, none,
                                 bias_required, pk}});
    t.push_back({LT::AttnVBias, {"attn_v.bias", "self_attn.v_proj.bias", {Dim::VRows}, B, none,
                                 bias_required, LoadTransform::None}});
    t.push_back({LT::AttnOutputBias, {"attn_output.bias", "self_attn.o_proj.bias", {Dim::Embd}, B, none,
                                      false, LoadTransform::None}});
  }
  return t;
}

// The feed-forward block; `ffn_norm_hf` is the HF name of the norm before it.
void add_ffn(std::vector<LayerTensorSpec>& t, const char* ffn_norm_hf, LoadTransform norm) {
  const auto L = TensorRole::Linear;
  const auto fi = InputGroup::FfnInput, fo = InputGroup::FfnOutput;
  const auto none = LoadTransform::None;
  t.push_back({LT::FfnNorm, {"ffn_norm.weight", ffn_norm_hf, {Dim::Embd}, TensorRole::Norm,
                             InputGroup::None, true, norm}});
  t.push_back({LT::FfnGate, {"ffn_gate.weight", "mlp.gate_proj.weight", {Dim::Embd, Dim::Ff}, L, fi, true, none}});
  t.push_back({LT::FfnUp, {"ffn_up.weight", "mlp.up_proj.weight", {Dim::Embd, Dim::Ff}, L, fi, true, none}});
  t.push_back({LT::FfnDown, {"ffn_down.weight", "mlp.down_proj.weight", {Dim::Ff, Dim::Embd}, L, fo, true, none}});
}

std::vector<GlobalTensorSpec> global_tensors(LoadTransform norm) {
  return {
      {GlobalTensor::TokenEmbd, {"token_embd.weight", "model.embed_tokens.weight", {Dim::Embd, Dim::Vocab},
                                 TensorRole::Embedding, InputGroup::None, true, LoadTransform::None}},
      {GlobalTensor::OutputNorm, {"output_norm.weight", "model.norm.weight", {Dim::Embd}, TensorRole::Norm,
                                  InputGroup::None, true, norm}},
      // Absent when the embeddings are tied (then token_embd serves).
      {GlobalTensor::Output, {"output.weight", "lm_head.weight", {Dim::Embd, Dim::Vocab}, TensorRole::Linear,
                              InputGroup::None, false, LoadTransform::None}},
  };
}

// The per-head RMS norms of q and k (QK-norm), applied before RoPE.
void add_qk_norms(std::vector<LayerTensorSpec>& t, LoadTransform norm) {
  const auto N = TensorRole::Norm;
  const auto none = InputGroup::None;
  t.push_back({LT::AttnQNorm, {"attn_q_norm.weight", "self_attn.q_norm.weight", {Dim::HeadK}, N, none, true, norm}});
  t.push_back({LT::AttnKNorm, {"attn_k_norm.weight", "self_attn.k_norm.weight", {Dim::HeadK}, N, none, true, norm}});
}

// The mixture-of-experts feed-forward block: its norm, the router and the stacked experts, under
// the HF names of the router and of one expert's gate / up / down ("*": the expert number).
void add_moe_ffn(std::vector<LayerTensorSpec>& t, const char* router_hf, const char* gate_hf, const char* up_hf,
                 const char* down_hf) {
  const auto L = TensorRole::Linear;
  const auto fi = InputGroup::FfnInput, fo = InputGroup::FfnOutput;
  const auto stack = LoadTransform::StackExperts, keep = LoadTransform::None;
  t.push_back({LT::FfnNorm, {"ffn_norm.weight", "post_attention_layernorm.weight", {Dim::Embd}, TensorRole::Norm,
                             InputGroup::None, true, keep}});
  t.push_back({LT::FfnGateInp, {"ffn_gate_inp.weight", router_hf, {Dim::Embd, Dim::Expert}, L, fi, true, keep}});
  t.push_back({LT::FfnGateExps, {"ffn_gate_exps.weight", gate_hf, {Dim::Embd, Dim::FfExp, Dim::Expert}, L, fi, true, stack}});
  t.push_back({LT::FfnUpExps, {"ffn_up_exps.weight", up_hf, {Dim::Embd, Dim::FfExp, Dim::Expert}, L, fi, true, stack}});
  t.push_back({LT::FfnDownExps, {"ffn_down_exps.weight", down_hf, {Dim::FfExp, Dim::Embd, Dim::Expert}, L, fo, true, stack}});
}

ArchSpec make_llama() {
  ArchSpec a{Arch::Llama, "llama", "LlamaForCausalLM", {"llama", "mistral"}, {}, global_tensors(LoadTransform::None), {}};
  a.features.rope_freqs = true;
  a.layer_tensors = llama_block(false, true, LoadTransform::None, true);
  add_ffn(a.layer_tensors, "post_attention_layernorm.weight", LoadTransform::None);
  return a;
}

// Mixtral: a llama block whose feed-forward is a mixture of experts; GGUF files call it llama
// (read_gguf_config tells them apart by expert_count).
ArchSpec make_mixtral() {
  ArchSpec a{Arch::Mixtral, "llama", "MixtralForCausalLM", {"mixtral"}, {}, global_tensors(LoadTransform::None), {}};
  a.features.moe = true;
  a.layer_tensors = llama_block(false, true, LoadTransform::None, false);
  add_moe_ffn(a.layer_tensors, "block_sparse_moe.gate.weight", "block_sparse_moe.experts.*.w1.weight",
              "block_sparse_moe.experts.*.w3.weight", "block_sparse_moe.experts.*.w2.weight");
  return a;
}

ArchSpec make_qwen2() {
  ArchSpec a{Arch::Qwen2, "qwen2", "Qwen2ForCausalLM", {"qwen2"}, {}, global_tensors(LoadTransform::None), {}};
  a.features.attn_bias = true;
  a.features.rope_neox = true;
  a.layer_tensors = llama_block(true, false, LoadTransform::None, true);
  add_ffn(a.layer_tensors, "post_attention_layernorm.weight", LoadTransform::None);
  return a;
}

// Qwen3: qwen2 without q / k / v biases, with QK-norm.
ArchSpec make_qwen3() {
  ArchSpec a{Arch::Qwen3, "qwen3", "Qwen3ForCausalLM", {"qwen3"}, {}, global_tensors(LoadTransform::None), {}};
  a.features.qk_norm = a.features.rope_neox = true;
  a.layer_tensors = llama_block(false, false, LoadTransform::None, false);
  add_qk_norms(a.layer_tensors, LoadTransform::None);
  add_ffn(a.layer_tensors, "post_attention_layernorm.weight", LoadTransform::None);
  return a;
}

// Qwen3-MoE: qwen3's attention, a mixture-of-experts feed-forward in every layer.
ArchSpec make_qwen3moe() {
  ArchSpec a{Arch::Qwen3Moe, "qwen3moe", "Qwen3MoeForCausalLM", {"qwen3_moe"}, {}, global_tensors(LoadTransform::None), {}};
  a.features.qk_norm = a.features.rope_neox = a.features.moe = true;
  a.layer_tensors = llama_block(false, false, LoadTransform::None, false);
  add_qk_norms(a.layer_tensors, LoadTransform::None);
  add_moe_ffn(a.layer_tensors, "mlp.gate.weight", "mlp.experts.*.gate_proj.weight", "mlp.experts.*.up_proj.weight",
              "mlp.experts.*.down_proj.weight");
  return a;
}

// The norms after attention and after the feed-forward block (gemma2, gemma3).
void add_post_norms(std::vector<LayerTensorSpec>& t, LoadTransform norm) {
  const auto N = TensorRole::Norm;
  const auto none = InputGroup::None;
  t.push_back({LT::PostAttentionNorm, {"post_attention_norm.weight", "post_attention_layernorm.weight",
                                       {Dim::Embd}, N, none, true, norm}});
  t.push_back({LT::PostFfwNorm, {"post_ffw_norm.weight", "post_feedforward_layernorm.weight", {Dim::Embd}, N,
                                 none, true, norm}});
}

// What gemma2 and gemma3 share: norms stored as 1 + w, pre- and post-norms, GELU, embeddings scaled
// by sqrt(n_embd), NEOX RoPE, sliding-window layers, final logit soft-capping.
ArchSpec gemma_base(Arch arch, const char* name, const char* hf_class, std::vector<const char*> model_types,
                    bool qk_norm) {
  const LoadTransform p1 = LoadTransform::NormPlusOne;
  ArchSpec a{arch, name, hf_class, std::move(model_types), {}, global_tensors(p1), {}};
  a.features.post_norms = a.features.sliding_window = a.features.final_logit_softcap = true;
  a.features.embed_scale = a.features.gelu = a.features.rope_neox = a.features.spm_no_space_prefix = true;
  a.features.qk_norm = qk_norm;
  a.layer_tensors = llama_block(false, false, p1, false);
  if (qk_norm) add_qk_norms(a.layer_tensors, p1);
  add_post_norms(a.layer_tensors, p1);
  add_ffn(a.layer_tensors, "pre_feedforward_layernorm.weight", p1);
  return a;
}

// gemma3: QK-norm; 5 of 6 layers slide, with their own RoPE base (10000 in GGUF files).
ArchSpec make_gemma3() {
  ArchSpec a = gemma_base(Arch::Gemma3, "gemma3", "Gemma3ForCausalLM", {"gemma3_text", "gemma3"}, true);
  a.features.swa_pattern = 6;
  a.features.swa_rope_base = 10000.f;
  a.features.wide_scale_layers = 62;
  return a;
}

// gemma2: attention logit soft-capping; every other layer slides (one RoPE base).
ArchSpec make_gemma2() {
  ArchSpec a = gemma_base(Arch::Gemma2, "gemma2", "Gemma2ForCausalLM", {"gemma2"}, false);
  a.features.attn_logit_softcap = true;
  a.features.swa_pattern = 2;
  a.features.wide_scale_layers = 46;
  return a;
}

// Phi-3: a llama block with q, k, v fused into attn_qkv and gate, up into ffn_up, NEOX RoPE.
ArchSpec make_phi3() {
  ArchSpec a{Arch::Phi3, "phi3", "Phi3ForCausalLM", {"phi3"}, {}, global_tensors(LoadTransform::None), {}};
  a.features.rope_neox = true;
  const auto N = TensorRole::Norm, L = TensorRole::Linear;
  const auto none = InputGroup::None;
  const auto keep = LoadTransform::None, split = LoadTransform::SplitRows;
  a.layer_tensors = {
      {LT::AttnNorm, {"attn_norm.weight", "input_layernorm.weight", {Dim::Embd}, N, none, true, keep}},
      {LT::AttnQKV, {"attn_qkv.weight", "self_attn.qkv_proj.weight", {Dim::Embd, Dim::QKVRows}, L,
                     InputGroup::AttnInput, true, split}},
      {LT::AttnOutput, {"attn_output.weight", "self_attn.o_proj.weight", {Dim::ORows, Dim::Embd}, L,
                        InputGroup::AttnOutput, true, keep}},
      {LT::FfnNorm, {"ffn_norm.weight", "post_attention_layernorm.weight", {Dim::Embd}, N, none, true, keep}},
      {LT::FfnGateUp, {"ffn_up.weight", "mlp.gate_up_proj.weight", {Dim::Embd, Dim::FfPair}, L,
                       InputGroup::FfnInput, true, split}},
      {LT::FfnDown, {"ffn_down.weight", "mlp.down_proj.weight", {Dim::Ff, Dim::Embd}, L,
                     InputGroup::FfnOutput, true, keep}},
  };
  return a;
}

int64_t dim_value(Dim d, const ModelConfig& c, int64_t n_vocab) {
  switch (d) {
    case Dim::Embd: return c.n_embd;
    case Dim::Ff: return c.n_ff;
    case Dim::Vocab: return n_vocab;
    case Dim::QRows: return c.n_head * c.head_dim_k;
    case Dim::KRows: return c.n_head_kv * c.head_dim_k;
    case Dim::VRows: return c.n_head_kv * c.head_dim_v;
    case Dim::ORows: return c.n_head * c.head_dim_v;
    case Dim::HeadK: return c.head_dim_k;
    case Dim::QKVRows: return (c.n_head + c.n_head_kv) * c.head_dim_k + c.n_head_kv * c.head_dim_v;
    case Dim::FfPair: return 2 * c.n_ff;
    case Dim::Expert: return c.n_expert;
    case Dim::FfExp: return c.n_ff_exp;
  }
  return 0;
}

// The spec in `list` whose name field (gguf or hf) is `name`.
template <class Entry>
const TensorSpec* find_by(const std::vector<Entry>& list, const char* TensorSpec::*field,
                          const std::string& name) {
  for (const Entry& e : list)
    if (name == e.spec.*field) return &e.spec;
  return nullptr;
}

}  // namespace

const std::vector<const ArchSpec*>& all_archs() {
  static const ArchSpec llama = make_llama(), gemma3 = make_gemma3(), qwen2 = make_qwen2(),
                        qwen3 = make_qwen3(), gemma2 = make_gemma2(), phi3 = make_phi3(),
                        mixtral = make_mixtral(), qwen3moe = make_qwen3moe();
  // llama before mixtral: find_arch("llama") is the dense entry.
  static const std::vector<const ArchSpec*> all = {&llama, &gemma3, &qwen2, &qwen3, &gemma2, &phi3, &mixtral, &qwen3moe};
  return all;
}

std::string supported_arch_names() {
  std::string s;
  for (const ArchSpec* a : all_archs())
    if (find_arch(a->name) == a) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

std::string supported_hf_model_types() {
  std::string s;
  for (const ArchSpec* a : all_archs())
    for (const char* t : a->hf_model_types) s += (s.empty() ? "" : ", ") + std::string(t);
  return s;
}

const ArchSpec& arch_spec(Arch arch) {
  for (const ArchSpec* a : all_archs())
    if (a->arch == arch) return *a;
  throw Error("", std::string("architecture ") + arch_name(arch) + " has no registry entry");
}

const ArchSpec* find_arch(const std::string& name) {
  for (const ArchSpec* a : all_archs())
    if (name == a->name) return a;
  return nullptr;
}

const ArchSpec* find_arch_by_hf_model_type(const std::string& model_type) {
  for (const ArchSpec* a : all_archs())
    for (const char* t : a->hf_model_types)
      if (model_type == t) return a;
  return nullptr;
}

const TensorSpec* find_layer_tensor(const ArchSpec& arch, LayerTensor kind) {
  for (const LayerTensorSpec& t : arch.layer_tensors)
    if (t.kind == kind) return &t.spec;
  return nullptr;
}

const std::vector<SplitPart>& split_parts(LayerTensor fused) {
  static const std::vector<SplitPart> qkv = {{LT::AttnQ, Dim::QRows}, {LT::AttnK, Dim::KRows}, {LT::AttnV, Dim::VRows}};
  static const std::vector<SplitPart> gate_up = {{LT::FfnGate, Dim::Ff}, {LT::FfnUp, Dim::Ff}};
  static const std::vector<SplitPart> none;
  return fused == LT::AttnQKV ? qkv : fused == LT::FfnGateUp ? gate_up : none;
}

const TensorSpec* layer_tensor_source(const ArchSpec& arch, LayerTensor kind) {
  for (const LayerTensorSpec& t : arch.layer_tensors) {
    if (t.kind == kind) return &t.spec;
    for (const SplitPart& p : split_parts(t.kind))
      if (p.kind == kind) return &t.spec;
  }
  return nullptr;
}

bool has_fused_tensors(const ArchSpec& arch) {
  for (const LayerTensorSpec& t : arch.layer_tensors)
    if (t.spec.transform == LoadTransform::SplitRows) return true;
  return false;
}

const TensorSpec* layer_tensor_by_gguf(const ArchSpec& a, const std::string& suffix) {
  return find_by(a.layer_tensors, &TensorSpec::gguf, suffix);
}
const TensorSpec* layer_tensor_by_hf(const ArchSpec& a, const std::string& suffix, int64_t* expert) {
  if (expert) *expert = -1;
  if (const TensorSpec* t = find_by(a.layer_tensors, &TensorSpec::hf, suffix)) return t;
  // An expert's tensor: "….experts.<e>.…" matches the spec whose HF name has "*" for <e>.
  const size_t at = suffix.find("experts.");
  if (!expert || at == std::string::npos) return nullptr;
  const size_t b = at + 8, e = suffix.find('.', b);
  if (e == std::string::npos || e == b || e - b > 6) return nullptr;
  for (size_t i = b; i < e; ++i)
    if (suffix[i] < '0' || suffix[i] > '9') return nullptr;
  const TensorSpec* t = find_by(a.layer_tensors, &TensorSpec::hf, suffix.substr(0, b) + "*" + suffix.substr(e));
  if (t && t->transform == LoadTransform::StackExperts) *expert = std::stoll(suffix.substr(b, e - b));
  return t && t->transform == LoadTransform::StackExperts ? t : nullptr;
}

std::string expert_hf_name(const TensorSpec& spec, int64_t expert) {
  std::string s = spec.hf;
  const size_t star = s.find('*');
  return star == std::string::npos ? s : s.replace(star, 1, std::to_string(expert));
}
const TensorSpec* global_tensor_by_gguf(const ArchSpec& a, const std::string& name) {
  return find_by(a.global_tensors, &TensorSpec::gguf, name);
}
const TensorSpec* global_tensor_by_hf(const ArchSpec& a, const std::string& name) {
  return find_by(a.global_tensors, &TensorSpec::hf, name);
}

const TensorSpec* tensor_by_gguf_name(const ArchSpec& a, const std::string& name, std::string* layer_text) {
  if (layer_text) layer_text->clear();
  if (name.rfind("blk.", 0) != 0) return global_tensor_by_gguf(a, name);
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return nullptr;
  if (layer_text) *layer_text = name.substr(4, dot - 4);
  return layer_tensor_by_gguf(a, name.substr(dot + 1));
}

LoadTransform tensor_transform(const ArchSpec& a, const std::string& name) {
  const TensorSpec* t = tensor_by_gguf_name(a, name);
  return t ? t->transform : LoadTransform::None;
}

std::vector<int64_t> tensor_shape(const TensorSpec& spec, const ModelConfig& c, int64_t n_vocab) {
  std::vector<int64_t> s;
  for (Dim d : spec.shape) s.push_back(dim_value(d, c, n_vocab));
  return s;
}

std::string layer_tensor_name(int64_t il, const TensorSpec& spec) {
  return "blk." + std::to_string(il) + "." + spec.gguf;
}

}  // namespace squish
