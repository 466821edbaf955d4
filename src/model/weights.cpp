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
  // In LayerTensor order; attn_output.bias and the fused kinds (loaded as their parts) have none.
  static constexpr W kMembers[] = {
      &LayerWeights::attn_norm,   &LayerWeights::attn_q,       &LayerWeights::attn_k,
      &LayerWeights::attn_v,      &LayerWeights::attn_output,  &LayerWeights::attn_q_bias,
      &LayerWeights::attn_k_bias, &LayerWeights::attn_v_bias,  nullptr,
      &LayerWeights::attn_q_norm, &LayerWeights::attn_k_norm,  &LayerWeights::post_attention_norm,
      &LayerWeights::post_ffw_norm, &LayerWeights::ffn_norm,   &LayerWeights::ffn_gate,
      &LayerWeights::ffn_up,      &LayerWeights::ffn_down,     nullptr,
      nullptr,                    &LayerWeights::ffn_gate_inp, &LayerWeights::ffn_gate_exps,
      &LayerWeights::ffn_up_exps, &LayerWeights::ffn_down_exps,
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

// One row block of a tensor to load and the weight it goes to (all rows but for fused tensors).
struct WantPart {
  Weight* dst;
  int64_t rows;
};

// One tensor to load: where its rows go, what shape it must have, whether it must exist.
struct Want {
  std::vector<WantPart> parts;
  std::string name;
  std::vector<int64_t> shape;
  bool required;
};

// The parts of layer tensor `t` of kind `kind` in L: the member itself, or a fused tensor's row
// blocks (empty when L has no member for it).
std::vector<WantPart> want_parts(LayerTensor kind, const TensorSpec& t, LayerWeights& L, const ModelConfig& c) {
  const std::vector<int64_t> shape = tensor_shape(t, c);
  if (t.transform != LoadTransform::SplitRows) {
    Weight* w = L.find(kind);
    if (!w) return {};
    return {{w, shape.size() > 1 ? shape[1] : 1}};
  }
  std::vector<WantPart> parts;
  for (const SplitPart& p : split_parts(kind)) {
    TensorSpec rows = t;
    rows.shape = {p.rows};
    parts.push_back({L.find(p.kind), tensor_shape(rows, c)[0]});
  }
  return parts;
}

}  // namespace

std::unique_ptr<ModelWeights> ModelWeights::load(const ModelConfig& c, const TensorSource& src,
                                                 bool keep_quantized) {
  auto w = std::make_unique<ModelWeights>();
  std::vector<Want> wants;
  const ArchSpec& arch = arch_spec(c.arch);
  Weight* globals[] = {&w->token_embd, &w->output_norm, &w->output};
  for (const GlobalTensorSpec& g : arch.global_tensors) {
    const bool required = g.kind == GlobalTensor::Output ? !c.tied_embeddings : g.spec.required;
    const std::vector<int64_t> shape = tensor_shape(g.spec, c);
    wants.push_back({{{globals[static_cast<int>(g.kind)], shape.size() > 1 ? shape[1] : 1}}, g.spec.gguf, shape,
                     required});
  }
  w->layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il)
    for_each_layer_tensor(arch, [&](LayerTensor kind, const TensorSpec& t) {
      std::vector<WantPart> parts = want_parts(kind, t, w->layers[static_cast<size_t>(il)], c);
      if (!parts.empty()) wants.push_back({std::move(parts), layer_tensor_name(il, t), tensor_shape(t, c), t.required});
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
    const bool split = want->parts.size() > 1;
    for (const WantPart& p : want->parts) {
      p.dst->name = want->name;  // a fused tensor's parts keep its name (imatrix, observers)
      p.dst->shape = split ? std::vector<int64_t>{want->shape[0], p.rows} : want->shape;
      if (input_quant && want->shape.size() == 2)
        input_quant(want->name, &p.dst->input_quant, &p.dst->input_scale);
    }
    GGMLType type;
    const uint8_t* bytes = nullptr;
    if (keep_quantized && want->shape.size() >= 2 && src.raw && src.raw(want->name, &type, &bytes) &&
        type != GGMLType::F32) {
      size_t offset = 0;  // row blocks of the packed rows
      for (const WantPart& p : want->parts) {
        p.dst->type = type;
        p.dst->packed = bytes + offset;
        offset += row_bytes(type, want->shape[0]) * static_cast<size_t>(p.rows);
      }
      w->storage = src.storage;
      w->packed_in_file_mapping = src.raw_is_file_mapping;
      continue;
    }
    to_read.push_back(want);
    for (const WantPart& p : want->parts) p.dst->data.resize(static_cast<size_t>(p.dst->rows() * p.dst->cols()));
  }
  // One tensor at a time: sources parallelise within a tensor (rows), which balances better.
  std::vector<float> fused;
  for (const Want* want : to_read) {
    if (want->parts.size() == 1) {
      src.read(want->name, want->parts[0].dst->data.data());
      continue;
    }
    fused.resize(static_cast<size_t>(want->shape[0] * want->shape[1]));
    src.read(want->name, fused.data());
    size_t offset = 0;
    for (const WantPart& p : want->parts) {
      std::copy_n(fused.data() + offset, p.dst->data.size(), p.dst->data.data());
      offset += p.dst->data.size();
    }
  }
  return w;
}

}  // namespace squish
