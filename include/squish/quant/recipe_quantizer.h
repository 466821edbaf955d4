// The LayerQuantizer of SafeTensors schemes: a Recipe's modifiers applied to one decoder layer —
// SmoothQuant and AWQ scales folded into the preceding norm (q/k/v, gate/up) or linear (v → o
// when heads are not grouped, up → down), then GPTQ or RTN onto the scheme's grid — leaving the
// layer's F32 weights as the quantized model computes (activation quantization included).
#pragma once
#include <string>

#include "squish/io/safetensors.h"
#include "squish/arch/config.h"
#include "squish/quant/calibration_engine.h"
#include "squish/quant/recipe.h"

namespace squish {

// Applies `recipe` layer by layer.
class RecipeQuantizer : public LayerQuantizer {
 public:
  // measure: also compute each linear's output error and plain rounding's (costs a product per
  // linear). scale_dtype: what the output stores weight scales in (stored_scale_dtype); each scale
  // is rounded to it before the layer's values are fixed, so the layers after are calibrated on
  // exactly the exported weights.
  RecipeQuantizer(Recipe recipe, const ModelConfig& config, bool measure,
                  STDType scale_dtype = STDType::F32);
  LayerStatsOptions stats_options() const override;
  LayerResult quantize(int64_t il, LayerWeights& L, LayerStats& stats) override;
  std::string fingerprint() const override;

 private:
  Recipe recipe_;
  const ModelConfig& config_;
  std::string arch_;
  bool measure_;
  STDType scale_dtype_;
};

}  // namespace squish
