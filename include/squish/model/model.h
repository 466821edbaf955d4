// A loaded model (weights dequantized to F32 + tokenizer) and sessions that run it with a KV cache.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "squish/model/config.h"
#include "squish/model/tokenizer.h"

namespace squish {

class ModelWeights;  // defined by the implementation
class KVCache;       // defined by the implementation

// A model ready for inference. Thread-safe for concurrent sessions (weights are read-only).
class Model {
 public:
  // Loads a GGUF file or an HF model directory (config.json + *.safetensors + tokenizer.json).
  // Throws squish::Error naming the file for unknown architectures, missing tensors, bad shapes.
  static std::shared_ptr<Model> load(const std::string& path);
  ~Model();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ModelWeights& weights() const { return *weights_; }
  // The path it was loaded from.
  const std::string& path() const { return path_; }
  // Chat template from metadata (may be empty).
  const std::string& chat_template() const { return chat_template_; }

  Model(ModelConfig config, std::unique_ptr<Tokenizer> tokenizer,
        std::unique_ptr<ModelWeights> weights, std::string path, std::string chat_template);

 private:
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ModelWeights> weights_;
  std::string path_;
  std::string chat_template_;
};

// One sequence being evaluated: owns a KV cache of up to n_ctx positions.
class Session {
 public:
  Session(std::shared_ptr<const Model> model, int64_t n_ctx);
  ~Session();

  // Evaluates `tokens` at positions n_past() .. n_past()+n-1 (batched), appending to the cache.
  // Returns logits row-major [n x n_vocab] when all_logits, else only the last position's [n_vocab].
  // Throws squish::Error when the context would overflow.
  std::vector<float> eval(std::span<const int32_t> tokens, bool all_logits = false);
  // Number of positions in the cache.
  int64_t n_past() const { return n_past_; }
  // Context capacity.
  int64_t n_ctx() const { return n_ctx_; }
  // Clears the cache.
  void reset();
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<KVCache> cache_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
};

}  // namespace squish
