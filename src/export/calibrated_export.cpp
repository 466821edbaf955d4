// The engine's results into GGUF (encoded blocks) or a SafeTensors checkpoint (overlay + writer).
#include "squish/export/calibrated_export.h"

#include <filesystem>

#include "squish/arch/tensor_names.h"
#include "squish/common/dir_lock.h"
#include "squish/common/error.h"
#include "squish/export/overlay_source.h"
#include "squish/model/model.h"
#include "squish/quant/gguf_layer_quantizer.h"
#include "squish/quant/recipe_quantizer.h"

namespace squish {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<const Model> load_for_calibration(const std::string& input) {
  LoadOptions lo;
  lo.keep_quantized = true;  // GGUF blocks stay mapped; the engine dequantizes one layer at a time
  lo.repack = false;         // no second, panel-layout copy of the weights
  return Model::load(input, lo);
}

void remove_state(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

QuantizeReport quantize_calibrated_gguf(const std::string& input, const std::string& out_path,
                                        QuantizeOptions qopt, EngineOptions eopt,
                                        EngineReport* engine_report) {
  std::error_code ec;
  if (!qopt.overwrite && fs::exists(out_path, ec)) throw Error(out_path, "output exists (use --force to overwrite)");
  if (eopt.state_dir.empty()) eopt.state_dir = out_path + ".partial";
  const DirLock lock(eopt.state_dir, "writing " + out_path);
  const auto source = open_model_source(input);
  eopt.gather_results = false;
  EngineReport rep;
  {  // the model (its mapping too) is released before the output is written
    const auto model = load_for_calibration(input);
    GgufLayerQuantizer quantizer(gguf_tensor_types(*source, qopt), qopt.imatrix, qopt.gptq_damp, qopt.gptq_measure);
    rep = run_calibration(model, quantizer, eopt);
  }
  const LayerResultFiles results(rep.layer_files);
  qopt.encoded = [&results](const std::string& name) { return results.block(name); };
  const QuantizeReport q = quantize_to_gguf(*source, out_path, qopt);
  rep.result = results.summary();
  rep.n_blocks = results.n_blocks();
  rep.peak_rss = peak_rss_bytes();
  remove_state(eopt.state_dir);
  if (engine_report) *engine_report = std::move(rep);
  return q;
}

void check_recipe_for_input(const std::string& input, const Recipe& recipe) {
  check_recipe_for_source(*open_model_source(input), recipe, input);
}

void check_recipe_for_source(const ModelSource& source, const Recipe& recipe, const std::string& input) {
  const GGUFValue* arch_value = source.find("general.architecture");
  const std::string arch = arch_value ? arch_value->as_string() : "";
  std::vector<RecipeTensor> linears;
  for (const SourceTensor& t : source.tensors()) {
    if (t.shape.size() != 2 || t.name.rfind("blk.", 0) != 0) continue;
    std::string hf;
    try {
      hf = hf_tensor_name(arch, t.name);
    } catch (const Error&) {
      continue;
    }
    if (hf.size() < 12 || hf.compare(hf.size() - 12, 12, "_proj.weight") != 0) continue;
    linears.push_back({t.name, hf.substr(0, hf.size() - 7), t.shape[1], t.shape[0]});
  }
  validate_recipe(recipe, input);
  validate_recipe_for_model(recipe, linears, input);
}

EngineReport write_calibrated_checkpoint(const std::string& input, const Recipe& recipe,
                                         CheckpointOptions copt, EngineOptions eopt, bool measure) {
  std::error_code ec;
  if (!copt.overwrite && fs::exists(copt.out_dir, ec))
    throw Error(copt.out_dir, "already exists (use --force to overwrite)");
  if (eopt.state_dir.empty()) eopt.state_dir = copt.out_dir + ".partial";
  const DirLock lock(eopt.state_dir, "writing " + copt.out_dir);
  copt.staging_dir = eopt.state_dir;  // a kill while writing leaves nothing beside the output
  const auto source = open_model_source(input);
  check_recipe_for_source(*source, recipe, input);
  if (recipe.kv_cache != KvCacheScheme::None && copt.format != CheckpointFormat::CompressedTensors)
    throw Error(copt.out_dir, "KV-cache scales are written in compressed-tensors checkpoints only (--format compressed-tensors)");
  eopt.calib.path = recipe.calib_path.empty() ? eopt.calib.path : recipe.calib_path;
  eopt.gather_results = false;
  EngineReport rep;
  {  // the model (its mapping too) is released before the output is written
    const auto model = load_for_calibration(input);
    RecipeQuantizer quantizer(recipe, model->config(), measure, stored_scale_dtype(copt));
    rep = run_calibration(model, quantizer, eopt);
  }
  const LayerResultFiles results(rep.layer_files);
  rep.result = results.summary();
  rep.n_matrices = results.matrix_shapes().size();
  if (recipe.activations == InputQuant::Int8PerToken || recipe.activations == InputQuant::Fp8PerToken)
    copt.activations = ActivationQuant::DynamicPerToken;
  else if (recipe.activations != InputQuant::None)
    copt.activations = ActivationQuant::StaticPerTensor;
  copt.input_scales = rep.result.input_scales;
  copt.kv_cache = recipe.kv_cache;
  copt.kv_absmax = rep.result.kv_absmax;
  copt.notes["recipe"] = describe_recipe(recipe);
  const auto src = overlay_source(*source, rep.result.replaced);
  QuantizedTensors q;  // read back one layer at a time
  q.shapes = &results.matrix_shapes();
  q.get = [&results](const std::string& name) { return results.matrix(name); };
  write_checkpoint(*src, q, copt);
  rep.peak_rss = peak_rss_bytes();
  remove_state(eopt.state_dir);
  return rep;
}

}  // namespace squish
