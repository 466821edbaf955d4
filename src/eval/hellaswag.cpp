// HellaSwag-style multiple choice: JSONL reading and log-likelihood scoring of endings.
#include "squish/eval/hellaswag.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "squish/common/error.h"
#include "squish/eval/perplexity.h"
#include "squish/model/model.h"

namespace squish {

namespace {

// lm-eval's HellaSwag preprocessing: " [title]" markers removed, double spaces collapsed.
std::string preprocess(std::string s) {
  for (size_t p; (p = s.find(" [title]")) != std::string::npos;) s.replace(p, 8, ". ");
  std::string out;
  for (char c : s)
    if (!(c == ' ' && !out.empty() && out.back() == ' ')) out.push_back(c);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

ChoiceTask parse_task(const nlohmann::json& j) {
  ChoiceTask t;
  if (j.contains("ctx")) {
    t.context = j.at("ctx").get<std::string>();
  } else {
    std::string b = j.at("ctx_b").get<std::string>();
    if (!b.empty()) b[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(b[0])));
    t.context = j.at("ctx_a").get<std::string>() + " " + b;
  }
  if (j.contains("activity_label")) t.context = j.at("activity_label").get<std::string>() + ": " + t.context;
  t.context = preprocess(t.context);
  for (const auto& e : j.at("endings")) t.endings.push_back(preprocess(e.get<std::string>()));
  const auto& label = j.at("label");
  t.label = label.is_string() ? std::stoi(label.get<std::string>()) : label.get<int>();
  if (t.endings.size() < 2) throw std::invalid_argument("fewer than two endings");
  if (t.label < 0 || t.label >= static_cast<int>(t.endings.size()))
    throw std::invalid_argument("label " + std::to_string(t.label) + " is not an ending's index");
  return t;
}

// Standard error of a proportion over n tasks, as lm-eval reports it.
double proportion_stderr(double p, int64_t n) {
  return n > 1 ? std::sqrt(p * (1 - p) / static_cast<double>(n - 1)) : 0.0;
}

}  // namespace

std::vector<ChoiceTask> read_hellaswag(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot open the multiple-choice file");
  std::vector<ChoiceTask> tasks;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      tasks.push_back(parse_task(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      throw Error(path, "line " + std::to_string(n) + ": not a HellaSwag task (" + e.what() + ")");
    }
  }
  if (tasks.empty()) throw Error(path, "no tasks in the file");
  return tasks;
}

ChoiceScores score_task(const std::shared_ptr<const Model>& model, const ChoiceTask& task) {
  const Tokenizer& tok = model->tokenizer();
  const int64_t n_vocab = model->config().n_vocab;
  const std::vector<int32_t> context = tok.encode(task.context, true, false);
  ChoiceScores s;
  for (const std::string& ending : task.endings) {
    // lm-eval: encode context + continuation whole; the continuation is what follows the context.
    const std::vector<int32_t> whole = tok.encode(task.context + " " + ending, true, false);
    int64_t n_ctx_tok = static_cast<int64_t>(context.size());
    while (n_ctx_tok > 0 && (n_ctx_tok > static_cast<int64_t>(whole.size()) ||
                             !std::equal(context.begin(), context.begin() + n_ctx_tok, whole.begin())))
      --n_ctx_tok;  // a merge across the boundary: condition on the common prefix
    n_ctx_tok = std::max<int64_t>(1, std::min<int64_t>(n_ctx_tok, static_cast<int64_t>(whole.size()) - 1));
    Session session(model, static_cast<int64_t>(whole.size()));
    const std::vector<float> logits = session.eval(whole, /*all_logits=*/true);
    double lp = 0;
    for (int64_t i = n_ctx_tok; i < static_cast<int64_t>(whole.size()); ++i)
      lp -= token_nll(logits.data() + (i - 1) * n_vocab, n_vocab, whole[i]);
    s.logprob.push_back(lp);
    s.bytes.push_back(static_cast<int64_t>(ending.size() + 1));
  }
  return s;
}

ChoiceAccuracy choice_accuracy(const std::vector<ChoiceScores>& scores,
                               const std::vector<ChoiceTask>& tasks) {
  ChoiceAccuracy a;
  a.n_tasks = static_cast<int64_t>(scores.size());
  int64_t right = 0, right_norm = 0;
  for (size_t t = 0; t < scores.size(); ++t) {
    const ChoiceScores& s = scores[t];
    size_t best = 0, best_norm = 0;
    for (size_t e = 1; e < s.logprob.size(); ++e) {
      if (s.logprob[e] > s.logprob[best]) best = e;
      if (s.logprob[e] / s.bytes[e] > s.logprob[best_norm] / s.bytes[best_norm]) best_norm = e;
    }
    right += best == static_cast<size_t>(tasks[t].label);
    right_norm += best_norm == static_cast<size_t>(tasks[t].label);
  }
  if (a.n_tasks > 0) {
    a.acc = static_cast<double>(right) / a.n_tasks;
    a.acc_norm = static_cast<double>(right_norm) / a.n_tasks;
  }
  a.acc_stderr = proportion_stderr(a.acc, a.n_tasks);
  a.acc_norm_stderr = proportion_stderr(a.acc_norm, a.n_tasks);
  return a;
}

ChoiceAccuracy evaluate_choices(const std::shared_ptr<const Model>& model,
                                const std::vector<ChoiceTask>& tasks, int64_t max_tasks,
                                const std::function<void(int64_t, int64_t)>& on_task) {
  const int64_t n = max_tasks < 0 ? static_cast<int64_t>(tasks.size())
                                  : std::min<int64_t>(max_tasks, static_cast<int64_t>(tasks.size()));
  std::vector<ChoiceScores> scores;
  for (int64_t i = 0; i < n; ++i) {
    scores.push_back(score_task(model, tasks[i]));
    if (on_task) on_task(i + 1, n);
  }
  return choice_accuracy(scores, std::vector<ChoiceTask>(tasks.begin(), tasks.begin() + n));
}

}  // namespace squish
