// The mixture-of-experts feed-forward block (Mixtral, Qwen3-MoE): a router picks each token's top-k
// experts, whose SwiGLU outputs are summed with the routing weights.
#pragma once
#include <cstdint>
#include <functional>

#include "squish/arch/config.h"
#include "squish/model/weights.h"

namespace squish {

// out[n × n_embd] = Σ over each token's top-k experts e of w_e · down_e(silu(gate_e(x)) · up_e(x)),
// for the normed inputs x = h[n × n_embd]. The router's softmax runs over all experts; the top-k
// weights are renormalised to sum to 1 when c.expert_weights_norm (Mixtral's softmax over the top-k
// logits is the same thing). Tokens are batched per expert; the expert matrices are read as slices
// of the stacked 3-D tensors in whatever format they are held (F32 or GGUF blocks).
// observe (may be empty) sees each expert's inputs: (tensor kind FfnGateExps / FfnUpExps /
// FfnDownExps, expert, its m input rows [m × cols], m, cols).
using ExpertObserver = std::function<void(LayerTensor, int64_t, const float*, int64_t, int64_t)>;
void moe_ffn(const ModelConfig& c, const LayerWeights& L, int64_t n, const float* h, float* out,
             const ExpertObserver& observe = {});

// The routing of n tokens: for each token its top-k experts (descending weight) and their weights,
// into experts[n × k] and weights[n × k], from the router logits [n × n_expert].
void route_tokens(const ModelConfig& c, int64_t n, const float* logits, int32_t* experts, float* weights);

}  // namespace squish
