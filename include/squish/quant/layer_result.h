// What quantizing one decoder layer produced: quantized matrices (SafeTensors schemes) or GGUF
// block rows (calibrated GGUF), F32 tensors the method changed (norms with folded scales), static
// input scales and per-linear error figures. Saved per layer so an interrupted run can resume.
#pragma once
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

  // Moves other's entries into this one.
  void merge(LayerResult&& other);
  // Writes the result to `path` atomically.
  void save(const std::string& path) const;
  // Reads a file written by save(); throws Error naming the file when it is damaged.
  static LayerResult load(const std::string& path);
};

}  // namespace squish
