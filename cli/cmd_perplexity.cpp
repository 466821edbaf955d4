// `squish perplexity MODEL`: perplexity over a text by llama.cpp's method (see eval/perplexity.h).
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "command.h"
#include "squish/common/parallel.h"
#include "squish/common/progress.h"
#include "squish/eval/eval_data.h"
#include "squish/eval/perplexity.h"
#include "squish/model/model.h"

namespace squish::cli {
namespace {

struct PerplexityArgs {
  WeightArgs weights{"f32"};  // --weights, --convert
  std::string kv_cache = "f32";  // --kv-cache-dtype
  std::string model;
  std::string file;
  int64_t ctx = 512;
  int64_t chunks = -1;
  int64_t batch = 512;
  int threads = 0;
  bool json = false;
};

void run_perplexity(const PerplexityArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const std::string file = a.file.empty() ? shared_data_path("wikitext-2-test.txt") : a.file;
  const std::string text = read_perplexity_text(file);
  std::shared_ptr<const Model> model = Model::load(a.model, a.weights.options());

  PerplexityOptions opts;
  opts.n_ctx = a.ctx;
  opts.n_batch = a.batch;
  opts.max_chunks = a.chunks;
  opts.kv_type = parse_kv_cache_type(a.kv_cache);
  std::unique_ptr<Progress> progress;
  opts.on_chunk = [&](int64_t chunk, int64_t n_chunks, double ppl) {
    if (a.json) {
      if (!progress) progress = std::make_unique<Progress>("perplexity", n_chunks);
      progress->set(chunk);
    } else {
      std::printf("[%lld]%.4f,", static_cast<long long>(chunk), ppl);
      std::fflush(stdout);
    }
  };
  const PerplexityResult r = perplexity(model, text, opts, file);
  if (progress) progress->finish();
  if (a.json) {
    nlohmann::json j = {{"model", a.model},       {"file", file},
                        {"ppl", r.ppl},           {"stderr", r.ppl_stderr},
                        {"n_ctx", r.n_ctx},       {"chunks", r.n_chunks},
                        {"n_tokens", r.n_scored}, {"n_text_tokens", r.n_text_tokens},
                        {"running_ppl", r.running_ppl}, {"seconds", r.seconds}};
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_stderr);
    std::printf("%lld chunks of %lld tokens, %lld tokens scored, %.2f s (%.1f tokens/s evaluated)\n",
                static_cast<long long>(r.n_chunks), static_cast<long long>(r.n_ctx),
                static_cast<long long>(r.n_scored), r.seconds,
                r.seconds > 0 ? r.n_chunks * r.n_ctx / r.seconds : 0.0);
  }
}

CommandRegistrar reg(50, [](CLI::App& app) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity over a text, computed as llama.cpp's perplexity tool does");
  add_model_argument(cmd, args->model, "GGUF file or HF model directory");
  add_weights_option(cmd, args->weights);
  add_kv_cache_option(cmd, args->kv_cache);
  add_text_file_option(cmd, args->file, "Text file (default: <repo>/../shared/data/wikitext-2-test.txt)");
  add_ctx_option(cmd, args->ctx);
  cmd->add_option("--chunks", args->chunks, "Evaluate only the first N chunks (default: all)");
  cmd->add_option("-b,--batch", args->batch, "Tokens per evaluation call")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "Print a JSON result instead of the running values");
  cmd->callback([args] { run_perplexity(*args); });
});

}  // namespace
}  // namespace squish::cli
