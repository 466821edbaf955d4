// `squish bench MODEL`: prompt-processing and generation speed (llama-bench's pp/tg definitions).
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "command.h"
#include "squish/common/parallel.h"
#include "squish/eval/throughput.h"
#include "squish/model/model.h"

namespace squish::cli {
namespace {

struct BenchArgs {
  std::string weights = "quantized";  // --weights
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int threads = 0;
  int reps = 5;
  bool json = false;
};

void run_bench(const BenchArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  std::shared_ptr<const Model> model = Model::load(a.model, LoadOptions{a.weights == "quantized"});
  SpeedOptions opts;
  opts.n_prompt = a.n_prompt;
  opts.n_gen = a.n_gen;
  opts.reps = a.reps;
  const std::vector<SpeedTest> tests = measure_speed(model, opts);
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"threads", num_threads()}, {"reps", a.reps}};
    nlohmann::json arr = nlohmann::json::array();
    for (const SpeedTest& t : tests)
      arr.push_back({{"test", t.name}, {"n_tokens", t.n_tokens}, {"tokens_per_second", t.tokens_per_second},
                     {"stddev", t.stddev}, {"seconds", t.seconds}});
    j["tests"] = arr;
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("| model | threads | test | t/s |\n|---|---:|---:|---:|\n");
  for (const SpeedTest& t : tests)
    std::printf("| %s | %d | %s | %.2f ± %.2f |\n", a.model.c_str(), num_threads(), t.name.c_str(),
                t.tokens_per_second, t.stddev);
}

CommandRegistrar reg(80, [](CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Prompt-processing (pp) and generation (tg) tokens/s, as llama-bench");
  cmd->add_option("model", args->model, "GGUF file or HF model directory")->required();
  add_weights_option(cmd, args->weights);
  cmd->add_option("-p,--n-prompt", args->n_prompt, "Prompt tokens evaluated in one batch (0: skip)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", args->n_gen, "Tokens generated one at a time (0: skip)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", args->threads, "Worker threads (default: all cores)");
  cmd->add_option("-r,--reps", args->reps, "Timed repetitions per test")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_bench(*args); });
});

}  // namespace
}  // namespace squish::cli
