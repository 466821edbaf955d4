// Session: the forward pass of llama / gemma3 / qwen2 over F32 weights with an F32 KV cache.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "squish/model/kv_cache.h"
#include "ops.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_matmul.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"

namespace squish {

namespace {
constexpr int64_t kUBatch = 512;     // tokens evaluated per forward pass (bounds scratch memory)
constexpr int64_t kQueryBlock = 32;  // queries per attention work item

// y = x · Wᵀ (+ bias) for n tokens, with W held as F32 or packed in its GGUF type.
void linear(const Weight& w, int64_t n, const float* x, float* y, const float* bias = nullptr) {
  if (w.is_packed())
    kernels::quant_matmul(w.type, w.packed, n, w.rows(), w.cols(), x, y, bias);
  else
    kernels::matmul(n, w.rows(), w.cols(), x, w.ptr(), y, bias);
}
}  // namespace

// Activations of one micro-batch and the tensor names reported to observers.
class SessionScratch {
 public:
  explicit SessionScratch(const ModelConfig& c, const ModelWeights& w) : c_(c) {
    names.resize(static_cast<size_t>(c.n_layer));
    for (int64_t il = 0; il < c.n_layer; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".";
      auto& n = names[static_cast<size_t>(il)];
      n = {b + "attn_q.weight",   b + "attn_k.weight", b + "attn_v.weight", b + "attn_output.weight",
           b + "ffn_gate.weight", b + "ffn_up.weight", b + "ffn_down.weight"};
    }
    lm_head_name = w.lm_head().name;
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
  cache_ = std::make_unique<KVCache>(c, n_ctx, kv_type);
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
  const ModelConfig& c = model_->config();
  const ModelWeights& W = model_->weights();
  SessionScratch& S = *scratch_;
  KVCache& cache = *cache_;
  const int64_t n = static_cast<int64_t>(tokens.size()), p0 = n_past_;
  const int64_t E = c.n_embd, F = c.n_ff, hdk = c.head_dim_k, hdv = c.head_dim_v;
  const int64_t nh = c.n_head, nkv = c.n_head_kv, group = nh / nkv;
  const int64_t Q = nh * hdk, O = nh * hdv;
  const bool gemma = c.arch == Arch::Gemma3;
  const float eps = c.rms_eps;
  S.reserve(n);
  float *x = S.x.data(), *h = S.h.data(), *o = S.o.data();
  auto observe = [&](int64_t il, const std::string& name, const float* data, int64_t cols) {
    if (observer_) observer_(LinearInput{il, name, data, n, cols});
  };

  // Embeddings (gemma3 scales them by sqrt(n_embd)).
  const float embd_scale = gemma ? std::sqrt(static_cast<float>(E)) : 1.f;
  for (int64_t t = 0; t < n; ++t) {
    W.token_embd.row_f32(tokens[t], x + t * E);
    for (int64_t i = 0; i < E; ++i) x[t * E + i] *= embd_scale;
  }

  for (int64_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = W.layers[static_cast<size_t>(il)];
    const auto& names = S.names[static_cast<size_t>(il)];
    float *q = S.q.data(), *k = S.k.data(), *v = S.v.data(), *attn = S.attn.data();

    // Attention block.
    ops::rms_norm(x, L.attn_norm.ptr(), h, n, E, eps);
    observe(il, names[0], h, E);
    observe(il, names[1], h, E);
    observe(il, names[2], h, E);
    linear(L.attn_q, n, h, q, L.attn_q_bias.ptr());
    linear(L.attn_k, n, h, k, L.attn_k_bias.ptr());
    linear(L.attn_v, n, h, v, L.attn_v_bias.ptr());
    if (gemma) {
      ops::rms_norm(q, L.attn_q_norm.ptr(), q, n * nh, hdk, eps);
      ops::rms_norm(k, L.attn_k_norm.ptr(), k, n * nkv, hdk, eps);
    }
    const float base = c.layer_rope_base(il), fscale = c.layer_rope_scale(il);
    ops::rope(q, n, nh, hdk, c.n_rot, p0, base, fscale, c.rope_neox);
    ops::rope(k, n, nkv, hdk, c.n_rot, p0, base, fscale, c.rope_neox);
    for (int64_t g = 0; g < nkv; ++g)
      for (int64_t t = 0; t < n; ++t)
        cache.store(il, g, p0 + t, k + (t * nkv + g) * hdk, v + (t * nkv + g) * hdv);

    const bool swa = c.is_swa(il);
    const int64_t window = c.sliding_window;
    const float kq_scale = c.kq_scale(), softcap = c.attn_logit_softcap;
    const int64_t nqb = (n + kQueryBlock - 1) / kQueryBlock;
    parallel_for(nh * nqb, [&](int64_t b, int64_t e) {
      std::vector<float> s, kbuf, vbuf;
      for (int64_t item = b; item < e; ++item) {
        const int64_t hd = item / nqb, q0 = (item % nqb) * kQueryBlock;
        const int64_t q1 = std::min(n, q0 + kQueryBlock), bq = q1 - q0, g = hd / group;
        const int64_t jhi = p0 + q1;
        const int64_t jlo = swa ? std::max<int64_t>(0, p0 + q0 - window + 1) : 0;
        const int64_t nk = jhi - jlo;
        s.resize(static_cast<size_t>(bq * nk));
        const float* keys = cache.keys(il, g, jlo, jhi, kbuf);
        kernels::gemm_nt(bq, nk, hdk, q + q0 * Q + hd * hdk, Q, keys, hdk, s.data(), nk, nullptr);
        for (int64_t i = 0; i < bq; ++i) {
          const int64_t pos = p0 + q0 + i;
          float* row = s.data() + i * nk;
          // Keys jlo + [a, z) are visible: causal, and within the window on sliding layers.
          const int64_t a = (swa ? std::max(jlo, pos - window + 1) : jlo) - jlo, z = pos + 1 - jlo;
          float mx = -INFINITY;
          for (int64_t j = a; j < z; ++j) {
            float val = row[j] * kq_scale;
            if (softcap > 0.f) val = softcap * std::tanh(val / softcap);
            row[j] = val;
            mx = std::max(mx, val);
          }
          double sum = 0.0;
          for (int64_t j = a; j < z; ++j) {
            row[j] = std::exp(row[j] - mx);
            sum += row[j];
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t j = 0; j < a; ++j) row[j] = 0.f;
          for (int64_t j = a; j < z; ++j) row[j] *= inv;
          for (int64_t j = z; j < nk; ++j) row[j] = 0.f;
        }
        int64_t ldv = 0;
        const float* vt = cache.values_t(il, g, jlo, jhi, vbuf, &ldv);
        kernels::gemm_nt(bq, hdv, nk, s.data(), nk, vt, ldv, attn + q0 * O + hd * hdv, O, nullptr);
      }
    });
    observe(il, names[3], attn, O);
    linear(L.attn_output, n, attn, o);
    if (gemma) ops::rms_norm(o, L.post_attention_norm.ptr(), o, n, E, eps);
    ops::add(x, o, n * E);

    // Feed-forward block.
    ops::rms_norm(x, L.ffn_norm.ptr(), h, n, E, eps);
    observe(il, names[4], h, E);
    observe(il, names[5], h, E);
    float *gt = S.g.data(), *up = S.u.data();
    linear(L.ffn_gate, n, h, gt);
    linear(L.ffn_up, n, h, up);
    parallel_for(n, [&](int64_t t0, int64_t t1) {
      if (gemma)
        ops::geglu(gt + t0 * F, up + t0 * F, (t1 - t0) * F);
      else
        ops::swiglu(gt + t0 * F, up + t0 * F, (t1 - t0) * F);
    });
    observe(il, names[6], gt, F);
    linear(L.ffn_down, n, gt, o);
    if (gemma) ops::rms_norm(o, L.post_ffw_norm.ptr(), o, n, E, eps);
    ops::add(x, o, n * E);
  }
  n_past_ += n;

  if (!logits) return;
  const int64_t r0 = all_logits ? 0 : n - 1, nr = n - r0;
  ops::rms_norm(x + r0 * E, W.output_norm.ptr(), h, nr, E, eps);
  if (observer_) observer_(LinearInput{c.n_layer, S.lm_head_name, h, nr, E});
  linear(W.lm_head(), nr, h, logits);
  if (c.final_logit_softcap > 0.f) {
    const float cap = c.final_logit_softcap;
    for (int64_t i = 0; i < nr * c.n_vocab; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

}  // namespace squish
