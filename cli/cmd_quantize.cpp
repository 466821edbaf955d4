// `squish quantize IN OUT`: the flags of cli/run/quantize.h's run_quantize (GGUF mixes with --type,
// SafeTensors checkpoints with --scheme/--recipe).
#include <memory>
#include <string>

#include "command.h"
#include "run/quantize.h"
#include "squish/quant/file_type.h"
#include "squish/quant/recipe.h"

namespace squish::cli {
namespace {

std::string join_names(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

CommandRegistrar reg(30, [](CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Quantize a model into a GGUF mix (--type, llama.cpp's rules) or a SafeTensors checkpoint (--scheme/--recipe)");
  cmd->add_option("input", a->input, "GGUF file or HF model directory")->required();
  cmd->add_option("output", a->output, "Output GGUF file (--type) or HF directory (--scheme/--recipe)")->required();
  cmd->add_option("--type", a->type, "GGUF mix: " + join_names(file_type_names()));
  cmd->add_option("--scheme", a->scheme, "SafeTensors scheme: W4A16, W4A16_ASYM, W8A16, W8A8, FP8, FP8_DYNAMIC, W3A16, W2A16");
  cmd->add_option("--recipe", a->recipe, "YAML recipe (llm-compressor's layout or squish's; docs/recipes)");
  cmd->add_option("--format", a->format, "checkpoint format: compressed-tensors, gptq, awq")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "checkpoint dtype of unquantized tensors and scales")->capture_default_str();
  cmd->add_option("--kv-cache-scheme", a->kv_cache, "Calibrate static KV-cache scales (k_scale / v_scale): fp8, int8, none")
      ->check(CLI::IsMember({"fp8", "int8", "none"}));
  cmd->add_option("--group-size", a->group_size, "weight group size (0: per channel; default: the scheme's)");
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix (squish or llama.cpp, GGUF or .dat)");
  add_threads_option(cmd, a->threads);
  add_force_flag(cmd, a->force);
  cmd->add_flag("--leave-output-tensor", a->leave_output, "Keep output.weight in its input type");
  cmd->add_option("--method", a->method, "rtn, gptq (GGUF: GPTQ inside the blocks), awq, smoothquant; combine as smoothquant,gptq")->capture_default_str();
  CLI::Option* calib = cmd->add_option("--calib", a->calib, "Calibration text or JSONL (default: ../shared/data/calibration-mix.txt)");
  CLI::Option* samples = cmd->add_option("--samples", a->samples, "Calibration samples")->capture_default_str()->check(CLI::Range(int64_t{1}, squish::kMaxCalibrationCount));
  CLI::Option* seq_len = cmd->add_option("--seq-len", a->seq_len, "Tokens per calibration sample")->capture_default_str()->check(CLI::Range(int64_t{2}, squish::kMaxCalibrationCount));
  CLI::Option* seed = cmd->add_option("--seed", a->seed, "Seed of the calibration windows")->capture_default_str();
  cmd->add_option("--damp", a->damp, "GPTQ dampening (fraction of the mean Hessian diagonal)")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--act-order", a->act_order,
                  "GPTQ column order (llm-compressor's actorder): static = decreasing Hessian diagonal with groups "
                  "fixed from the original weights; group = the same order, groups formed in it (g_idx; --format gptq); "
                  "off = column order, each group's scale chosen when the solver reaches it")
      ->check(CLI::IsMember({"static", "group", "off"}))
      ->capture_default_str();
  cmd->add_option("--alpha", a->alpha, "SmoothQuant migration strength")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--awq-clip", a->awq_clip, "AWQ: also search per-group clipping");
  cmd->add_option("--max-memory", a->max_memory, "Budget for calibration activations (e.g. 512M); beyond it they spill to a scratch file");
  cmd->add_flag("--resume", a->resume, "Continue an interrupted calibrated run from its last finished layer (OUT.partial)");
  cmd->add_flag("-v,--verbose", a->verbose, "Per-linear output errors vs plain rounding (slower)");
  cmd->add_flag("--pure", a->pure, "No mix rules: every quantizable tensor gets the base type");
  cmd->callback([a, calib, samples, seq_len, seed] {
    a->calib_set = calib->count() > 0;
    a->samples_set = samples->count() > 0;
    a->seq_len_set = seq_len->count() > 0;
    a->seed_set = seed->count() > 0;
    run_quantize(*a);
  });
});

}  // namespace
}  // namespace squish::cli
