// `squish compare MODEL`: a quantization matrix measured against the model itself, as a table and charts.
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "run/compare.h"
#include "squish/common/parallel.h"
#include "squish/quant/recipe.h"

namespace squish::cli {
namespace {

struct CompareCmdArgs {
  CompareArgs run;
  CLI::Option* types_opt = nullptr;
  int threads = 0;
  bool json = false;
};

void run_compare_cmd(CompareCmdArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  a.run.types_given = a.types_opt->count() > 0;
  const CompareReport r = run_compare_args(a.run);
  if (a.json) {
    std::fputs((r.rows_json().dump(1) + "\n").c_str(), stdout);
    return;
  }
  std::fputs(r.to_markdown().c_str(), stdout);
  std::printf("\nwritten: %s/{report.md,results.json,kld_vs_size.svg,kld_vs_size.png,ppl_vs_bpw.svg,ppl_vs_bpw.png}\n",
              a.run.opt.out_dir.c_str());
}

CommandRegistrar reg(57, [](CLI::App& app) {
  auto a = std::make_shared<CompareCmdArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Quantize into a matrix of types, measure PPL/KLD/speed of each, write a table and charts");
  add_model_argument(cmd, a->run.model, "GGUF file or HF model directory");
  a->types_opt = cmd->add_option("--types", a->run.types, "Comma-separated GGUF mixes, each run with every --methods entry; TYPE:gptq or TYPE:rtn for one method")->capture_default_str();
  cmd->add_option("--schemes", a->run.schemes, "Comma-separated SafeTensors schemes (W4A16, W4A16_ASYM, W8A16, W8A8, FP8, ...), each × --group-sizes × --methods × --formats; SCHEME/gN:METHOD for one");
  cmd->add_option("--methods", a->run.methods, "Comma-separated: rtn, gptq, awq, smoothquant, or steps joined by '+' (smoothquant+gptq); GGUF mixes take rtn and gptq")->capture_default_str();
  cmd->add_option("--group-sizes", a->run.group_sizes, "Comma-separated group sizes for weight-only INT schemes (0 = per channel; default: the scheme's)");
  cmd->add_option("--formats", a->run.formats, "Comma-separated checkpoint formats for schemes: compressed-tensors, gptq, awq")->capture_default_str();
  cmd->add_option("--calib", a->run.opt.calib.path, "Calibration text or JSONL for gptq (default: ../shared/data/calibration-mix.txt)");
  cmd->add_option("--samples", a->run.opt.calib.n_samples, "Calibration samples for gptq")->capture_default_str()->check(CLI::Range(int64_t{1}, squish::kMaxCalibrationCount));
  cmd->add_option("--seq-len", a->run.opt.calib.seq_len, "Tokens per calibration sample")->capture_default_str()->check(CLI::Range(int64_t{2}, squish::kMaxCalibrationCount));
  cmd->add_option("--damp", a->run.opt.gptq_damp, "GPTQ dampening")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  add_text_file_option(cmd, a->run.opt.text_path, "Evaluation text (default: ../shared/data/wikitext-2-test.txt)");
  add_ctx_option(cmd, a->run.opt.n_ctx);
  cmd->add_option("--chunks", a->run.opt.chunks, "Chunks evaluated per configuration")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  add_output_option(cmd, a->run.opt.out_dir, "Output directory", "--out")->required();
  cmd->add_option("--cache", a->run.opt.cache_dir, "Cache of quantized files and results (default: ~/.cache/squish/compare)");
  add_threads_option(cmd, a->threads);
  cmd->add_flag("--json", a->json, "Print the rows as JSON (results.json's content) instead of the table");
  add_force_flag(cmd, a->run.opt.overwrite, "Overwrite existing report files");
  cmd->callback([a] { run_compare_cmd(*a); });
});

}  // namespace
}  // namespace squish::cli
