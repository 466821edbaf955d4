// Batched decoding: several sequences, each with its own KV cache, advanced together so that one
// forward pass (and one read of every weight) serves a token of each.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "squish/model/kv_cache_type.h"
#include "squish/model/model.h"

namespace squish {

class BatchSession {
 public:
  // n_seq sequences of up to n_ctx positions each.
  BatchSession(std::shared_ptr<const Model> model, int64_t n_seq, int64_t n_ctx,
               KVCacheType kv_type = KVCacheType::F32);
  ~BatchSession();

  // Number of sequences.
  int64_t n_seq() const { return static_cast<int64_t>(n_past_.size()); }
  // Positions held by sequence s.
  int64_t n_past(int64_t s) const { return n_past_.at(static_cast<size_t>(s)); }
  // Evaluates a prompt for sequence s alone (appending to its cache); returns its last logits.
  std::vector<float> prefill(int64_t s, std::span<const int32_t> tokens);
  // Appends tokens[i] to sequence i for every i in one forward pass (tokens.size() == n_seq());
  // returns the logits of each, [n_seq x n_vocab].
  std::vector<float> step(std::span<const int32_t> tokens);
  // Tokens appended to one sequence in an advance().
  struct SeqTokens {
    int64_t seq;
    std::span<const int32_t> tokens;
  };
  // Evaluates several sequences' tokens in one forward pass: each entry appends its tokens (one
  // decode token, or a chunk of a prompt) to its own sequence; a sequence appears at most once.
  // Returns the logits of each entry's last token, [parts.size() x n_vocab]; entries with no
  // tokens are not allowed. Sequences not named are left as they are.
  std::vector<float> advance(std::span<const SeqTokens> parts);
  // Empties every cache.
  void reset();
  // Empties sequence s's cache (the others keep theirs).
  void reset(int64_t s);
  // Keeps only the first n positions of sequence s's cache (0 <= n <= n_past(s)): a later
  // advance() appends after them, as if the positions after n had never been evaluated.
  void truncate(int64_t s, int64_t n);
  // Makes sequence `to` hold the first n positions of sequence `from` (n <= n_past(from); to != from).
  void copy_prefix(int64_t from, int64_t to, int64_t n);
  // Context capacity of each sequence.
  int64_t n_ctx() const { return n_ctx_; }
  // Bytes held by the KV caches.
  size_t kv_cache_bytes() const;

 private:
  void check(std::span<const SeqTokens> parts) const;
  // Throws Error unless s names a sequence.
  void check_sequence(int64_t s) const;
  // Throws Error unless s names a sequence and 0 <= n <= n_past(s) (what: the verb of the message).
  void check_prefix(int64_t s, int64_t n, const char* what) const;

  std::shared_ptr<const Model> model_;
  std::vector<std::unique_ptr<KVCache>> caches_;
  std::unique_ptr<SessionScratch> scratch_;
  std::vector<int64_t> n_past_;
  int64_t n_ctx_;
};

}  // namespace squish
