// The F32 weights of a decoder-only transformer, under llama.cpp's GGUF tensor names.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "squish/model/config.h"

namespace squish {

// One F32 tensor; shape in ggml order (shape[0] is the row length). Empty when absent.
struct Weight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;

  // Whether the tensor is absent.
  bool empty() const { return data.empty(); }
  // Row length (shape[0]).
  int64_t cols() const { return shape.empty() ? 0 : shape[0]; }
  // Number of rows (product of shape[1..]).
  int64_t rows() const;
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
};

// Where weights come from: shapes and F32 values by GGUF tensor name.
struct TensorSource {
  // File or directory named in errors.
  std::string path;
  // Whether `name` exists; if so stores its shape (ggml order).
  std::function<bool(const std::string& name, std::vector<int64_t>* shape)> find;
  // Writes the F32 values of `name` (product of its shape) into dst.
  std::function<void(const std::string& name, float* dst)> read;
};

// All weights of a model.
class ModelWeights {
 public:
  Weight token_embd, output_norm, output;
  std::vector<LayerWeights> layers;

  // The output projection: output.weight, or token_embd when tied.
  const Weight& lm_head() const { return output.empty() ? token_embd : output; }
  // Total bytes of F32 data held.
  size_t bytes() const;

  // Loads every tensor the architecture needs from `src`, checking presence and shapes first
  // (Error naming the file and the tensor), then reading the values.
  static std::unique_ptr<ModelWeights> load(const ModelConfig& config, const TensorSource& src);
};

}  // namespace squish
