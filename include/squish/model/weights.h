// The F32 weights of a decoder-only transformer, under llama.cpp's GGUF tensor names.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "squish/arch/config.h"
#include "squish/arch/tensor_registry.h"
#include "squish/formats/activation_quant.h"
#include "squish/formats/ggml_type.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/scaled_matrix.h"

namespace squish {

// One tensor; shape in ggml order (shape[0] is the row length). Empty when absent. Held either as
// F32 values (data) or, when the model keeps weights quantized, as rows of a GGUF type in the
// mapped file (packed, row_bytes(type, cols) bytes per row; data then empty), or converted at load
// into one of squish's runtime layouts (scaled: INT8 / FP8 / NF4 codes with scales).
struct Weight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
  GGMLType type = GGMLType::F32;   // storage type of `packed` (F32 when held in data)
  const uint8_t* packed = nullptr; // quantized rows (owned by ModelWeights::storage)
  InputQuant input_quant = InputQuant::None;  // linears: how the input is quantized first
  float input_scale = 0.0f;                   // Static input_quant: the calibrated scale
  std::shared_ptr<const kernels::ScaledMatrix> scaled;  // runtime layout (then data empty, packed null)
  std::shared_ptr<const kernels::BlockPanels> panels;   // packed rows repacked for the panel kernel
                                                        // (packed stays: embedding rows read it)

  // Whether the tensor is absent.
  bool empty() const { return data.empty() && packed == nullptr && !scaled; }
  // Whether the values are held quantized (GGUF blocks) rather than as F32 or scaled.
  bool is_packed() const { return packed != nullptr; }
  // Whether the values are held in a runtime ScaledMatrix layout.
  bool is_scaled() const { return scaled != nullptr; }
  // Bytes held (F32 values, packed rows or the scaled layout).
  size_t bytes() const;
  // Row r as F32 into dst[cols()] (dequantizing packed or scaled rows).
  void row_f32(int64_t r, float* dst) const;
  // Row length (shape[0]).
  int64_t cols() const { return shape.empty() ? 0 : shape[0]; }
  // Number of rows (product of shape[1..]).
  int64_t rows() const;
  // Rows of one matrix of a stacked (3-D) tensor: shape[1].
  int64_t matrix_rows() const { return shape.size() > 1 ? shape[1] : 1; }
  // First element (nullptr when absent).
  const float* ptr() const { return data.empty() ? nullptr : data.data(); }
};

// Weights of one decoder block (absent tensors are empty).
struct LayerWeights {
  Weight attn_norm, attn_q, attn_k, attn_v, attn_output;
  Weight attn_q_bias, attn_k_bias, attn_v_bias;  // qwen2 (optional for llama)
  Weight attn_q_norm, attn_k_norm;               // gemma3 QK-norm
  Weight post_attention_norm, post_ffw_norm;     // gemma3 post-norms
  Weight ffn_norm, ffn_gate, ffn_up, ffn_down;
  Weight ffn_gate_inp;                             // mixture of experts: the router
  Weight ffn_gate_exps, ffn_up_exps, ffn_down_exps;  // every expert's matrix, stacked (3-D)

  // The member holding tensor kind k; nullptr for kinds the forward pass does not use
  // (attn_output.bias).
  Weight* find(LayerTensor k);
  const Weight* find(LayerTensor k) const;
};

// Calls f(spec, weight) for every tensor kind of `arch` that layer L holds a member for, in load
// order (one visitor for loading, sizes and calibration, as gemma.cpp's ForEachTensor).
template <class Layer, class F>
void for_each_tensor(const ArchSpec& arch, Layer& L, F&& f) {
  for_each_layer_tensor(arch, [&](LayerTensor kind, const TensorSpec& spec) {
    if (auto* w = L.find(kind)) f(spec, *w);
  });
}

// Where weights come from: shapes and F32 values by GGUF tensor name.
struct TensorSource {
  // File or directory named in errors.
  std::string path;
  // Whether `name` exists; if so stores its shape (ggml order).
  std::function<bool(const std::string& name, std::vector<int64_t>* shape)> find;
  // Writes the F32 values of `name` (product of its shape) into dst.
  std::function<void(const std::string& name, float* dst)> read;
  // Optional: the stored rows of `name` without conversion (type and a pointer valid while the
  // source's storage lives); false when not available.
  std::function<bool(const std::string& name, GGMLType* type, const uint8_t** data)> raw;
  // Keeps what raw() points into alive (e.g. the mapped file).
  std::shared_ptr<const void> storage;
  // raw() points into a read-only file mapping, whose pages may be dropped and read back.
  bool raw_is_file_mapping = false;
  // Optional: whether linear `name` quantizes its input before the product (W8A8 / FP8
  // checkpoints), and if so how (and the static scale). Unset for an HF directory: ModelWeights::load
  // asks the directory's quantization_config.
  std::function<bool(const std::string& name, InputQuant* quant, float* scale)> input_quant;
};

// All weights of a model.
class ModelWeights {
 public:
  Weight token_embd, output_norm, output;
  std::vector<LayerWeights> layers;

  // The output projection: output.weight, or token_embd when tied.
  const Weight& lm_head() const { return output.empty() ? token_embd : output; }
  // Owner of packed weights' bytes (the mapped file); null when everything is F32.
  std::shared_ptr<const void> storage;
  // The packed bytes are pages of a read-only file mapping (release_mapped_pages may drop them).
  bool packed_in_file_mapping = false;
  // Static FP8 KV-cache scales per layer (a compressed-tensors checkpoint's k_scale / v_scale), used
  // by an FP8 cache instead of its per-row scales; empty when the model has none.
  std::vector<float> kv_k_scale, kv_v_scale;

  // Total bytes of weight data held (F32 values plus packed rows).
  size_t bytes() const;

  // Loads every tensor the architecture needs from `src`, checking presence and shapes first
  // (Error naming the file and the tensor), then reading the values. With keep_quantized, matrices
  // stored in a non-F32 type stay packed (src.raw) instead of being dequantized. Matrices get the
  // input quantization src.input_quant reports.
  static std::unique_ptr<ModelWeights> load(const ModelConfig& config, const TensorSource& src,
                                            bool keep_quantized = false);
};

}  // namespace squish
