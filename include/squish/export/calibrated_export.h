// Calibrated outputs end to end: the layer-by-layer engine over a model, then its results written
// as a GGUF file of a llama.cpp mix (GPTQ inside the blocks) or as an HF SafeTensors checkpoint of a
// recipe's scheme (compressed-tensors, GPTQ, AWQ). The resumable state lives in OUT + ".partial"
// and is removed once the output is in place.
#pragma once
#include <string>

#include "squish/export/checkpoint_writer.h"
#include "squish/export/gguf_quantize.h"
#include "squish/quant/calibration_engine.h"
#include "squish/quant/recipe.h"

namespace squish {

// GGUF: the mix of qopt.ftype with every decoder linear quantized by the engine (GPTQ where the
// type allows it). eopt.state_dir defaults to out_path + ".partial".
QuantizeReport quantize_calibrated_gguf(const std::string& input, const std::string& out_path,
                                        QuantizeOptions qopt, EngineOptions eopt,
                                        EngineReport* engine_report = nullptr);

// Checks a recipe against the model's linears (targets, group sizes, ...) without any long work;
// throws Error(input, ...) as write_calibrated_checkpoint would.
void check_recipe_for_input(const std::string& input, const Recipe& recipe);
// The same for an open source (errors name `input`).
void check_recipe_for_source(const ModelSource& source, const Recipe& recipe, const std::string& input);

// SafeTensors: the recipe applied layer by layer, written to copt.out_dir in copt.format. The
// recipe is validated against the model before any long work.
EngineReport write_calibrated_checkpoint(const std::string& input, const Recipe& recipe,
                                         CheckpointOptions copt, EngineOptions eopt, bool measure);

}  // namespace squish
