// `squish eval`: one model's loss measured the way llama.cpp measures it — perplexity, KL divergence
// against a base model's saved logits, multiple-choice accuracy — plus a speed summary.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "squish/eval/hellaswag.h"
#include "squish/eval/kld_stats.h"
#include "squish/eval/perplexity.h"

namespace squish {

class Model;

// What to measure.
struct EvalOptions {
  std::string text_path;          // evaluation text (perplexity / KLD)
  int64_t n_ctx = 512;
  int64_t max_chunks = -1;
  std::string save_base_logits;   // write this model's log-probs as the base (for later KLD)
  std::string base_logits;        // compare against this saved base
  bool overwrite = false;         // --force for save_base_logits
  std::string choices_path;       // HellaSwag JSONL (empty: skip)
  int64_t max_choice_tasks = -1;
  bool progress = true;           // show progress bars
  KVCacheType kv_type = KVCacheType::F32;  // element type of the KV cache
};

// What was measured.
struct EvalReport {
  std::string model_path;
  uint64_t model_bytes = 0;            // size of the model file(s)
  int64_t n_params = 0;                // weights in the linear and embedding tensors
  PerplexityResult perplexity;
  std::optional<KldStats> kld;         // when base_logits was given
  std::optional<ChoiceAccuracy> choices;
  double tokens_per_second = 0;        // evaluation throughput (prompt processing)

  // Every field as JSON.
  nlohmann::json to_json() const;
  // A Markdown report.
  std::string to_markdown() const;
};

// Runs the evaluation. Throws Error naming the file on bad input (a base-logits file made from a
// different text or vocabulary, an existing output without overwrite, ...), before long work.
EvalReport evaluate(const std::shared_ptr<const Model>& model, const EvalOptions& options);

}  // namespace squish
