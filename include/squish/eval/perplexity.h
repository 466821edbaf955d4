// Perplexity exactly as llama.cpp's perplexity tool measures it, so numbers compare one to one:
// the text tokenized once with special tokens, cut into chunks of n_ctx tokens, the first token of
// each chunk replaced by BOS when the vocabulary adds BOS, and only the second half of each chunk
// scored (each predicted token then has at least n_ctx/2 tokens of context).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "squish/model/kv_cache_type.h"

namespace squish {

class Model;
class Tokenizer;

// Settings of a perplexity run.
struct PerplexityOptions {
  int64_t n_ctx = 512;       // tokens per chunk
  int64_t n_batch = 512;     // tokens per evaluation call (capped at n_ctx)
  int64_t max_chunks = -1;   // evaluate at most this many chunks (-1: every whole chunk)
  KVCacheType kv_type = KVCacheType::F32;  // element type of the KV cache
  // Called after each chunk with its 1-based index, the number of chunks and the running perplexity.
  std::function<void(int64_t chunk, int64_t n_chunks, double running_ppl)> on_chunk;
  // Called once per chunk, in order, with the scored rows (n x n_vocab logits) and the token each
  // row predicts: the hook for KL divergence and for saving base logits.
  std::function<void(const float* logits, const int32_t* targets, int64_t n)> on_scored;
};

// Outcome of a perplexity run.
struct PerplexityResult {
  double ppl = 0;                  // exp(mean negative log-likelihood)
  double ppl_stderr = 0;           // llama.cpp's standard error of the PPL estimate
  int64_t n_text_tokens = 0;       // tokens in the whole text
  int64_t n_scored = 0;            // tokens whose likelihood was scored
  int64_t n_chunks = 0;            // chunks evaluated
  int64_t n_ctx = 0;               // chunk length
  std::vector<double> running_ppl; // perplexity over the chunks so far, after each chunk
  double seconds = 0;              // wall time of the evaluation (tokenization excluded)
};

// Running sums of negative log-likelihoods and the statistics llama.cpp derives from them.
class NllAccumulator {
 public:
  // Adds one token's negative log-likelihood.
  void add(double nll) { sum_ += nll; sum2_ += nll * nll; ++count_; }
  // Number of values added.
  int64_t count() const { return count_; }
  // exp(mean).
  double ppl() const;
  // Standard error of ppl(): ppl * sqrt((E[x²] - E[x]²) / (count - 1)); 0 when undefined.
  double ppl_stderr() const;

 private:
  double sum_ = 0, sum2_ = 0;
  int64_t count_ = 0;
};

// -log softmax(logits)[token]: the maximum taken in float, exp-sums and logs in float64.
double token_nll(const float* logits, int64_t n_vocab, int32_t token);

// Reads an evaluation text as llama.cpp's -f does (whole file, one trailing newline dropped).
// Throws Error naming the file when it cannot be read.
std::string read_perplexity_text(const std::string& path);

// Produces logits for tokens at positions pos0.. of the current chunk. Must return rows
// [n x n_vocab] for the positions >= first_output (none when all positions are before it).
using ChunkEvaluator = std::function<std::vector<float>(
    std::span<const int32_t> tokens, int64_t pos0, int64_t first_output)>;
// Called at the start of each chunk (clear the KV cache).
using ChunkReset = std::function<void()>;

// The method on already-tokenized text with any evaluator. bos < 0: no BOS substitution.
// Throws Error(source, ...) when the text has fewer than 2 * n_ctx tokens.
PerplexityResult perplexity(const std::vector<int32_t>& tokens, int64_t n_vocab, int32_t bos,
                            const ChunkReset& reset, const ChunkEvaluator& eval,
                            const PerplexityOptions& opts, const std::string& source);

// The method with a loaded model on text already tokenized with add_special = true.
PerplexityResult perplexity(const std::shared_ptr<const Model>& model,
                            const std::vector<int32_t>& tokens, const PerplexityOptions& opts,
                            const std::string& source);

// The method with a loaded model on raw text (tokenized here with add_special = true).
PerplexityResult perplexity(const std::shared_ptr<const Model>& model, const std::string& text,
                            const PerplexityOptions& opts, const std::string& source);

}  // namespace squish
