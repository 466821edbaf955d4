// `squish serve MODEL`: an OpenAI- and Ollama-compatible HTTP server with continuous batching.
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/serve/server.h"

namespace squish::cli {
namespace {

struct ServeArgs {
  WeightArgs weights{"quantized"};  // --weights, --convert
  std::string kv_cache = "f32";     // --kv-cache-dtype
  std::string model;
  serve::ServeOptions options;
  int64_t ctx_size = 4096;  // total positions, shared by the slots (as llama-server's -c)
  int64_t parallel = 4;
  int threads = 0;
  size_t max_body_kib = 1024;
};

void run_serve(ServeArgs& a) {
  serve::block_stop_signals();  // before the worker pool starts, so only the server's waiter gets them
  if (a.threads > 0) set_num_threads(a.threads);
  if (a.ctx_size / a.parallel < 2)
    throw Error("", "--ctx-size " + std::to_string(a.ctx_size) + " leaves fewer than 2 positions per slot for --parallel " +
                        std::to_string(a.parallel));
  serve::ServeOptions& o = a.options;
  o.scheduler.n_slots = a.parallel;
  o.scheduler.n_ctx = a.ctx_size / a.parallel;
  o.scheduler.kv_type = parse_kv_cache_type(a.kv_cache);
  o.max_body_bytes = a.max_body_kib * 1024;
  const std::filesystem::path p(a.model);
  o.model_id = std::filesystem::is_directory(p) ? p.lexically_normal().filename().string() : p.stem().string();
  if (o.model_id.empty()) o.model_id = p.parent_path().filename().string();
  std::shared_ptr<const Model> model = Model::load(a.model, a.weights.options());
  serve::serve(std::move(model), o);
}

CommandRegistrar reg(45, [](CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over HTTP: OpenAI and Ollama APIs, continuous batching");
  add_model_argument(cmd, args->model, "GGUF file or HF model directory");
  add_weights_option(cmd, args->weights);
  add_kv_cache_option(cmd, args->kv_cache);
  serve::ServeOptions& o = args->options;
  cmd->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "Port to listen on")->capture_default_str()->check(CLI::Range(1, 65535));
  cmd->add_option("-c,--ctx-size", args->ctx_size, "Context positions in total, divided among the slots")
      ->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 22));
  cmd->add_option("--parallel", args->parallel, "Slots: requests decoded together in one batch")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{256}));
  add_threads_option(cmd, args->threads);
  cmd->add_option("-b,--batch-size", o.scheduler.step_tokens,
                  "Tokens per forward pass: one per decoding slot plus chunks of new prompts")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  cmd->add_option("--max-queue", o.scheduler.max_queue, "Requests waiting for a slot beyond which the server answers 503")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{4096}));
  cmd->add_option("-n,--n-predict", o.max_tokens_limit, "Most tokens a request may generate (-1: until its context is full)")
      ->capture_default_str()->check(CLI::Range(int64_t{-1}, int64_t{1} << 22));
  cmd->add_flag("--no-prompt-cache{false}", o.scheduler.prompt_cache,
                "Evaluate every prompt in full (by default a free slot whose cache starts with the new prompt's "
                "first tokens keeps them, as llama-server's cache_prompt does)");
  cmd->add_option("--api-key", o.api_key, "Require 'Authorization: Bearer KEY' on every endpoint but /health");
  cmd->add_option("--max-body-kib", args->max_body_kib, "Largest request body accepted (KiB; larger ones get 413)")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cmd->add_option("--shutdown-grace-ms", o.shutdown_grace_ms,
                  "On SIGTERM/SIGINT, how long running requests may finish before they are cut")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{3600000}));
  cmd->callback([args] { run_serve(*args); });
});

}  // namespace
}  // namespace squish::cli
