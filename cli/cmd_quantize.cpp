// `squish quantize IN OUT --type T`: a GGUF (or HF directory) to a GGUF file of a llama.cpp mix.
#include <cstdio>
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

namespace squish::cli {
namespace {

struct QuantizeArgs {
  std::string input, output, type, imatrix;
  int threads = 0;
  bool force = false, leave_output = false, pure = false;
};

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
  const auto source = open_model_source(a.input);

  QuantizeOptions opt;
  opt.ftype = ftype;
  opt.leave_output_tensor = a.leave_output;
  opt.pure = a.pure;
  opt.overwrite = a.force;
  opt.imatrix = imatrix ? &*imatrix : nullptr;
  opt.imatrix_path = a.imatrix;
  opt.on_warning = [](const std::string& w) { std::fprintf(stderr, "squish: warning: %s\n", w.c_str()); };
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
  cmd->add_flag("--pure", a->pure, "No mix rules: every quantizable tensor gets the base type");
  cmd->callback([a] { run_quantize(*a); });
});

}  // namespace
}  // namespace squish::cli
