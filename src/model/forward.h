// The decoder forward pass shared by Session and BatchSession: rows of one pass may belong to
// different sequences, each extending its own KV cache from its own position.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "squish/arch/config.h"
#include "squish/model/kv_cache.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish {

// Activations of one micro-batch and the tensor names reported to observers.
class SessionScratch {
 public:
  explicit SessionScratch(const ModelConfig& c, const ModelWeights& w) : SessionScratch(c, w.lm_head().name) {}
  // Scratch for layers only (no model weights at hand, e.g. layer-by-layer calibration).
  SessionScratch(const ModelConfig& c, std::string lm_head) : lm_head_name(std::move(lm_head)), c_(c) {
    names.resize(static_cast<size_t>(c.n_layer));
    const ArchSpec& arch = arch_spec(c.arch);
    using LT = LayerTensor;
    const bool moe = arch.features.moe;  // the stacked experts stand for gate, up, down
    for (int64_t il = 0; il < c.n_layer; ++il)  // a fused tensor's parts report its name
      for (LT k : {LT::AttnQ, LT::AttnK, LT::AttnV, LT::AttnOutput, moe ? LT::FfnGateExps : LT::FfnGate,
                   moe ? LT::FfnUpExps : LT::FfnUp, moe ? LT::FfnDownExps : LT::FfnDown})
        names[static_cast<size_t>(il)].push_back(layer_tensor_name(il, *layer_tensor_source(arch, k)));
  }
  void reserve(int64_t n) {
    if (n <= cap_) return;
    const int64_t E = c_.n_embd, Q = c_.n_head * c_.head_dim_k, K = c_.n_head_kv * c_.head_dim_k;
    const int64_t Vd = c_.n_head_kv * c_.head_dim_v, O = c_.n_head * c_.head_dim_v;
    x.resize(n * E), h.resize(n * E), o.resize(n * E);
    q.resize(n * Q), k.resize(n * K), v.resize(n * Vd), attn.resize(n * O);
    g.resize(n * c_.n_ff), u.resize(n * c_.n_ff);
    cap_ = n;
  }
  std::vector<float> x, h, o, q, k, v, attn, g, u;
  std::vector<std::vector<std::string>> names;  // per layer: q k v o gate up down
  std::string lm_head_name;

 private:
  const ModelConfig& c_;
  int64_t cap_ = 0;
};

// Consecutive rows [row0, row0 + n) of a pass: tokens of one sequence at positions p0 .. p0+n-1.
struct SequenceRows {
  KVCache* cache;
  int64_t n_ctx;  // the cache's capacity (positions)
  int64_t row0, n, p0;
  int64_t cache_layer = -1;  // layer slot of the cache to use (-1: the layer's own index)
};

// The residual stream x[t·n_embd] of the tokens' embeddings (gemma3's sqrt(n_embd) scaling included).
void embed_tokens(const ModelConfig& c, const Weight& token_embd, std::span<const int32_t> tokens,
                  float* x);

// One decoder block over n rows: S.x (n × n_embd, the residual stream) is updated in place, keys and
// values appended to the sequences' caches; observer (may be null) sees every linear's input.
void decoder_layer(const ModelConfig& c, const LayerWeights& L, int64_t il, SessionScratch& S,
                   const LinearObserver* observer, int64_t n, std::span<const SequenceRows> seqs);

// Evaluates tokens (every row belongs to exactly one entry of seqs, which are in row order),
// appending keys and values to the caches. Writes the logits of the rows listed in logit_rows
// (in that order, [logit_rows.size() x n_vocab]) when logits is not null. observer may be null.
void forward(const Model& model, SessionScratch& S, const LinearObserver* observer,
             std::span<const int32_t> tokens, std::span<const SequenceRows> seqs,
             std::span<const int64_t> logit_rows, float* logits);

}  // namespace squish
