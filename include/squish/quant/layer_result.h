// What quantizing one decoder layer produced: quantized matrices (SafeTensors schemes) or GGUF
// block rows (calibrated GGUF), F32 tensors the method changed (norms with folded scales), static
// input scales and per-linear error figures. Saved per layer so an interrupted run can resume.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/formats/number_formats.h"

namespace squish {

// Rows of a tensor already encoded in a GGUF type.
struct EncodedTensor {
  GGMLType type = GGMLType::F32;
  std::vector<uint8_t> bytes;
};

// Error figures of one quantized linear: tr(ΔW H ΔWᵀ)/tr(W H Wᵀ) on the calibration inputs.
struct LinearReport {
  std::string tensor;
  std::string method;        // "gptq", "rtn", "awq+rtn" ...
  double rel_error = 0;      // of the result
  double rel_error_rtn = -1; // plain rounding on the same grid (< 0: not measured)
};

// The results of one layer (or, merged, of a whole model).
struct LayerResult {
  std::map<std::string, QuantizedMatrix> matrices;      // by GGUF tensor name
  std::map<std::string, EncodedTensor> blocks;          // by GGUF tensor name
  std::map<std::string, std::vector<float>> replaced;   // changed F32 tensors by GGUF name
  std::map<std::string, float> input_scales;            // static activation scales by tensor
  std::vector<LinearReport> reports;
  // Largest |key| / |value| the quantized layer puts in the KV cache (post-RoPE keys), over the
  // calibration set, by the k / v projection's GGUF name ("blk.0.attn_k.weight").
  std::map<std::string, float> kv_absmax;

  // Moves other's entries into this one.
  void merge(LayerResult&& other);
  // Writes the result to `path` atomically.
  void save(const std::string& path) const;
  // Reads a file written by save(); throws Error naming the file when it is damaged.
  static LayerResult load(const std::string& path);
};

// A finished run's per-layer result files, read back one layer at a time, so that writing the
// output holds one layer's matrices and blocks instead of the whole model's.
class LayerResultFiles {
 public:
  // Reads each file once to index it, keeping only the small parts; throws Error for damaged files.
  explicit LayerResultFiles(std::vector<std::string> files);
  // Replaced tensors, input scales and reports of every layer (matrices and blocks left empty).
  const LayerResult& summary() const { return summary_; }
  // Every quantized matrix by GGUF name without its codes, scales and zeros (spec, shape, g_idx).
  const std::map<std::string, QuantizedMatrix>& matrix_shapes() const { return shapes_; }
  // Number of encoded tensors.
  size_t n_blocks() const { return block_file_.size(); }
  // The matrix / encoded tensor of that name (its layer read in, the previous one dropped), or null.
  // The pointer stays valid until the next call.
  const QuantizedMatrix* matrix(const std::string& name) const;
  const EncodedTensor* block(const std::string& name) const;

 private:
  const LayerResult& layer(size_t file) const;
  std::vector<std::string> files_;
  LayerResult summary_;
  std::map<std::string, QuantizedMatrix> shapes_;
  std::map<std::string, size_t> matrix_file_, block_file_;
  mutable size_t cached_ = SIZE_MAX;
  mutable LayerResult cache_;
};

}  // namespace squish
