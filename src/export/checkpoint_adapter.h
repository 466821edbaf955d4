// Internal: one adapter per quantized checkpoint format (compressed-tensors, GPTQ, AWQ). Each adds
// a linear layer's tensors under its HF module prefix and describes the whole checkpoint's
// quantization_config.
#pragma once
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "squish/export/checkpoint_writer.h"
#include "squish/io/safetensors_writer.h"

namespace squish {

// A quantized linear: its HF module prefix ("model.layers.0.self_attn.q_proj") and the matrix
// already in HF row order, as stored_matrix() returns it.
struct QuantizedLinear {
  std::string gguf_name;
  std::string module;
  const QuantizedMatrix* q = nullptr;
};

// The pieces a format contributes.
class CheckpointAdapter {
 public:
  virtual ~CheckpointAdapter() = default;
  // Throws squish::Error when the format cannot store the matrix.
  virtual void check(const QuantizedLinear& l) const = 0;
  // Adds the tensors of one quantized linear.
  virtual void add(SafeTensorsWriter& w, const QuantizedLinear& l) const = 0;
  // config.json "quantization_config" given all quantized linears and the unquantized linear modules.
  virtual nlohmann::ordered_json config(const std::vector<QuantizedLinear>& ls,
                                        const std::vector<std::string>& unquantized_modules) const = 0;
  // Extra files (name -> contents), e.g. GPTQ's quantize_config.json.
  virtual std::map<std::string, std::string> extra_files(const nlohmann::ordered_json& qconfig) const {
    return {};
  }
};

// Adapter factories (one file each).
std::unique_ptr<CheckpointAdapter> make_compressed_tensors_adapter(const CheckpointOptions& opt);
std::unique_ptr<CheckpointAdapter> make_gptq_adapter(const CheckpointOptions& opt);
std::unique_ptr<CheckpointAdapter> make_awq_adapter(const CheckpointOptions& opt);

// STDType of a dtype name ("bfloat16", "float16", "float32"); throws for others.
STDType checkpoint_dtype(const std::string& name);
// Packs n unsigned values of `bits` bits into a dense little-endian bit stream of int32 words
// (element i at bit i*bits), as compressed-tensors' pack_to_int32 does.
std::vector<int32_t> pack_dense_int32(const std::vector<uint32_t>& v, int bits);
// Bytes of a vector of trivially copyable values.
template <class T>
std::vector<uint8_t> to_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace squish
