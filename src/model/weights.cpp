// Loading and validating a model's F32 weights from any TensorSource.
#include "squish/model/weights.h"

#include <algorithm>
#include <iterator>
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
    for (LayerTensor k : kLayerTensors)
      if (const Weight* w = l.find(k)) n += w->bytes();
  return n;
}

Weight* LayerWeights::find(LayerTensor k) {
  using W = Weight LayerWeights::*;
  // In LayerTensor order; attn_output.bias has no member.
  static constexpr W kMembers[] = {
      &LayerWeights::attn_norm,   &LayerWeights::attn_q,       &LayerWeights::attn_k,
      &LayerWeights::attn_v,      &LayerWeights::attn_output,  &LayerWeights::attn_q_bias,
      &LayerWeights::attn_k_bias, &LayerWeights::attn_v_bias,  nullptr,
      &LayerWeights::attn_q_norm, &LayerWeights::attn_k_norm,  &LayerWeights::post_attention_norm,
      &LayerWeights::post_ffw_norm, &LayerWeights::ffn_norm,   &LayerWeights::ffn_gate,
      &LayerWeights::ffn_up,      &LayerWeights::ffn_down,
  };
  static_assert(std::size(kMembers) == std::size(kLayerTensors));
  const W m = kMembers[static_cast<size_t>(k)];
  return m ? &(this->*m) : nullptr;
}

const Weight* LayerWeights::find(LayerTensor k) const { return const_cast<LayerWeights*>(this)->find(k); }

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
  const ArchSpec& arch = arch_spec(c.arch);
  Weight* globals[] = {&w->token_embd, &w->output_norm, &w->output};
  for (const GlobalTensorSpec& g : arch.global_tensors) {
    const bool required = g.kind == GlobalTensor::Output ? !c.tied_embeddings : g.spec.required;
    wants.push_back({globals[static_cast<int>(g.kind)], g.spec.gguf, tensor_shape(g.spec, c), required});
  }
  w->layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il)
    for_each_tensor(arch, w->layers[static_cast<size_t>(il)], [&](const TensorSpec& t, Weight& dst) {
      wants.push_back({&dst, layer_tensor_name(il, t), tensor_shape(t, c), t.required});
    });

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
