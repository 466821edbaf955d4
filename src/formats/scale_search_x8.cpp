// Eight-lane affine scale search (see scale_search_x8.h). Written with GCC vector extensions;
// an AVX2 build of the same code is selected at run time. No FMA target is enabled here, so no
// multiply-add is ever fused (bit-exactness with the scalar reference depends on that).
#include "scale_search_x8.h"

#include <cstring>

// Bit-exactness with ggml needs every multiply and add rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

// Lane vectors stay inside this file; the ABI note about passing them is irrelevant.
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace squish::detail {
namespace {

typedef float vf __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(32)));

inline vf splat(float v) { return vf{v, v, v, v, v, v, v, v}; }
inline vi splati(int v) { return vi{v, v, v, v, v, v, v, v}; }
inline vf zeros() { return vf{}; }

// Lane-wise ggml nearest_int.
inline vi nearest_int_x8(vf x) {
  const vf v = x + splat(12582912.f);
  vi i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & splati(0x007fffff)) - splati(0x00400000);
}
inline vi clamp_x8(vi v, vi lo, vi hi) {
  v = v < hi ? v : hi;
  return v > lo ? v : lo;
}
inline vf to_float(vi v) { return __builtin_convertvector(v, vf); }
inline vf absf(vf v) {
  vi b;
  std::memcpy(&b, &v, sizeof(b));
  b &= splati(0x7fffffff);
  std::memcpy(&v, &b, sizeof(v));
  return v;
}
inline vf select(vi mask, vf a, vf b) { return mask ? a : b; }

template <int kDummy>
__attribute__((always_inline)) inline void search_body(int n, int nmax, const float* x, int stride,
                                                       const float* w, int wstride, uint8_t* L,
                                                       float* scale_out, float* neg_min_out,
                                                       float rmin, float rdelta, int nstep,
                                                       bool use_mad) {
  vf X[32], W[32];
  vi Lv[32], Laux[32];
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 8; ++k) {
      X[i][k] = x[k * stride + i];
      W[i][k] = w[k * wstride + i];
    }
  vf min = X[0], max = X[0];
  vf sum_w = W[0];
  vf sum_x = sum_w * X[0];
  for (int i = 1; i < n; ++i) {
    min = select(X[i] < min, X[i], min);
    max = select(X[i] > max, X[i], max);
    sum_w += W[i];
    sum_x += W[i] * X[i];
  }
  min = select(min > splat(0), splat(0), min);
  const vi degenerate = max == min;
  const vf fnmax = splat(static_cast<float>(nmax));
  const vi vzero = splati(0), vnmax = splati(nmax);
  vf iscale = fnmax / (max - min);
  vf scale = splat(1) / iscale;
  vf best_error = splat(0);
  for (int i = 0; i < n; ++i) {
    Lv[i] = clamp_x8(nearest_int_x8(iscale * (X[i] - min)), vzero, vnmax);
    vf diff = scale * to_float(Lv[i]) + min - X[i];
    diff = use_mad ? absf(diff) : diff * diff;
    best_error += W[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = splat(rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    vf sum_l = splat(0), sum_l2 = splat(0), sum_xl = splat(0);
    for (int i = 0; i < n; ++i) {
      Laux[i] = clamp_x8(nearest_int_x8(iscale * (X[i] - min)), vzero, vnmax);
      const vf fl = to_float(Laux[i]);
      sum_l += W[i] * fl;
      sum_l2 += W[i] * fl * fl;
      sum_xl += W[i] * fl * X[i];
    }
    const vf D = sum_w * sum_l2 - sum_l * sum_l;
    const vi ok = D > splat(0);
    vf this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    vf this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const vi pos = this_min > splat(0);
    this_min = select(pos, splat(0), this_min);
    this_scale = select(pos, sum_xl / sum_l2, this_scale);
    vf cur_error = splat(0);
    for (int i = 0; i < n; ++i) {
      vf diff = this_scale * to_float(Laux[i]) + this_min - X[i];
      diff = use_mad ? absf(diff) : diff * diff;
      cur_error += W[i] * diff;
    }
    const vi better = ok & ~degenerate & (cur_error < best_error);
    for (int i = 0; i < n; ++i) Lv[i] = better ? Laux[i] : Lv[i];
    best_error = select(better, cur_error, best_error);
    scale = select(better, this_scale, scale);
    min = select(better, this_min, min);
  }
  for (int k = 0; k < 8; ++k) {
    if (degenerate[k]) {
      for (int i = 0; i < n; ++i) L[k * stride + i] = 0;
      scale_out[k] = 0.f;
    } else {
      for (int i = 0; i < n; ++i) L[k * stride + i] = static_cast<uint8_t>(Lv[i][k]);
      scale_out[k] = scale[k];
    }
    neg_min_out[k] = -min[k];
  }
}

__attribute__((target("avx2"))) void search_avx2(int n, int nmax, const float* x, int stride,
                                                 const float* w, int wstride, uint8_t* L,
                                                 float* scale, float* neg_min, float rmin,
                                                 float rdelta, int nstep, bool use_mad) {
  search_body<0>(n, nmax, x, stride, w, wstride, L, scale, neg_min, rmin, rdelta, nstep, use_mad);
}

void search_generic(int n, int nmax, const float* x, int stride, const float* w, int wstride,
                    uint8_t* L, float* scale, float* neg_min, float rmin, float rdelta, int nstep,
                    bool use_mad) {
  search_body<1>(n, nmax, x, stride, w, wstride, L, scale, neg_min, rmin, rdelta, nstep, use_mad);
}

template <int kDummy>
__attribute__((always_inline)) inline void symmetric_body(int n, int nmax, const float* x,
                                                          int stride, const float* w, int wstride,
                                                          int8_t* L, float* scale_out) {
  vf X[32], W[32];
  vi Lv[32], Laux[32];
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 8; ++k) {
      X[i][k] = x[k * stride + i];
      W[i][k] = w[k * wstride + i];
    }
  vf max = zeros(), amax = zeros();
  for (int i = 0; i < n; ++i) {
    const vf ax = absf(X[i]);
    const vi bigger = ax > amax;
    amax = select(bigger, ax, amax);
    max = select(bigger, X[i], max);
  }
  const vi degenerate = amax < splat(1e-15f);
  const vi lo = splati(-nmax), hi = splati(nmax - 1);
  const float fnmax = static_cast<float>(nmax);
  vf iscale = splat(static_cast<float>(-nmax)) / max;
  vf sumlx = zeros(), suml2 = zeros();
  for (int i = 0; i < n; ++i) {
    Lv[i] = clamp_x8(nearest_int_x8(iscale * X[i]), lo, hi);
    const vf fl = to_float(Lv[i]);
    sumlx += W[i] * X[i] * fl;
    suml2 += W[i] * fl * fl;
  }
  vf scale = select(suml2 != zeros(), sumlx / suml2, zeros());
  vf best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = splat(-(fnmax + 0.1f * static_cast<float>(is))) / max;
    sumlx = suml2 = zeros();
    for (int i = 0; i < n; ++i) {
      Laux[i] = clamp_x8(nearest_int_x8(iscale * X[i]), lo, hi);
      const vf fl = to_float(Laux[i]);
      sumlx += W[i] * X[i] * fl;
      suml2 += W[i] * fl * fl;
    }
    const vi better = (suml2 > zeros()) & (sumlx * sumlx > best * suml2);
    for (int i = 0; i < n; ++i) Lv[i] = better ? Laux[i] : Lv[i];
    scale = select(better, sumlx / suml2, scale);
    best = select(better, scale * sumlx, best);
  }
  for (int k = 0; k < 8; ++k) {
    for (int i = 0; i < n; ++i)
      L[k * stride + i] = degenerate[k] ? 0 : static_cast<int8_t>(Lv[i][k] + nmax);
    scale_out[k] = degenerate[k] ? 0.f : scale[k];
  }
}

__attribute__((target("avx2"))) void symmetric_avx2(int n, int nmax, const float* x, int stride,
                                                    const float* w, int wstride, int8_t* L,
                                                    float* scale) {
  symmetric_body<0>(n, nmax, x, stride, w, wstride, L, scale);
}

void symmetric_generic(int n, int nmax, const float* x, int stride, const float* w, int wstride,
                       int8_t* L, float* scale) {
  symmetric_body<1>(n, nmax, x, stride, w, wstride, L, scale);
}

}  // namespace

void search_affine_scale_x8(int n, int nmax, const float* x, int stride, const float* w,
                            int wstride, uint8_t* L, float* scale, float* neg_min, float rmin,
                            float rdelta, int nstep, bool use_mad) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  (avx2 ? search_avx2 : search_generic)(n, nmax, x, stride, w, wstride, L, scale, neg_min, rmin,
                                        rdelta, nstep, use_mad);
}

void search_symmetric_scale_x8(int n, int nmax, const float* x, int stride, const float* w,
                               int wstride, int8_t* L, float* scale) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  (avx2 ? symmetric_avx2 : symmetric_generic)(n, nmax, x, stride, w, wstride, L, scale);
}

}  // namespace squish::detail
