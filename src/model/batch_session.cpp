// BatchSession: one forward() pass over a row per sequence, each row extending its own cache.
#include "squish/model/batch_session.h"

#include <string>

#include "forward.h"
#include "squish/common/error.h"

namespace squish {

BatchSession::BatchSession(std::shared_ptr<const Model> model, int64_t n_seq, int64_t n_ctx,
                           KVCacheType kv_type)
    : model_(std::move(model)), n_ctx_(n_ctx) {
  if (n_seq < 1 || n_seq > 4096)
    throw Error(model_->path(), "batch of " + std::to_string(n_seq) + " sequences is out of range");
  if (n_ctx < 1 || n_ctx > (int64_t{1} << 22))
    throw Error(model_->path(), "context size " + std::to_string(n_ctx) + " is out of range");
  for (int64_t s = 0; s < n_seq; ++s)
    caches_.push_back(make_session_cache(model_->config(), model_->weights(), n_ctx, kv_type));
  scratch_ = std::make_unique<SessionScratch>(model_->config(), model_->weights());
  n_past_.assign(static_cast<size_t>(n_seq), 0);
}

BatchSession::~BatchSession() = default;

void BatchSession::reset() { n_past_.assign(n_past_.size(), 0); }

size_t BatchSession::kv_cache_bytes() const {
  size_t b = 0;
  for (const auto& c : caches_) b += c->bytes();
  return b;
}

void BatchSession::check(std::span<const int32_t> tokens, std::span<const int64_t> seqs) const {
  const int64_t V = model_->config().n_vocab;
  for (int32_t id : tokens)
    if (id < 0 || id >= V)
      throw Error(model_->path(), "token id " + std::to_string(id) + " is outside the vocabulary (" +
                                      std::to_string(V) + ")");
  for (int64_t s : seqs) {
    if (s < 0 || s >= n_seq()) throw Error(model_->path(), "no sequence " + std::to_string(s) + " in the batch");
    const int64_t need = n_past_[static_cast<size_t>(s)] + (seqs.size() == 1 ? static_cast<int64_t>(tokens.size()) : 1);
    if (need > n_ctx_)
      throw Error(model_->path(), "context overflow in sequence " + std::to_string(s) + ": " +
                                      std::to_string(need) + " positions exceed " + std::to_string(n_ctx_));
  }
}

std::vector<float> BatchSession::prefill(int64_t s, std::span<const int32_t> tokens) {
  const int64_t seq_id[1] = {s};
  check(tokens, seq_id);
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<float> logits(static_cast<size_t>(model_->config().n_vocab));
  if (n == 0) return {};
  const SequenceRows rows{caches_[static_cast<size_t>(s)].get(), n_ctx_, 0, n, n_past_[static_cast<size_t>(s)]};
  const int64_t last[1] = {n - 1};
  forward(*model_, *scratch_, nullptr, tokens, std::span<const SequenceRows>(&rows, 1), last, logits.data());
  n_past_[static_cast<size_t>(s)] += n;
  return logits;
}

std::vector<float> BatchSession::step(std::span<const int32_t> tokens) {
  const int64_t B = n_seq();
  if (static_cast<int64_t>(tokens.size()) != B)
    throw Error(model_->path(), "a batch step needs one token per sequence (" + std::to_string(B) +
                                    "), got " + std::to_string(tokens.size()));
  std::vector<int64_t> all(static_cast<size_t>(B));
  for (int64_t s = 0; s < B; ++s) all[static_cast<size_t>(s)] = s;
  check(tokens, all);
  std::vector<SequenceRows> rows;
  for (int64_t s = 0; s < B; ++s)
    rows.push_back({caches_[static_cast<size_t>(s)].get(), n_ctx_, s, 1, n_past_[static_cast<size_t>(s)]});
  std::vector<float> logits(static_cast<size_t>(B * model_->config().n_vocab));
  forward(*model_, *scratch_, nullptr, tokens, rows, all, logits.data());
  for (auto& p : n_past_) ++p;
  return logits;
}

}  // namespace squish
