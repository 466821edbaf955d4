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

void BatchSession::reset(int64_t s) {
  check_sequence(s);
  n_past_[static_cast<size_t>(s)] = 0;
}

void BatchSession::truncate(int64_t s, int64_t n) {
  check_prefix(s, n, "keep");
  n_past_[static_cast<size_t>(s)] = n;
}

void BatchSession::copy_prefix(int64_t from, int64_t to, int64_t n) {
  check_prefix(from, n, "copy");
  check_sequence(to);
  if (from == to) throw Error(model_->path(), "cannot copy sequence " + std::to_string(to) + " into itself");
  caches_[static_cast<size_t>(to)]->copy_prefix(*caches_[static_cast<size_t>(from)], n);
  n_past_[static_cast<size_t>(to)] = n;
}

size_t BatchSession::kv_cache_bytes() const {
  size_t b = 0;
  for (const auto& c : caches_) b += c->bytes();
  return b;
}

void BatchSession::check_sequence(int64_t s) const {
  if (s < 0 || s >= n_seq()) throw Error(model_->path(), "no sequence " + std::to_string(s) + " in the batch");
}

void BatchSession::check_prefix(int64_t s, int64_t n, const char* what) const {
  check_sequence(s);
  if (n < 0 || n > n_past(s))
    throw Error(model_->path(), std::string("cannot ") + what + " " + std::to_string(n) + " of sequence " +
                                    std::to_string(s) + "'s " + std::to_string(n_past(s)) + " positions");
}

void BatchSession::check(std::span<const SeqTokens> parts) const {
  const int64_t V = model_->config().n_vocab;
  std::vector<bool> seen(static_cast<size_t>(n_seq()), false);
  for (const SeqTokens& p : parts) {
    for (int32_t id : p.tokens)
      if (id < 0 || id >= V)
        throw Error(model_->path(), "token id " + std::to_string(id) + " is outside the vocabulary (" +
                                        std::to_string(V) + ")");
    const int64_t s = p.seq;
    check_sequence(s);
    if (seen[static_cast<size_t>(s)])
      throw Error(model_->path(), "sequence " + std::to_string(s) + " appears twice in one batch step");
    seen[static_cast<size_t>(s)] = true;
    const int64_t need = n_past_[static_cast<size_t>(s)] + static_cast<int64_t>(p.tokens.size());
    if (need > n_ctx_)
      throw Error(model_->path(), "context overflow in sequence " + std::to_string(s) + ": " +
                                      std::to_string(need) + " positions exceed " + std::to_string(n_ctx_));
  }
}

std::vector<float> BatchSession::advance(std::span<const SeqTokens> parts) {
  check(parts);
  std::vector<int32_t> tokens;
  std::vector<SequenceRows> rows;
  std::vector<int64_t> last_rows;
  for (const SeqTokens& p : parts) {
    const int64_t n = static_cast<int64_t>(p.tokens.size());
    if (n == 0) throw Error(model_->path(), "sequence " + std::to_string(p.seq) + " has no tokens in a batch step");
    const auto s = static_cast<size_t>(p.seq);
    const int64_t row0 = static_cast<int64_t>(tokens.size());
    rows.push_back({caches_[s].get(), n_ctx_, row0, n, n_past_[s]});
    tokens.insert(tokens.end(), p.tokens.begin(), p.tokens.end());
    last_rows.push_back(row0 + n - 1);
  }
  std::vector<float> logits(parts.size() * static_cast<size_t>(model_->config().n_vocab));
  if (parts.empty()) return logits;
  forward(*model_, *scratch_, nullptr, tokens, rows, last_rows, logits.data());
  for (const SeqTokens& p : parts) n_past_[static_cast<size_t>(p.seq)] += static_cast<int64_t>(p.tokens.size());
  return logits;
}

std::vector<float> BatchSession::prefill(int64_t s, std::span<const int32_t> tokens) {
  if (tokens.empty()) {
    const SeqTokens none{s, tokens};
    check(std::span<const SeqTokens>(&none, 1));
    return {};
  }
  const SeqTokens part{s, tokens};
  return advance(std::span<const SeqTokens>(&part, 1));
}

std::vector<float> BatchSession::step(std::span<const int32_t> tokens) {
  const int64_t B = n_seq();
  if (static_cast<int64_t>(tokens.size()) != B)
    throw Error(model_->path(), "a batch step needs one token per sequence (" + std::to_string(B) +
                                    "), got " + std::to_string(tokens.size()));
  std::vector<SeqTokens> parts;
  for (int64_t s = 0; s < B; ++s) parts.push_back({s, tokens.subspan(static_cast<size_t>(s), 1)});
  return advance(parts);
}

}  // namespace squish
