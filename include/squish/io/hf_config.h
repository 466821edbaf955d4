// Hugging Face model-directory JSON files: config.json -> squish::ModelConfig (the way llama.cpp's
// convert_hf_to_gguf.py + llama.cpp's loader would see it) and generation_config.json.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "squish/arch/config.h"
#include "squish/arch/rope_scaling.h"

namespace squish {

// What config.json says beyond ModelConfig (kept for inspection and conversion).
struct HFConfigExtras {
  std::string model_type;              // "llama", "qwen2", "gemma3", "gemma3_text"
  std::string architecture;            // architectures[0], e.g. "LlamaForCausalLM"
  std::string torch_dtype;             // "bfloat16", ... (may be empty)
  int64_t vocab_size = 0;              // config vocab_size (token_embd may be cut to the tokenizer's)
  bool tie_word_embeddings = false;    // as written in config.json (default per model_type)
  float query_pre_attn_scalar = 0.f;   // gemma3 (0 when absent)
  int64_t sliding_window_pattern = 0;  // gemma3 (0 when absent)
  std::string rope_scaling_type;       // "", "linear", "llama3", "yarn", ...
  float rope_scaling_factor = 1.f;
  Llama3RopeScaling llama3_rope;       // rope_scaling_type "llama3": its parameters
  std::vector<int32_t> bos_token_ids;  // config.json bos_token_id (int or list)
  std::vector<int32_t> eos_token_ids;  // config.json eos_token_id (int or list)
};

// Reads config.json (nested "text_config" of multimodal checkpoints is merged in).
// Throws squish::Error naming the file for bad JSON, an unsupported model_type, missing or
// out-of-range hyper-parameters. n_vocab is config vocab_size; the loader may refine it.
ModelConfig read_hf_config(const std::string& config_json_path, HFConfigExtras* extras = nullptr);

// generation_config.json: stop tokens and sampling defaults (every field optional).
struct HFGenerationConfig {
  std::vector<int32_t> eos_token_ids;  // eos_token_id (int or list)
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> pad_token_id;
  std::optional<bool> do_sample;
  std::optional<float> temperature;
  std::optional<int32_t> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::optional<int64_t> max_new_tokens;
  std::optional<int64_t> max_length;
};

// Reads generation_config.json; throws squish::Error naming the file for bad JSON or wrong types.
HFGenerationConfig read_hf_generation_config(const std::string& path);

}  // namespace squish
