// `squish imatrix MODEL -o OUT`: importance matrix over calibration text, in llama.cpp's format.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/common/progress.h"
#include "squish/eval/eval_data.h"
#include "squish/eval/perplexity.h"
#include "squish/model/model.h"
#include "squish/quant/imatrix_collector.h"

namespace squish::cli {
namespace {

struct ImatrixArgs {
  std::string model, text, output, format = "gguf";
  int64_t ctx = 512, chunks = -1;
  int threads = 0;
  bool force = false, process_output = false;
};

void run_imatrix(const ImatrixArgs& a) {
  if (a.format != "gguf" && a.format != "dat")
    throw Error("--output-format " + a.format, "unknown format (valid: gguf, dat)");
  const std::string text_path = a.text.empty() ? shared_data_path("calibration-mix.txt") : a.text;
  const std::string base = std::filesystem::path(text_path).filename().string();
  if (base.find("wikitext") != std::string::npos)
    throw Error(text_path, "this is evaluation text; calibrating on it would bias every later "
                           "evaluation (use e.g. ../shared/data/calibration-mix.txt)");
  if (a.threads > 0) set_num_threads(a.threads);
  // Fail on an existing output before the long work starts.
  std::error_code ec;
  if (!a.force && std::filesystem::exists(a.output, ec))
    throw Error(a.output, "output exists (use --force to overwrite)");
  const std::string text = read_perplexity_text(text_path);
  std::shared_ptr<const Model> model = Model::load(a.model);

  ImatrixOptions opt;
  opt.n_ctx = a.ctx;
  opt.max_chunks = a.chunks;
  opt.process_output = a.process_output;
  opt.dataset = text_path;
  std::unique_ptr<Progress> progress;
  opt.on_chunk = [&](int64_t done, int64_t total) {
    if (!progress) progress = std::make_unique<Progress>("imatrix", total);
    progress->set(done);
  };
  const ImportanceMatrix m = collect_imatrix(model, text, opt, text_path);
  if (progress) progress->finish();
  if (a.format == "dat") m.save_legacy(a.output, a.force);
  else m.save_gguf(a.output, a.force);
  std::printf("%s: %zu tensors, %u chunks of %u tokens from %s\n", a.output.c_str(),
              m.entries.size(), m.chunk_count, m.chunk_size, text_path.c_str());
}

CommandRegistrar reg(31, [](CLI::App& app) {
  auto a = std::make_shared<ImatrixArgs>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix", "Importance matrix (mean squared activations per column) for --imatrix");
  add_model_argument(cmd, a->model, "GGUF file or HF model directory");
  add_output_option(cmd, a->output, "Output imatrix file")->required();
  add_text_file_option(cmd, a->text, "Calibration text (default: <repo>/../shared/data/calibration-mix.txt)", "--text");
  add_ctx_option(cmd, a->ctx, 16);
  cmd->add_option("--chunks", a->chunks, "Use only the first N chunks (default: all)");
  cmd->add_option("--output-format", a->format, "gguf (llama.cpp's current format) or dat (legacy)")
      ->capture_default_str();
  add_threads_option(cmd, a->threads);
  add_force_flag(cmd, a->force, "Overwrite an existing output");
  cmd->add_flag("--process-output", a->process_output, "Also collect output.weight's input");
  cmd->callback([a] { run_imatrix(*a); });
});

}  // namespace
}  // namespace squish::cli
