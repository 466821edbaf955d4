// `squish compare MODEL`: a quantization matrix measured against the model itself, as a table and charts.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/eval/compare.h"
#include "squish/eval/eval_data.h"

namespace squish::cli {
namespace {

struct CompareArgs {
  CompareOptions opt;
  std::string model;
  std::string types = "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M,Q2_K";
  std::string methods = "rtn";
  std::string schemes, group_sizes, formats = "compressed-tensors";
  CLI::Option* types_opt = nullptr;
  int threads = 0;
};


void run_compare_cmd(CompareArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  // With --schemes alone, the default GGUF mixes are not run.
  if (a.types_opt->count() || a.schemes.empty()) a.opt.types = split_list(a.types);
  a.opt.schemes = split_list(a.schemes);
  a.opt.methods = split_list(a.methods);
  a.opt.formats = split_list(a.formats);
  for (const std::string& g : split_list(a.group_sizes)) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(g, &used);
    } catch (const std::exception&) {
    }
    if (v < 0 || used != g.size()) throw Error("--group-sizes " + a.group_sizes, "'" + g + "' is not a group size (0 = per channel)");
    a.opt.group_sizes.push_back(v);
  }
  if (a.opt.calib.path.empty()) a.opt.calib.path = shared_data_path("calibration-mix.txt");
  if (a.opt.text_path.empty()) a.opt.text_path = shared_data_path("wikitext-2-test.txt");
  if (a.opt.cache_dir.empty()) {
    const char* home = std::getenv("HOME");
    a.opt.cache_dir = std::string(home ? home : ".") + "/.cache/squish/compare";
  }
  const CompareReport r = run_compare(a.model, a.opt);
  std::fputs(r.to_markdown().c_str(), stdout);
  std::printf("\nwritten: %s/{report.md,results.json,kld_vs_size.svg,kld_vs_size.png,ppl_vs_bpw.svg,ppl_vs_bpw.png}\n",
              a.opt.out_dir.c_str());
}

CommandRegistrar reg(57, [](CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Quantize into a matrix of types, measure PPL/KLD/speed of each, write a table and charts");
  add_model_argument(cmd, a->model, "GGUF file or HF model directory");
  a->types_opt = cmd->add_option("--types", a->types, "Comma-separated GGUF mixes, each run with every --methods entry; TYPE:gptq or TYPE:rtn for one method")->capture_default_str();
  cmd->add_option("--schemes", a->schemes, "Comma-separated SafeTensors schemes (W4A16, W4A16_ASYM, W8A16, W8A8, FP8, ...), each × --group-sizes × --methods × --formats; SCHEME/gN:METHOD for one");
  cmd->add_option("--methods", a->methods, "Comma-separated: rtn, gptq, awq, smoothquant, or steps joined by '+' (smoothquant+gptq); GGUF mixes take rtn and gptq")->capture_default_str();
  cmd->add_option("--group-sizes", a->group_sizes, "Comma-separated group sizes for weight-only INT schemes (0 = per channel; default: the scheme's)");
  cmd->add_option("--formats", a->formats, "Comma-separated checkpoint formats for schemes: compressed-tensors, gptq, awq")->capture_default_str();
  cmd->add_option("--calib", a->opt.calib.path, "Calibration text or JSONL for gptq (default: ../shared/data/calibration-mix.txt)");
  cmd->add_option("--samples", a->opt.calib.n_samples, "Calibration samples for gptq")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--seq-len", a->opt.calib.seq_len, "Tokens per calibration sample")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--damp", a->opt.gptq_damp, "GPTQ dampening")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  add_text_file_option(cmd, a->opt.text_path, "Evaluation text (default: ../shared/data/wikitext-2-test.txt)");
  add_ctx_option(cmd, a->opt.n_ctx);
  cmd->add_option("--chunks", a->opt.chunks, "Chunks evaluated per configuration")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  add_output_option(cmd, a->opt.out_dir, "Output directory", "--out")->required();
  cmd->add_option("--cache", a->opt.cache_dir, "Cache of quantized files and results (default: ~/.cache/squish/compare)");
  add_threads_option(cmd, a->threads);
  add_force_flag(cmd, a->opt.overwrite, "Overwrite existing report files");
  cmd->callback([a] { run_compare_cmd(*a); });
});

}  // namespace
}  // namespace squish::cli
