// The LayerQuantizer of "calibrated GGUF": each decoder linear gets the type of the llama.cpp mix
// and, where squish can carry GPTQ out inside that type's blocks, GPTQ on the layer's calibrated
// inputs (the quantized earlier layers' outputs); other types are rounded as llama-quantize rounds
// them. Block scales are chosen with the input's importance (Σx² per column: the imatrix).
#pragma once
#include <map>
#include <string>

#include "squish/formats/ggml_type.h"
#include "squish/quant/calibration_engine.h"

namespace squish {

class ImportanceMatrix;

// GPTQ inside GGUF blocks, layer by layer.
class GgufLayerQuantizer : public LayerQuantizer {
 public:
  // types: the mix's type of every tensor (gguf_tensor_types); imatrix: a user importance matrix
  // to use instead of the calibration statistics' (may be null); measure: error figures.
  GgufLayerQuantizer(std::map<std::string, GGMLType> types, const ImportanceMatrix* imatrix,
                     double damp, bool measure);
  LayerStatsOptions stats_options() const override;
  LayerResult quantize(int64_t il, LayerWeights& L, LayerStats& stats) override;
  std::string fingerprint() const override;

 private:
  std::map<std::string, GGMLType> types_;
  const ImportanceMatrix* imatrix_;
  double damp_;
  bool measure_;
};

}  // namespace squish
