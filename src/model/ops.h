// Element-wise and row-wise operations of the forward pass, with llama.cpp's (ggml's) numerics.
#pragma once
#include <cstdint>

namespace squish::ops {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for `rows` rows of length n (y may alias x).
// w may be nullptr (no weight). Parallel over rows when worthwhile.
void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);

// Rotates the first n_rot dims of each head of x [n_tok x n_heads x head_dim] in place; token t
// is at position pos0 + t. neox: pairs (i, i + n_rot/2); else adjacent pairs (2i, 2i+1).
// theta_i = scale * pos * base^(-2i/n_rot) / freq_factors[i], accumulated the way ggml does
// (freq_factors: n_rot/2 divisors, llama3 scaling's rope_freqs; null: none).
void rope(float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos0,
          float base, float scale, bool neox, const float* freq_factors = nullptr);

// g = silu(g) * u over n elements.
void swiglu(float* g, const float* u, int64_t n);

// g = gelu(g) * u over n elements, with ggml's tanh approximation evaluated through its F16
// lookup table (the input and the gelu value rounded to F16), so results match llama.cpp's.
void geglu(float* g, const float* u, int64_t n);

// x += y over n elements.
void add(float* x, const float* y, int64_t n);

}  // namespace squish::ops
