// `squish eval MODEL`: perplexity, KL divergence vs saved base logits, multiple-choice accuracy.
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/eval/eval_data.h"
#include "squish/eval/evaluate.h"
#include "squish/model/model.h"

namespace squish::cli {
namespace {

struct EvalArgs {
  WeightArgs weights{"f32"};  // --weights, --convert
  std::string kv_cache = "f32";  // --kv-cache-dtype
  EvalOptions opt;
  std::string model;
  std::string output;
  int threads = 0;
  bool json = false;
};

void run_eval(EvalArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  if (a.opt.text_path.empty()) a.opt.text_path = shared_data_path("wikitext-2-test.txt");
  if (!a.opt.save_base_logits.empty() && a.opt.save_base_logits == a.opt.base_logits)
    throw squish::Error(a.opt.save_base_logits, "cannot read and write the same base logits file");
  a.opt.kv_type = parse_kv_cache_type(a.kv_cache);
  std::shared_ptr<const Model> model = Model::load(a.model, a.weights.options());
  const EvalReport r = evaluate(model, a.opt);
  const std::string text = a.json ? r.to_json().dump(1) + "\n" : r.to_markdown();
  if (a.output.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomic(a.output, text, a.opt.overwrite);
    std::printf("report written to %s\n", a.output.c_str());
  }
}

CommandRegistrar reg(55, [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Perplexity, KL divergence vs a base model and multiple-choice accuracy, in one report");
  add_model_argument(cmd, a->model, "GGUF file or HF model directory");
  add_weights_option(cmd, a->weights);
  add_kv_cache_option(cmd, a->kv_cache);
  add_text_file_option(cmd, a->opt.text_path, "Evaluation text (default: ../shared/data/wikitext-2-test.txt)");
  add_ctx_option(cmd, a->opt.n_ctx);
  cmd->add_option("--chunks", a->opt.max_chunks, "Evaluate only the first N chunks (default: all)");
  cmd->add_option("--save-base-logits", a->opt.save_base_logits,
                  "Save this model's log-probs as the base for later --base-logits runs");
  cmd->add_option("--base-logits", a->opt.base_logits,
                  "KL divergence against a saved base (llama.cpp's --kl-divergence statistics)");
  cmd->add_option("--hellaswag", a->opt.choices_path, "Multiple-choice tasks (HellaSwag JSONL)");
  cmd->add_option("--tasks", a->opt.max_choice_tasks, "Score only the first N multiple-choice tasks");
  add_output_option(cmd, a->output, "Write the report to this file instead of stdout");
  add_threads_option(cmd, a->threads);
  cmd->add_flag("--json", a->json, "JSON instead of Markdown");
  add_force_flag(cmd, a->opt.overwrite, "Overwrite existing outputs");
  cmd->callback([a] { run_eval(*a); });
});

}  // namespace
}  // namespace squish::cli
