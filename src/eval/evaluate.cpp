// `squish eval`: perplexity, KL divergence against saved base logits, multiple-choice accuracy.
#include "squish/eval/evaluate.h"

#include <filesystem>
#include <fmt/format.h>

#include "squish/common/error.h"
#include "squish/common/progress.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish {

namespace {

uint64_t path_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return fs::file_size(path, ec);
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

// Scored positions of a run: whole chunks of n_ctx tokens, the second half of each scored.
uint64_t scored_positions(int64_t n_tokens, const EvalOptions& o) {
  const int64_t n_max = n_tokens / o.n_ctx;
  const int64_t chunks = o.max_chunks < 0 ? n_max : std::min(o.max_chunks, n_max);
  return static_cast<uint64_t>(chunks * (o.n_ctx - 1 - o.n_ctx / 2));
}

nlohmann::json accuracy_json(const ChoiceAccuracy& a) {
  return {{"tasks", a.n_tasks}, {"acc", a.acc}, {"acc_stderr", a.acc_stderr},
          {"acc_norm", a.acc_norm}, {"acc_norm_stderr", a.acc_norm_stderr}};
}

}  // namespace

EvalReport evaluate(const std::shared_ptr<const Model>& model, const EvalOptions& o) {
  EvalReport r;
  r.model_path = model->path();
  r.model_bytes = path_bytes(model->path());
  r.n_params = static_cast<int64_t>(model->weights().bytes() / sizeof(float));
  const int64_t n_vocab = model->config().n_vocab;
  const std::string text = read_perplexity_text(o.text_path);
  const std::vector<int32_t> tokens = model->tokenizer().encode(text, true, false);
  const uint64_t n_positions = scored_positions(static_cast<int64_t>(tokens.size()), o);

  // Check the base file and the output before the long work.
  std::unique_ptr<BaseLogitsReader> base;
  if (!o.base_logits.empty()) {
    base = std::make_unique<BaseLogitsReader>(o.base_logits);
    const BaseLogitsInfo& bi = base->info();
    if (bi.n_vocab != n_vocab)
      throw Error(o.base_logits, fmt::format("base logits have a vocabulary of {}, the model {}",
                                             bi.n_vocab, n_vocab));
    if (bi.n_ctx != o.n_ctx)
      throw Error(o.base_logits, fmt::format("base logits were computed with a context of {}, "
                                             "this run uses {} (pass --ctx {})", bi.n_ctx, o.n_ctx, bi.n_ctx));
    if (bi.n_positions < n_positions)
      throw Error(o.base_logits, fmt::format("base logits hold {} positions, this run scores {} "
                                             "(use at most as many --chunks as the base run)",
                                             bi.n_positions, n_positions));
  }
  std::vector<ChoiceTask> tasks;
  if (!o.choices_path.empty()) tasks = read_hellaswag(o.choices_path);
  std::unique_ptr<BaseLogitsWriter> writer;
  if (!o.save_base_logits.empty()) {
    BaseLogitsInfo info;
    info.encoding = LogitsEncoding::U16;
    info.n_vocab = static_cast<uint32_t>(n_vocab);
    info.n_ctx = static_cast<uint32_t>(o.n_ctx);
    info.n_positions = n_positions;
    info.meta = nlohmann::json{{"model", model->path()}, {"text", o.text_path}}.dump();
    writer = std::make_unique<BaseLogitsWriter>(o.save_base_logits, info, o.overwrite);
  }

  PerplexityOptions po;
  po.n_ctx = o.n_ctx;
  po.n_batch = o.n_ctx;
  po.max_chunks = o.max_chunks;
  po.kv_type = o.kv_type;
  std::unique_ptr<Progress> progress;
  po.on_chunk = [&](int64_t chunk, int64_t n_chunks, double) {
    if (!o.progress) return;
    if (!progress) progress = std::make_unique<Progress>("eval", n_chunks);
    progress->set(chunk);
  };
  KldAccumulator kld;
  uint64_t next = 0;
  std::vector<double> base_lp(static_cast<size_t>(n_vocab));
  po.on_scored = [&](const float* logits, const int32_t* targets, int64_t n) {
    for (int64_t i = 0; i < n; ++i, ++next) {
      const float* row = logits + i * n_vocab;
      if (writer) writer->add(row, targets[i]);
      if (base) {
        if (base->log_probs(next, base_lp.data()) != targets[i])
          throw Error(o.base_logits, fmt::format("position {} predicts a different token: the base "
                                                 "logits were made from another text or tokenizer", next));
        kld.add(compare_position(base_lp.data(), row, n_vocab, targets[i]));
      }
    }
  };
  r.perplexity = perplexity(model, tokens, po, o.text_path);
  if (progress) progress->finish();
  if (writer) writer->commit();
  if (base) r.kld = kld.finish();
  const double evaluated = static_cast<double>(r.perplexity.n_chunks * r.perplexity.n_ctx);
  r.tokens_per_second = r.perplexity.seconds > 0 ? evaluated / r.perplexity.seconds : 0;

  if (!o.choices_path.empty()) {
    std::unique_ptr<Progress> bar;
    r.choices = evaluate_choices(model, tasks, o.max_choice_tasks, [&](int64_t done, int64_t total) {
      if (!o.progress) return;
      if (!bar) bar = std::make_unique<Progress>("choices", total);
      bar->set(done);
    });
    if (bar) bar->finish();
  }
  return r;
}

nlohmann::json EvalReport::to_json() const {
  nlohmann::json j = {{"model", model_path},
                      {"model_bytes", model_bytes},
                      {"n_params", n_params},
                      {"bits_per_weight", n_params > 0 ? 8.0 * model_bytes / n_params : 0.0},
                      {"ppl", perplexity.ppl},
                      {"ppl_stderr", perplexity.ppl_stderr},
                      {"chunks", perplexity.n_chunks},
                      {"n_ctx", perplexity.n_ctx},
                      {"n_scored", perplexity.n_scored},
                      {"seconds", perplexity.seconds},
                      {"tokens_per_second", tokens_per_second}};
  if (kld) j["kld"] = kld->to_json();
  if (choices) j["choices"] = accuracy_json(*choices);
  return j;
}

std::string EvalReport::to_markdown() const {
  std::string s = fmt::format("## squish eval: {}\n\n| measure | value |\n|---|---|\n", model_path);
  s += fmt::format("| size | {:.2f} MiB ({:.3f} bits per weight) |\n", model_bytes / 1048576.0,
                   n_params > 0 ? 8.0 * model_bytes / n_params : 0.0);
  s += fmt::format("| perplexity ({} chunks × {}) | {:.4f} ± {:.4f} |\n", perplexity.n_chunks,
                   perplexity.n_ctx, perplexity.ppl, perplexity.ppl_stderr);
  s += fmt::format("| evaluation speed | {:.1f} tokens/s |\n", tokens_per_second);
  if (choices)
    s += fmt::format("| multiple choice ({} tasks) | acc {:.2f}% ± {:.2f}, acc_norm {:.2f}% ± {:.2f} |\n",
                     choices->n_tasks, 100 * choices->acc, 100 * choices->acc_stderr,
                     100 * choices->acc_norm, 100 * choices->acc_norm_stderr);
  if (kld) s += "\n### KL divergence vs the base model\n\n" + kld->to_markdown();
  return s;
}

}  // namespace squish
