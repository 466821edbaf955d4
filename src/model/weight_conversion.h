// Conversion of a loaded model's decoder linears into squish's runtime layouts (LoadOptions).
#pragma once
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish {

// Applies options.convert to every decoder linear (kernels when keep_quantized, else the
// dequantized F32 reference). Without a conversion but with keep_quantized, linears of W8A8 INT8
// and FP8 checkpoints (inputs quantized, F32 weights) move to the INT8 / FP8 layout when that
// reproduces every weight bit for bit, so they run on the integer-dot / FP8 kernels; and GGUF
// Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 linears and lm_head get BlockPanels for the AVX-512 VNNI panel kernel.
void convert_linears(ModelWeights& weights, const LoadOptions& options);

}  // namespace squish
