// HFPackedWeights: quantized linears of an HF directory repacked into GGUF block rows.
#include "squish/io/hf_packed_weights.h"

#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace squish {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Destination row of each HF row: llama's q/k rows go from HF's half-split RoPE layout to ggml's
// interleaved pairs (HF row h*hd + j*hd/2 + i -> row h*hd + 2i + j), as HFModelDir::tensor_f32
// permutes them; empty (identity) for every other tensor.
std::vector<int64_t> ggml_row_order(const HFModelDir& dir, const HFTensorInfo& t) {
  const ModelConfig& c = dir.config();
  const bool q = ends_with(t.gguf_name, "attn_q.weight"), k = ends_with(t.gguf_name, "attn_k.weight");
  if (!(q || k) || tensor_transform(arch_spec(c.arch), t.gguf_name) == LoadTransform::None) return {};
  const int64_t heads = q ? c.n_head : c.n_head_kv, rows = t.shape[1];
  const int64_t hd = heads > 0 ? rows / heads : 0, half = hd / 2;
  if (hd * heads != rows || half * 2 != hd)
    throw Error(t.source->file, "tensor '" + t.hf_name + "' rows do not split into " +
                                    std::to_string(heads) + " heads of even size");
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) order[static_cast<size_t>(h * hd + j * half + i)] = h * hd + 2 * i + j;
  return order;
}

}  // namespace

bool HFPackedWeights::get(const HFModelDir& dir, const std::string& gguf_name, GGMLType* type,
                          const uint8_t** data) {
  const HFTensorInfo* t = dir.find(gguf_name);
  if (!t || !t->quant || t->quant->packed_type == GGMLType::F32) return false;
  const HFQuantizedLinear& l = *t->quant;
  // The mapped shape must be the whole linear (gemma3 cuts token_embd rows: leave that to F32).
  if (t->shape != std::vector<int64_t>{l.in_features, l.out_features}) return false;
  const size_t n = row_bytes(l.packed_type, l.in_features) * static_cast<size_t>(l.out_features);
  std::vector<uint8_t>& buf = buffers_.emplace_back(n);
  l.repack(buf.data(), ggml_row_order(dir, *t));
  bytes_ += n;
  *type = l.packed_type;
  *data = buf.data();
  return true;
}

}  // namespace squish
