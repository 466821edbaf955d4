#include "squish/eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/model/model.h"

namespace squish {

double NllAccumulator::ppl() const { return count_ ? std::exp(sum_ / count_) : 0.0; }

double NllAccumulator::ppl_stderr() const {
  if (count_ < 2) return 0.0;
  const double mean = sum_ / count_;
  const double var = sum2_ / count_ - mean * mean;
  return var > 0 ? std::sqrt(var / (count_ - 1)) * std::exp(mean) : 0.0;
}

double token_nll(const float* logits, int64_t n_vocab, int32_t token) {
  float mx = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  return std::log(sum) - static_cast<double>(logits[token] - mx);
}

std::string read_perplexity_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot read the text file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

PerplexityResult perplexity(const std::vector<int32_t>& tokens, int64_t n_vocab, int32_t bos,
                            const ChunkReset& reset, const ChunkEvaluator& eval,
                            const PerplexityOptions& opts, const std::string& source) {
  const int64_t n_ctx = opts.n_ctx;
  if (n_ctx < 4) throw Error(source, "context size must be at least 4 tokens");
  if (opts.n_batch < 1) throw Error(source, "batch size must be at least 1");
  const int64_t n_tok = static_cast<int64_t>(tokens.size());
  if (n_tok < 2 * n_ctx)
    throw Error(source, "the text tokenizes to " + std::to_string(n_tok) + " tokens; at least " +
                            std::to_string(2 * n_ctx) + " are needed for a context of " +
                            std::to_string(n_ctx));
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab) throw Error(source, "token id " + std::to_string(t) + " outside the vocabulary");
  const int64_t n_max = n_tok / n_ctx;
  const int64_t n_chunk = opts.max_chunks < 0 ? n_max : std::min(opts.max_chunks, n_max);
  const int64_t n_batch = std::min(opts.n_batch, n_ctx);
  const int64_t first = n_ctx / 2;
  const int64_t n_score = n_ctx - 1 - first;

  PerplexityResult res;
  res.n_text_tokens = n_tok;
  res.n_ctx = n_ctx;
  res.n_chunks = n_chunk;
  NllAccumulator acc;
  std::vector<int32_t> chunk(n_ctx);
  std::vector<double> nll(n_score);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunk; ++c) {
    const int64_t start = c * n_ctx;
    std::copy(tokens.begin() + start, tokens.begin() + start + n_ctx, chunk.begin());
    if (bos >= 0) chunk[0] = bos;
    reset();
    std::vector<float> logits;  // rows for positions first .. n_ctx-1
    logits.reserve(static_cast<size_t>(n_ctx - first) * n_vocab);
    for (int64_t b = 0; b < n_ctx; b += n_batch) {
      const int64_t n = std::min(n_batch, n_ctx - b);
      std::vector<float> out = eval(std::span<const int32_t>(chunk.data() + b, n), b, first);
      const int64_t want = std::max<int64_t>(0, b + n - std::max(b, first));
      if (static_cast<int64_t>(out.size()) != want * n_vocab)
        throw Error(source, "internal error: evaluator returned " + std::to_string(out.size()) +
                                " logits, expected " + std::to_string(want * n_vocab));
      logits.insert(logits.end(), out.begin(), out.end());
    }
    // Row r (position first + r) predicts the token at position first + r + 1.
    parallel_for(n_score, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        nll[r] = token_nll(logits.data() + r * n_vocab, n_vocab, tokens[start + first + r + 1]);
    });
    for (double v : nll) acc.add(v);
    if (opts.on_scored) opts.on_scored(logits.data(), tokens.data() + start + first + 1, n_score);
    res.running_ppl.push_back(acc.ppl());
    if (opts.on_chunk) opts.on_chunk(c + 1, n_chunk, acc.ppl());
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.ppl = acc.ppl();
  res.ppl_stderr = acc.ppl_stderr();
  res.n_scored = acc.count();
  return res;
}

PerplexityResult perplexity(const std::shared_ptr<const Model>& model, const std::string& text,
                            const PerplexityOptions& opts, const std::string& source) {
  const std::vector<int32_t> tokens =
      model->tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
  return perplexity(model, tokens, opts, source);
}

PerplexityResult perplexity(const std::shared_ptr<const Model>& model,
                            const std::vector<int32_t>& tokens, const PerplexityOptions& opts,
                            const std::string& source) {
  const Tokenizer& tok = model->tokenizer();
  const int32_t bos = tok.add_bos() ? tok.bos_id() : -1;
  Session session(model, opts.n_ctx, opts.kv_type);
  const int64_t n_vocab = model->config().n_vocab;
  // Positions before `first` are evaluated without logits; the rest with all of theirs.
  auto eval = [&](std::span<const int32_t> toks, int64_t pos0, int64_t first) {
    const int64_t n = static_cast<int64_t>(toks.size());
    const int64_t split = std::clamp(first - pos0, int64_t{0}, n);
    if (split > 0) session.eval(toks.subspan(0, split), false);
    if (split == n) return std::vector<float>{};
    return session.eval(toks.subspan(split), true);
  };
  return perplexity(tokens, n_vocab, bos, [&] { session.reset(); }, eval, opts, source);
}

}  // namespace squish
