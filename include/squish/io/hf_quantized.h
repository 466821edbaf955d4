// Quantized linears of HF SafeTensors checkpoints whose config.json carries a
// quantization_config: compressed-tensors (pack-quantized INTk with optional zero points / g_idx,
// int-quantized and naive-quantized INT8, float-quantized FP8 E4M3; tensor, channel, group or
// block scales; dynamic per-token or static per-tensor input activations), AutoGPTQ (v1 with its
// zero − 1 convention, GPTQModel's v2) and AutoAWQ GEMM. Each linear is located by its stored
// tensors, checked against the config and dequantized to F32 the way the reference unpackers do:
// w = scale · (code − zero), computed in F32 from the stored scale. Where the grid maps onto a GGUF
// block type exactly (hf_quantized_repack.cpp) a linear can also be repacked into those blocks.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "squish/formats/activation_quant.h"
#include "squish/formats/ggml_type.h"
#include "squish/io/safetensors.h"

namespace squish {

// One quantized linear layer of a checkpoint, e.g. module "model.layers.0.self_attn.q_proj".
class HFQuantizedLinear {
 public:
  virtual ~HFQuantizedLinear() = default;

  std::string module;                         // HF module prefix (tensor names are module + ".…")
  int64_t out_features = 0, in_features = 0;  // the weight is [out_features, in_features] (HF)
  std::string scheme;                         // "gptq int4 asym group 128 g_idx", for inspection
  InputQuant input_quant = InputQuant::None;  // how vLLM quantizes the layer's input first
  float input_scale = 0.0f;                   // static input_quant: the stored input_scale
  const SafeTensor* weight = nullptr;         // the stored (packed) weight tensor
  // The GGUF block type (Q4_0, Q4_1, Q5_0, Q8_0) whose dequantization reproduces dequantize()
  // bit for bit, or F32 when none does (packed_note then says why).
  GGMLType packed_type = GGMLType::F32;
  std::string packed_note;  // why packed_type is F32 ("" when it is a block type)

  // Writes the dequantized [out_features, in_features] weight (row-major, HF order) into dst.
  virtual void dequantize(float* dst) const = 0;
  // Writes the weight as out_features rows of packed_type blocks (row_bytes(packed_type,
  // in_features) bytes each), HF row r at row dst_row[r] of dst (row r when dst_row is empty).
  // Throws squish::Error when packed_type is F32.
  virtual void repack(uint8_t* dst, const std::vector<int64_t>& dst_row = {}) const;
};

// The quantized linears of one checkpoint and the stored tensors they are made of.
struct HFQuantization {
  std::string method;  // quant_method: "compressed-tensors", "gptq" or "awq"
  std::vector<std::unique_ptr<HFQuantizedLinear>> linears;
  // Static FP8 KV-cache scales of a compressed-tensors kv_cache_scheme (type float), by attention
  // module ("model.layers.3.self_attn" -> {k_scale, v_scale}); empty otherwise.
  std::map<std::string, std::pair<float, float>> kv_fp8_scales;

  // Whether the stored tensor `name` belongs to a quantized linear (qweight, weight_scale, …).
  bool owns(const std::string& name) const { return owned_.count(name) > 0; }
  // The linear whose stored weight tensor is `name`, or nullptr.
  const HFQuantizedLinear* by_weight(const std::string& name) const;
  // Records a linear and the stored tensors it owns (used by the format readers).
  void add(std::unique_ptr<HFQuantizedLinear> l, const std::vector<std::string>& tensors);
  // Records a stored tensor meant for other runtimes (KV-cache k_scale / v_scale), skipped on load.
  void claim(const std::string& tensor) { owned_.insert(tensor); }

 private:
  std::unordered_set<std::string> owned_;
  std::unordered_map<std::string, const HFQuantizedLinear*> by_weight_;
};

// The quantization_config of an HF directory: config.json's "quantization_config", else the
// AutoGPTQ-era quantize_config.json (given quant_method "gptq"); null when the checkpoint is dense.
// Throws squish::Error(dir, …) for unreadable files.
nlohmann::json read_hf_quantization_config(const std::string& dir);

// Reads the quantized linears of checkpoint `st` (in directory `dir`) described by `qconfig`.
// Static input scales of linears vLLM fuses (q/k/v, gate/up) become their maximum, as vLLM does.
// Throws squish::Error(dir, problem) for unsupported methods, formats, bit widths or strategies,
// and for missing, mistyped or misshapen tensors.
HFQuantization read_hf_quantization(const std::string& dir, const nlohmann::json& qconfig,
                                    const SafeTensorsSet& st);

}  // namespace squish
