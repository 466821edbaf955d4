// Loading and validating a model's F32 weights from any TensorSource.
#include "squish/model/weights.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "squish/common/error.h"

namespace squish {

int64_t Weight::rows() const {
  if (shape.size() < 2) return shape.empty() ? 0 : 1;
  return std::accumulate(shape.begin() + 1, shape.end(), int64_t{1}, std::multiplies<>());
}

void Weight::row_f32(int64_t r, float* dst) const {
  const int64_t n = cols();
  if (scaled)
    scaled->row_f32(r, dst);
  else if (packed)
    dequantize_row(type, packed + static_cast<size_t>(r) * row_bytes(type, n), dst, n);
  else
    std::copy_n(data.data() + r * n, n, dst);
}

size_t Weight::bytes() const {
  if (scaled) return scaled->bytes();
  return packed ? row_bytes(type, cols()) * static_cast<size_t>(rows()) : data.size() * sizeof(float);
}

size_t ModelWeights::bytes() const {
  size_t n = token_embd.bytes() + output_norm.bytes() + output.bytes();
  for (const auto& l : layers)
    for (const Weight* w : {&l.attn_norm, &l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output,
                            &l.attn_q_bias, &l.attn_k_bias, &l.attn_v_bias, &l.attn_q_norm,
                            &l.attn_k_norm, &l.post_attention_norm, &l.post_ffw_norm, &l.ffn_norm,
                            &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      n += w->bytes();
  return n;
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// One tensor to load: where it goes, what shape it must have, whether it must exist.
struct Want {
  Weight* dst;
  std::string name;
  std::vector<int64_t> shape;
  bool required;
};

}  // namespace

std::unique_ptr<ModelWeights> ModelWeights::load(const ModelConfig& c, const TensorSource& src,
                                                 bool keep_quantized) {
  auto w = std::make_unique<ModelWeights>();
  std::vector<Want> wants;
  const int64_t E = c.n_embd, F = c.n_ff, V = c.n_vocab;
  const int64_t Q = c.n_head * c.head_dim_k, K = c.n_head_kv * c.head_dim_k;
  const int64_t Vd = c.n_head_kv * c.head_dim_v, O = c.n_head * c.head_dim_v;
  wants.push_back({&w->token_embd, "token_embd.weight", {E, V}, true});
  wants.push_back({&w->output_norm, "output_norm.weight", {E}, true});
  wants.push_back({&w->output, "output.weight", {E, V}, !c.tied_embeddings});
  w->layers.resize(static_cast<size_t>(c.n_layer));
  const bool gemma = c.arch == Arch::Gemma3, qwen = c.arch == Arch::Qwen2;
  for (int64_t il = 0; il < c.n_layer; ++il) {
    LayerWeights& l = w->layers[static_cast<size_t>(il)];
    const std::string b = "blk." + std::to_string(il) + ".";
    wants.push_back({&l.attn_norm, b + "attn_norm.weight", {E}, true});
    wants.push_back({&l.attn_q, b + "attn_q.weight", {E, Q}, true});
    wants.push_back({&l.attn_k, b + "attn_k.weight", {E, K}, true});
    wants.push_back({&l.attn_v, b + "attn_v.weight", {E, Vd}, true});
    wants.push_back({&l.attn_output, b + "attn_output.weight", {O, E}, true});
    if (!gemma) {
      wants.push_back({&l.attn_q_bias, b + "attn_q.bias", {Q}, qwen});
      wants.push_back({&l.attn_k_bias, b + "attn_k.bias", {K}, qwen});
      wants.push_back({&l.attn_v_bias, b + "attn_v.bias", {Vd}, qwen});
    } else {
      wants.push_back({&l.attn_q_norm, b + "attn_q_norm.weight", {c.head_dim_k}, true});
      wants.push_back({&l.attn_k_norm, b + "attn_k_norm.weight", {c.head_dim_k}, true});
      wants.push_back({&l.post_attention_norm, b + "post_attention_norm.weight", {E}, true});
      wants.push_back({&l.post_ffw_norm, b + "post_ffw_norm.weight", {E}, true});
    }
    wants.push_back({&l.ffn_norm, b + "ffn_norm.weight", {E}, true});
    wants.push_back({&l.ffn_gate, b + "ffn_gate.weight", {E, F}, true});
    wants.push_back({&l.ffn_up, b + "ffn_up.weight", {E, F}, true});
    wants.push_back({&l.ffn_down, b + "ffn_down.weight", {F, E}, true});
  }

  // Presence and shapes first, so a bad file fails before any large allocation.
  std::vector<const Want*> present;
  for (const Want& want : wants) {
    std::vector<int64_t> shape;
    if (!src.find(want.name, &shape)) {
      if (want.required) throw Error(src.path, "missing tensor " + want.name);
      continue;
    }
    // A trailing dimension of 1 is the same tensor (ggml drops it, some writers keep it).
    while (shape.size() > want.shape.size() && shape.back() == 1) shape.pop_back();
    if (shape != want.shape)
      throw Error(src.path, "tensor " + want.name + " has shape " + shape_str(shape) + ", expected " +
                                shape_str(want.shape) + " for this " + arch_name(c.arch) + " config");
    present.push_back(&want);
  }
  const auto& input_quant = src.input_quant;
  std::vector<const Want*> to_read;
  for (const Want* want : present) {
    want->dst->name = want->name;
    want->dst->shape = want->shape;
    if (input_quant && want->shape.size() == 2)
      input_quant(want->name, &want->dst->input_quant, &want->dst->input_scale);
    GGMLType type;
    const uint8_t* bytes = nullptr;
    if (keep_quantized && want->shape.size() == 2 && src.raw && src.raw(want->name, &type, &bytes) &&
        type != GGMLType::F32) {
      want->dst->type = type;
      want->dst->packed = bytes;
      w->storage = src.storage;
      w->packed_in_file_mapping = src.raw_is_file_mapping;
      continue;
    }
    to_read.push_back(want);
    want->dst->data.resize(static_cast<size_t>(
        std::accumulate(want->shape.begin(), want->shape.end(), int64_t{1}, std::multiplies<>())));
  }
  // One tensor at a time: sources parallelise within a tensor (rows), which balances better.
  for (const Want* want : to_read) src.read(want->name, want->dst->data.data());
  return w;
}

}  // namespace squish
