// Multiple-choice accuracy on HellaSwag-format JSONL, scored by log-likelihood as lm-evaluation-
// harness does: each ending's summed log-probability given the context; acc picks the largest sum,
// acc_norm the largest sum per byte of the ending.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace squish {

class Model;

// One task: a context, its candidate endings and the index of the right one.
struct ChoiceTask {
  std::string context;
  std::vector<std::string> endings;
  int label = 0;
};

// Reads HellaSwag JSONL: per line {"ctx": ..., "endings": [...], "label": n} (label may be a
// string; "ctx_a"/"ctx_b" and "activity_label" are used as lm-eval does when "ctx" is absent).
// Throws Error naming the file and line on malformed input.
std::vector<ChoiceTask> read_hellaswag(const std::string& path);

// Log-likelihood of every ending of one task: sum over the ending's tokens of ln p(token | prefix).
struct ChoiceScores {
  std::vector<double> logprob;  // per ending
  std::vector<int64_t> bytes;   // per ending: its length in bytes (for acc_norm)
};

// Accuracy over a set of tasks.
struct ChoiceAccuracy {
  int64_t n_tasks = 0;
  double acc = 0, acc_stderr = 0;            // argmax of the summed log-likelihood
  double acc_norm = 0, acc_norm_stderr = 0;  // argmax of log-likelihood per byte
};

// Scores one task's endings with the model (the ending is appended to the context with a space,
// tokens of the context conditioned on, only the ending's tokens summed).
ChoiceScores score_task(const std::shared_ptr<const Model>& model, const ChoiceTask& task);

// Accuracy from per-task scores and labels.
ChoiceAccuracy choice_accuracy(const std::vector<ChoiceScores>& scores,
                               const std::vector<ChoiceTask>& tasks);

// Scores the first max_tasks tasks (all when < 0); on_task(done, total) reports progress.
ChoiceAccuracy evaluate_choices(const std::shared_ptr<const Model>& model,
                                const std::vector<ChoiceTask>& tasks, int64_t max_tasks,
                                const std::function<void(int64_t, int64_t)>& on_task);

}  // namespace squish
