// Session: one sequence evaluated through forward() with its own KV cache.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "forward.h"
#include "squish/common/error.h"
#include "squish/model/kv_cache.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish {

namespace {
constexpr int64_t kUBatch = 512;     // tokens evaluated per forward pass (bounds scratch memory)
}  // namespace

Session::Session(std::shared_ptr<const Model> model, int64_t n_ctx, KVCacheType kv_type)
    : model_(std::move(model)), n_ctx_(n_ctx) {
  const ModelConfig& c = model_->config();
  if (n_ctx <= 0 || n_ctx > (int64_t{1} << 22))
    throw Error(model_->path(), "context size " + std::to_string(n_ctx) + " is out of range");
  const double bytes = static_cast<double>(n_ctx) * c.n_layer * c.n_head_kv *
                       static_cast<double>(kv_row_bytes(kv_type, c.head_dim_k) + kv_row_bytes(kv_type, c.head_dim_v));
  if (bytes > 64.0 * (1ull << 30))
    throw Error(model_->path(), "a KV cache of " + std::to_string(n_ctx) +
                                    " positions would need " + std::to_string(bytes / (1 << 30)) +
                                    " GiB");
  cache_ = make_session_cache(c, model_->weights(), n_ctx, kv_type);
  scratch_ = std::make_unique<SessionScratch>(c, model_->weights());
}

Session::~Session() = default;

void Session::reset() { n_past_ = 0; }

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past_) throw Error(model_->path(), "cannot truncate the cache to " + std::to_string(n));
  n_past_ = n;
}

size_t Session::kv_cache_bytes() const { return cache_->bytes(); }

std::vector<float> Session::eval(std::span<const int32_t> tokens, bool all_logits) {
  const ModelConfig& c = model_->config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return {};
  if (n_past_ + n > n_ctx_)
    throw Error(model_->path(), "context overflow: " + std::to_string(n_past_) + " + " +
                                    std::to_string(n) + " tokens exceed the context of " +
                                    std::to_string(n_ctx_));
  for (int32_t id : tokens)
    if (id < 0 || id >= c.n_vocab)
      throw Error(model_->path(), "token id " + std::to_string(id) + " is outside the vocabulary (" +
                                      std::to_string(c.n_vocab) + ")");
  std::vector<float> logits(static_cast<size_t>((all_logits ? n : 1) * c.n_vocab));
  for (int64_t b = 0; b < n; b += kUBatch) {
    const int64_t nb = std::min(kUBatch, n - b);
    const bool last = b + nb == n;
    float* out = all_logits ? logits.data() + b * c.n_vocab : (last ? logits.data() : nullptr);
    eval_ubatch(tokens.subspan(static_cast<size_t>(b), static_cast<size_t>(nb)), all_logits, out);
  }
  return logits;
}

void Session::eval_ubatch(std::span<const int32_t> tokens, bool all_logits, float* logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const SequenceRows seq{cache_.get(), n_ctx_, 0, n, n_past_};
  std::vector<int64_t> rows;
  for (int64_t r = all_logits ? 0 : n - 1; r < n; ++r) rows.push_back(r);
  forward(*model_, *scratch_, &observer_, tokens, std::span<const SequenceRows>(&seq, 1), rows, logits);
  n_past_ += n;
}

}  // namespace squish
