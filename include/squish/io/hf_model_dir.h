// An HF model directory (config.json, *.safetensors [+ index], tokenizer.json,
// generation_config.json) presented the way llama.cpp's convert_hf_to_gguf.py would write it:
// GGUF tensor names, ggml shape order, q/k RoPE permutation (llama), gemma3 norm +1, F32 values.
// Quantized checkpoints (a quantization_config: compressed-tensors, GPTQ, AWQ) present each
// quantized linear as its dequantized weight (see hf_quantized.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "squish/formats/activation_quant.h"
#include "squish/io/hf_config.h"
#include "squish/io/hf_quantized.h"
#include "squish/io/safetensors.h"
#include "squish/arch/config.h"

namespace squish {

// One weight under its GGUF name.
struct HFTensorInfo {
  std::string gguf_name;       // "blk.3.attn_q.weight"
  std::string hf_name;         // "model.layers.3.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length (reverse of HF's)
  const SafeTensor* source = nullptr;  // the stored tensor (dtype, raw bytes; a quantized
                                       // linear's packed weight — read it through tensor_f32)
  const HFQuantizedLinear* quant = nullptr;  // the quantized linear, or nullptr when dense
  std::vector<const SafeTensor*> experts;  // a stacked expert tensor: each expert's HF tensor
                                           // (source is experts[0]); empty otherwise

  // Total number of elements.
  int64_t n_elements() const;
};

// A loaded (memory-mapped) HF model directory. Thread-safe for concurrent reads.
class HFModelDir {
 public:
  // Opens and validates `dir`; throws squish::Error naming the offending file.
  explicit HFModelDir(const std::string& dir);

  // The directory.
  const std::string& path() const { return dir_; }
  // Hyper-parameters as llama.cpp would load them from the converted GGUF.
  const ModelConfig& config() const { return config_; }
  // config.json details not in ModelConfig.
  const HFConfigExtras& extras() const { return extras_; }
  // generation_config.json (defaults when the file is absent).
  const HFGenerationConfig& generation_config() const { return gen_; }
  // End-of-generation token ids: generation_config's, else config.json's.
  std::vector<int32_t> eos_token_ids() const;
  // Path of tokenizer.json ("" when absent).
  const std::string& tokenizer_json_path() const { return tokenizer_json_; }
  // Path of tokenizer_config.json ("" when absent).
  const std::string& tokenizer_config_path() const { return tokenizer_config_; }
  // chat_template from tokenizer_config.json or chat_template.jinja ("" when none).
  const std::string& chat_template() const { return chat_template_; }

  // Every mapped weight, in checkpoint order.
  const std::vector<HFTensorInfo>& tensors() const { return tensors_; }
  // Weight by GGUF name, or nullptr.
  const HFTensorInfo* find(const std::string& gguf_name) const;
  // Weight by GGUF name; throws Error "missing tensor NAME".
  const HFTensorInfo& tensor(const std::string& gguf_name) const;
  // The weight as F32 in ggml order with the converter's transformations applied.
  std::vector<float> tensor_f32(const std::string& gguf_name) const;
  // Same into dst (n_elements() floats).
  void tensor_f32(const HFTensorInfo& t, float* dst) const;
  // The underlying checkpoint.
  const SafeTensorsSet& safetensors() const { return st_; }
  // The quantized linears (config.json quantization_config), or nullptr for a dense checkpoint.
  const HFQuantization* quantization() const { return quant_.get(); }
  // How the input of `gguf_name` is quantized before the product (W8A8 / FP8 checkpoints that
  // declare input_activations); false for every other tensor.
  bool input_quant(const std::string& gguf_name, InputQuant* quant, float* scale) const;

 private:
  // Records HF tensor t as expert `expert` of the stacked tensor gguf_name (checks count, shape, dtype).
  void add_expert(const std::string& gguf_name, int64_t expert, const SafeTensor* t, bool quantized);

  std::string dir_;
  ModelConfig config_;
  HFConfigExtras extras_;
  HFGenerationConfig gen_;
  std::string tokenizer_json_;
  std::string tokenizer_config_;
  std::string chat_template_;
  SafeTensorsSet st_;
  std::unique_ptr<HFQuantization> quant_;
  std::vector<HFTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// Opens an HF model directory (see HFModelDir).
std::unique_ptr<HFModelDir> load_hf_model_dir(const std::string& dir);
// Whether `path` is a directory holding config.json (i.e. looks like an HF model directory).
bool is_hf_model_dir(const std::string& path);

}  // namespace squish
