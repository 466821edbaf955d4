// A loaded model (weights dequantized to F32 + tokenizer) and sessions that run it with a KV cache.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "squish/arch/config.h"
#include "squish/model/kv_cache_type.h"
#include "squish/model/tokenizer.h"

namespace squish {

class ModelWeights;  // defined by the implementation
class KVCache;       // defined by the implementation (src/model/kv_cache.h)
class SessionScratch;  // per-session work buffers (implementation)

// The input of one linear layer during Session::eval: `data` is [n_tokens x n_cols] row-major,
// valid only during the call. layer is the block index (n_layer for the output projection).
struct LinearInput {
  int64_t layer;
  const std::string& tensor;  // GGUF tensor name, e.g. "blk.3.attn_q.weight"
  const float* data;
  int64_t n_tokens;
  int64_t n_cols;
  int64_t expert = -1;     // a stacked expert tensor (ffn_*_exps): the expert these tokens are routed
                           // to, -1 otherwise
  int64_t n_experts = 0;   // with expert >= 0: the experts in the tensor
};
// Receives linear-layer inputs (for calibration statistics). Called from the evaluating thread.
using LinearObserver = std::function<void(const LinearInput&)>;

// A conversion of every decoder linear (not embeddings or lm_head) at load, as bitsandbytes'
// load_in_8bit / load_in_4bit do (`--convert`, src/model/weight_conversion.cpp).
enum class WeightConversion {
  None,
  W8A8,     // per-row INT8 weights, per-token INT8 inputs, integer dots
  LlmInt8,  // W8A8 with LLM.int8()'s outlier columns (|x| > llm_int8_threshold) in F32
  Fp8,      // per-row FP8 E4M3 weights, F32 inputs
  Nf4,      // NF4 in blocks of 64 with absmax scales, F32 inputs
};

// How Model::load holds the weights.
struct LoadOptions {
  // Keep GGUF matrices in their quantized block format (run by the quantized kernels, no F32
  // copy); false dequantizes everything to F32 (needed to edit weights, e.g. for calibration).
  // With a conversion: true runs the converted layout's kernels, false holds the converted
  // weights dequantized to F32 (W8A8 then rounds each input per token as the kernel does;
  // LLM.int8() keeps F32 inputs) — the reference the kernels are measured against.
  bool keep_quantized = false;
  WeightConversion convert = WeightConversion::None;
  float llm_int8_threshold = 6.0f;  // LlmInt8: bitsandbytes' default outlier threshold
  // keep_quantized GGUF rows also repacked into the VNNI panel layout (a second copy, for speed);
  // calibration, which dequantizes one layer at a time, turns it off.
  bool repack = true;
};

// "none", "w8a8", "llm-int8", "fp8", "nf4".
std::string conversion_name(WeightConversion c);
// Parses conversion_name's names; throws squish::Error for others.
WeightConversion parse_conversion(const std::string& name);

// A model ready for inference. Thread-safe for concurrent sessions (weights are read-only).
class Model {
 public:
  // Loads a GGUF file or an HF model directory (config.json + *.safetensors + tokenizer.json).
  // Throws squish::Error naming the file for unknown architectures, missing tensors, bad shapes.
  static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ModelWeights& weights() const { return *weights_; }
  // Mutable weights, for experiments that change a tensor between evaluations (e.g. sensitivity
  // analysis). No session of this model may run while they change.
  ModelWeights& edit_weights() { return *weights_; }
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
  // kv_type: how the cache stores keys and values (F32: exact).
  Session(std::shared_ptr<const Model> model, int64_t n_ctx, KVCacheType kv_type = KVCacheType::F32);
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
  // Drops cache positions >= n (n <= n_past()), e.g. to re-evaluate from a shared prefix.
  void truncate(int64_t n);
  const Model& model() const { return *model_; }
  // Installs (or with an empty function removes) an observer of every linear layer's input.
  // q/k/v (and gate/up) share one input and are reported once each under their own names.
  void set_observer(LinearObserver observer) { observer_ = std::move(observer); }
  // Bytes held by the KV cache.
  size_t kv_cache_bytes() const;

 private:
  void eval_ubatch(std::span<const int32_t> tokens, bool all_logits, float* logits);

  std::shared_ptr<const Model> model_;
  std::unique_ptr<KVCache> cache_;
  std::unique_ptr<SessionScratch> scratch_;
  LinearObserver observer_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
};

}  // namespace squish
