// `squish quantize IN OUT --type T`: a GGUF (or HF directory) to a GGUF file of a llama.cpp mix.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "command.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/export/gguf_quantize.h"
#include "squish/export/model_source.h"
#include "squish/quant/file_type.h"
#include "squish/quant/imatrix.h"
#include "squish/common/progress.h"
#include "squish/eval/eval_data.h"
#include "squish/model/model.h"
#include "squish/quant/calibration_data.h"
#include "squish/quant/gptq.h"
#include "squish/quant/hessian.h"

namespace squish::cli {
namespace {

struct QuantizeArgs {
  std::string input, output, type, imatrix;
  std::string method = "rtn", calib;
  int64_t samples = 128, seq_len = 512;
  uint64_t seed = 0;
  double damp = 0.01;
  int threads = 0;
  bool force = false, leave_output = false, pure = false, verbose = false;
};

// Input statistics for GPTQ: the model run over calibration samples (checked before the run).
std::unique_ptr<HessianSet> collect_hessians(const QuantizeArgs& a) {
  const std::string calib = a.calib.empty() ? shared_data_path("calibration-mix.txt") : a.calib;
  std::shared_ptr<const Model> model = Model::load(a.input);
  CalibrationSpec spec{calib, a.samples, a.seq_len, a.seed};
  const auto samples = calibration_samples(model->tokenizer(), spec);
  auto set = std::make_unique<HessianSet>();
  Progress bar("calibrate", static_cast<int64_t>(samples.size()));
  set->collect(model, samples, [&](int64_t done, int64_t) { bar.set(done); });
  bar.finish();
  return set;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

FileType parse_type_or_throw(const std::string& name) {
  if (auto f = parse_file_type(name)) return *f;
  const auto near = suggest_file_types(name);
  std::string msg = "unknown quantization type";
  if (!near.empty()) msg += "; did you mean " + join(near, " or ") + "?";
  msg += " (valid: " + join(file_type_names(), ", ") + ")";
  throw Error("--type " + name, msg);
}

void run_quantize(const QuantizeArgs& a) {
  const FileType ftype = parse_type_or_throw(a.type);
  if (a.threads > 0) set_num_threads(a.threads);
  std::optional<ImportanceMatrix> imatrix;
  if (!a.imatrix.empty()) imatrix = ImportanceMatrix::load(a.imatrix);
  if (a.method != "rtn" && a.method != "gptq")
    throw Error("--method " + a.method, "unknown method (valid: rtn, gptq)");
  if (a.method == "gptq" && !a.force && std::filesystem::exists(a.output))
    throw Error(a.output, "output exists (use --force to overwrite)");
  const auto source = open_model_source(a.input);
  std::unique_ptr<HessianSet> hessians;
  if (a.method == "gptq") hessians = collect_hessians(a);
  double err_gptq = 0, err_rtn = 0;
  int64_t n_gptq = 0;

  QuantizeOptions opt;
  opt.ftype = ftype;
  opt.leave_output_tensor = a.leave_output;
  opt.pure = a.pure;
  opt.overwrite = a.force;
  opt.imatrix = imatrix ? &*imatrix : nullptr;
  opt.imatrix_path = a.imatrix;
  opt.on_warning = [](const std::string& w) { std::fprintf(stderr, "squish: warning: %s\n", w.c_str()); };
  opt.gptq = hessians.get();
  opt.gptq_damp = a.damp;
  opt.gptq_measure = a.verbose;
  if (hessians)
    opt.on_gptq = [&](const std::string& name, const GptqReport& g) {
      err_gptq += g.rel_error;
      err_rtn += g.rel_error_rtn;
      ++n_gptq;
      if (a.verbose)
        std::fprintf(stderr, "gptq %-28s relative output error %.6f (plain rounding %.6f)\n",
                     name.c_str(), g.rel_error, g.rel_error_rtn);
    };
  const QuantizeReport r = quantize_to_gguf(*source, a.output, opt);

  int64_t n_elements = 0, n_imatrix = 0;
  for (const auto& t : source->tensors()) n_elements += t.n_elements();
  for (const auto& t : r.tensors) n_imatrix += t.used_imatrix ? 1 : 0;
  std::printf("%s -> %s (%s): %zu tensors, %.2f MiB -> %.2f MiB, %.3f bits per weight\n",
              a.input.c_str(), a.output.c_str(), file_type_name(ftype).c_str(), r.tensors.size(),
              r.input_bytes / 1048576.0, r.output_bytes / 1048576.0,
              n_elements ? 8.0 * r.output_bytes / n_elements : 0.0);
  if (imatrix)
    std::printf("importance matrix %s used for %lld tensors\n", a.imatrix.c_str(),
                static_cast<long long>(n_imatrix));
  if (n_gptq > 0 && !a.verbose)
    std::printf("GPTQ in %lld tensors (-v for their output errors vs plain rounding)\n",
                static_cast<long long>(n_gptq));
  if (n_gptq > 0 && a.verbose)
    std::printf("GPTQ in %lld tensors: mean relative output error %.6f vs %.6f for plain rounding\n",
                static_cast<long long>(n_gptq), err_gptq / n_gptq, err_rtn / n_gptq);
  std::printf("%.2f s, %.1f MB/s of input, %d threads\n", r.seconds,
              r.seconds > 0 ? r.input_bytes / 1e6 / r.seconds : 0.0, num_threads());
}

CommandRegistrar reg(30, [](CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Quantize a GGUF file or HF directory into a GGUF mix (llama.cpp's type rules)");
  cmd->add_option("input", a->input, "GGUF file or HF model directory")->required();
  cmd->add_option("output", a->output, "Output GGUF file")->required();
  cmd->add_option("-t,--type", a->type, "Mix: " + join(file_type_names(), ", "))->required();
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix (squish or llama.cpp, GGUF or .dat)");
  cmd->add_option("--threads", a->threads, "Worker threads (default: all cores)");
  cmd->add_flag("-f,--force", a->force, "Overwrite an existing output");
  cmd->add_flag("--leave-output-tensor", a->leave_output, "Keep output.weight in its input type");
  cmd->add_option("--method", a->method, "rtn (plain rounding) or gptq (GPTQ inside Q4_0/Q5_0/Q8_0 blocks)")->capture_default_str();
  cmd->add_option("--calib", a->calib, "Calibration text or JSONL for gptq (default: ../shared/data/calibration-mix.txt)");
  cmd->add_option("--samples", a->samples, "Calibration samples")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--seq-len", a->seq_len, "Tokens per calibration sample")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--seed", a->seed, "Seed of the calibration windows")->capture_default_str();
  cmd->add_option("--damp", a->damp, "GPTQ dampening (fraction of the mean Hessian diagonal)")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  cmd->add_flag("-v,--verbose", a->verbose, "GPTQ output errors per tensor and overall, vs plain rounding (slower)");
  cmd->add_flag("--pure", a->pure, "No mix rules: every quantizable tensor gets the base type");
  cmd->callback([a] { run_quantize(*a); });
});

}  // namespace
}  // namespace squish::cli
