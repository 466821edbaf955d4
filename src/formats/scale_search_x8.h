// Eight-lane versions of the affine scale searches: eight independent sub-blocks are searched at
// once, one per SIMD lane. Every lane performs exactly the scalar sequence of IEEE operations of
// search_affine_scale / search_affine_scale_v3, so the results are bit-identical (only faster).
#pragma once
#include <cstdint>

namespace squish::detail {

// One search over 8 sub-blocks of n (<= 32) elements: lane k reads x[k*stride + i] and
// w[k*wstride + i] (w may not be null) and writes L[k*stride + i] (levels 0..nmax), scale[k]
// and neg_min[k]. For search_affine_scale (v3 == false) and search_affine_scale_v3 (v3 == true)
// with explicit weights; both share the same arithmetic for finite input.
void search_affine_scale_x8(int n, int nmax, const float* x, int stride, const float* w,
                            int wstride, uint8_t* L, float* scale, float* neg_min, float rmin,
                            float rdelta, int nstep, bool use_mad);

// Eight-lane search_symmetric_scale with explicit weights (ggml: make_qx_quants with
// rmse_type 1): lane k reads x[k*stride + i], w[k*wstride + i] and writes L[k*stride + i]
// (level + nmax) and scale[k].
void search_symmetric_scale_x8(int n, int nmax, const float* x, int stride, const float* w,
                               int wstride, int8_t* L, float* scale);

}  // namespace squish::detail
