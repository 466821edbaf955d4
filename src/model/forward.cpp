// forward(): embeddings, decoder blocks (attention over each sequence's cache, feed-forward) and the
// output projection of every registered architecture.
#include "forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "moe.h"
#include "ops.h"
#include "squish/common/parallel.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_matmul.h"
#include "squish/kernels/scaled_matrix.h"
#include "squish/kernels/softmax.h"

namespace squish {

namespace {
constexpr int64_t kQueryBlock = 32;  // queries per attention work item

// y = x · Wᵀ (+ bias) for n tokens, with W held as F32 or packed in its GGUF type; the input is
// first rounded as w.input_quant says (W8A8 / FP8 schemes).
void linear(const Weight& w, int64_t n, const float* x, float* y, const float* bias = nullptr) {
  if (w.is_scaled() && w.scaled->format == kernels::ScaledFormat::Int8) {  // integer dots: the
    // kernel quantizes the input itself (per token, or with the static scale)
    kernels::scaled_matmul(*w.scaled, n, x, y, bias, w.input_quant == InputQuant::Int8Static ? w.input_scale : 0.0f);
    return;
  }
  thread_local std::vector<float> xq;
  if (w.input_quant != InputQuant::None) {
    xq.resize(static_cast<size_t>(n * w.cols()));
    fake_quantize_input(w.input_quant, w.input_scale, x, xq.data(), n, w.cols());
    x = xq.data();
  }
  if (w.is_scaled())
    kernels::scaled_matmul(*w.scaled, n, x, y, bias);
  else if (w.panels)
    kernels::block_panel_matmul(*w.panels, n, x, y, bias, kernels::active_isa(),
                                kernels::default_quant_path() != kernels::QuantPath::Fast);
  else if (w.is_packed())
    kernels::quant_matmul(w.type, w.packed, n, w.rows(), w.cols(), x, y, bias);
  else
    kernels::matmul(n, w.rows(), w.cols(), x, w.ptr(), y, bias);
}
}  // namespace

void embed_tokens(const ModelConfig& c, const Weight& token_embd, std::span<const int32_t> tokens,
                  float* x) {
  const int64_t E = c.n_embd;
  // gemma3 scales the embeddings by sqrt(n_embd).
  const float embd_scale = arch_spec(c.arch).features.embed_scale ? std::sqrt(static_cast<float>(E)) : 1.f;
  for (size_t t = 0; t < tokens.size(); ++t) {
    token_embd.row_f32(tokens[t], x + t * E);
    for (int64_t i = 0; i < E; ++i) x[t * E + i] *= embd_scale;
  }
}

void decoder_layer(const ModelConfig& c, const LayerWeights& L, int64_t il, SessionScratch& S,
                   const LinearObserver* observer, int64_t n, std::span<const SequenceRows> seqs) {
  const int64_t E = c.n_embd, F = c.n_ff, hdk = c.head_dim_k, hdv = c.head_dim_v;
  const int64_t nh = c.n_head, nkv = c.n_head_kv, group = nh / nkv;
  const int64_t Q = nh * hdk, O = nh * hdv;
  const ArchFeatures& features = arch_spec(c.arch).features;
  const float eps = c.rms_eps;
  S.reserve(n);
  float *x = S.x.data(), *h = S.h.data(), *o = S.o.data();
  // Each tensor's input once (the parts of a fused tensor share its name).
  const std::string* last_observed = nullptr;
  auto observe = [&](int64_t il, const std::string& name, const float* data, int64_t cols) {
    if (last_observed && *last_observed == name) return;
    last_observed = &name;
    if (observer && *observer) (*observer)(LinearInput{il, name, data, n, cols});
  };
  {
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
    if (features.qk_norm) {
      ops::rms_norm(q, L.attn_q_norm.ptr(), q, n * nh, hdk, eps);
      ops::rms_norm(k, L.attn_k_norm.ptr(), k, n * nkv, hdk, eps);
    }
    const float base = c.layer_rope_base(il), fscale = c.layer_rope_scale(il);
    const float* freq_factors = c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data();
    for (const SequenceRows& sq : seqs) {
      ops::rope(q + sq.row0 * Q, sq.n, nh, hdk, c.n_rot, sq.p0, base, fscale, c.rope_neox, freq_factors);
      ops::rope(k + sq.row0 * nkv * hdk, sq.n, nkv, hdk, c.n_rot, sq.p0, base, fscale, c.rope_neox, freq_factors);
      for (int64_t g = 0; g < nkv; ++g)
        for (int64_t t = sq.row0; t < sq.row0 + sq.n; ++t)
          sq.cache->store(sq.cache_layer >= 0 ? sq.cache_layer : il, g, sq.p0 + t - sq.row0, k + (t * nkv + g) * hdk, v + (t * nkv + g) * hdv);
    }

    const bool swa = c.is_swa(il);
    const int64_t window = c.sliding_window;
    const float kq_scale = c.kq_scale(), softcap = c.attn_logit_softcap;
    // Work items: (sequence, head, block of up to kQueryBlock queries); first[i] = first item of seqs[i].
    std::vector<int64_t> first(seqs.size() + 1, 0);
    for (size_t i = 0; i < seqs.size(); ++i)
      first[i + 1] = first[i] + nh * ((seqs[i].n + kQueryBlock - 1) / kQueryBlock);
    parallel_for(first.back(), [&](int64_t b, int64_t e) {
      std::vector<float> s, kbuf, vbuf;
      for (int64_t item = b; item < e; ++item) {
        const size_t si = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), item) - first.begin() - 1);
        const SequenceRows& sq = seqs[si];
        const KVCache& cache = *sq.cache;
        const int64_t local = item - first[si], nqb = (sq.n + kQueryBlock - 1) / kQueryBlock;
        const int64_t p0 = sq.p0, rows = sq.row0;  // positions of this sequence's rows, first row
        const int64_t hd = local / nqb, q0 = (local % nqb) * kQueryBlock;
        const int64_t q1 = std::min(sq.n, q0 + kQueryBlock), bq = q1 - q0, g = hd / group;
        const int64_t jhi = p0 + q1;
        const int64_t jlo = swa ? std::max<int64_t>(0, p0 + q0 - window + 1) : 0;
        const int64_t nk = jhi - jlo;
        s.resize(static_cast<size_t>(bq * nk));
        const int64_t cl = sq.cache_layer >= 0 ? sq.cache_layer : il;
        const float* keys = cache.keys(cl, g, jlo, jhi, kbuf);
        kernels::gemm_nt(bq, nk, hdk, q + (rows + q0) * Q + hd * hdk, Q, keys, hdk, s.data(), nk, nullptr);
        for (int64_t i = 0; i < bq; ++i) {
          const int64_t pos = p0 + q0 + i;
          float* row = s.data() + i * nk;
          // Keys jlo + [a, z) are visible: causal, and within the window on sliding layers.
          const int64_t a = (swa ? std::max(jlo, pos - window + 1) : jlo) - jlo, z = pos + 1 - jlo;
          kernels::softmax_row(row, a, z, nk, kq_scale, softcap);
        }
        int64_t ldv = 0;
        const float* vt = cache.values_t(cl, g, jlo, jhi, vbuf, &ldv);
        kernels::gemm_nt(bq, hdv, nk, s.data(), nk, vt, ldv, attn + (rows + q0) * O + hd * hdv, O, nullptr);
      }
    });
    observe(il, names[3], attn, O);
    linear(L.attn_output, n, attn, o);
    if (features.post_norms) ops::rms_norm(o, L.post_attention_norm.ptr(), o, n, E, eps);
    ops::add(x, o, n * E);

    // Feed-forward block.
    ops::rms_norm(x, L.ffn_norm.ptr(), h, n, E, eps);
    if (c.is_moe()) {  // each expert's inputs reported with the expert (imatrix)
      ExpertObserver seen;
      if (observer && *observer)
        seen = [&](LayerTensor kind, int64_t e, const float* rows, int64_t m, int64_t cols) {
          const std::string& name = names[kind == LayerTensor::FfnGateExps ? 4 : kind == LayerTensor::FfnUpExps ? 5 : 6];
          (*observer)(LinearInput{il, name, rows, m, cols, e, c.n_expert});
        };
      moe_ffn(c, L, n, h, o, seen);
      ops::add(x, o, n * E);
      return;
    }
    observe(il, names[4], h, E);
    observe(il, names[5], h, E);
    float *gt = S.g.data(), *up = S.u.data();
    linear(L.ffn_gate, n, h, gt);
    linear(L.ffn_up, n, h, up);
    parallel_for(n, [&](int64_t t0, int64_t t1) {
      if (features.gelu)
        ops::geglu(gt + t0 * F, up + t0 * F, (t1 - t0) * F);
      else
        ops::swiglu(gt + t0 * F, up + t0 * F, (t1 - t0) * F);
    });
    observe(il, names[6], gt, F);
    linear(L.ffn_down, n, gt, o);
    if (features.post_norms) ops::rms_norm(o, L.post_ffw_norm.ptr(), o, n, E, eps);
    ops::add(x, o, n * E);
  }
}

void forward(const Model& model, SessionScratch& S, const LinearObserver* observer,
             std::span<const int32_t> tokens, std::span<const SequenceRows> seqs,
             std::span<const int64_t> logit_rows, float* logits) {
  const ModelConfig& c = model.config();
  const ModelWeights& W = model.weights();
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t E = c.n_embd;
  const float eps = c.rms_eps;
  S.reserve(n);
  embed_tokens(c, W.token_embd, tokens, S.x.data());
  for (int64_t il = 0; il < c.n_layer; ++il)
    decoder_layer(c, W.layers[static_cast<size_t>(il)], il, S, observer, n, seqs);

  if (!logits || logit_rows.empty()) return;
  float *x = S.x.data(), *h = S.h.data();
  const int64_t nr = static_cast<int64_t>(logit_rows.size());
  for (int64_t i = 0; i < nr; ++i) ops::rms_norm(x + logit_rows[i] * E, W.output_norm.ptr(), h + i * E, 1, E, eps);
  if (observer && *observer) (*observer)(LinearInput{c.n_layer, S.lm_head_name, h, nr, E});
  linear(W.lm_head(), nr, h, logits);
  if (c.final_logit_softcap > 0.f) {
    const float cap = c.final_logit_softcap;
    for (int64_t i = 0; i < nr * c.n_vocab; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

}  // namespace squish
