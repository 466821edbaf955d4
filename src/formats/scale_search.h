// Scale/min searches used by the k-quant and importance-weighted quantizers. Each reproduces the
// floating-point semantics of the corresponding ggml routine (named in its comment) exactly, so
// that squish's quantized bytes equal llama.cpp's: sums are accumulated sequentially in float and
// products are evaluated left to right without fused multiply-add.
#pragma once
#include <cstdint>
#include <cstring>

namespace squish::detail {

// Round to nearest, ties to even, for |x| < 2^22 (ggml: nearest_int).
inline int nearest_int(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// Symmetric signed scale search with levels -nmax..nmax-1; L receives level + nmax.
// weighting: 1 = x^2, 2 = 1, 3 = |x|, 4 = sqrt|x| unless qw is given (ggml: make_qx_quants).
float search_symmetric_scale(int n, int nmax, const float* x, int8_t* L, int weighting,
                             const float* qw);

// Q3_K's symmetric search with iterative per-element refinement (ggml: make_q3_quants).
float search_symmetric_scale_refined(int n, int nmax, const float* x, int8_t* L, bool refine);

// The affine (scale, min) searches (ggml: make_qkx2_quants / make_qkx3_quants) live in
// scale_search_x8.h, eight sub-blocks at a time.

// Unsigned scale search for non-negative x (sub-block scales) with levels 0..nmax under
// importance weights (ggml: make_qp_quants).
float search_positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* qw);

}  // namespace squish::detail
