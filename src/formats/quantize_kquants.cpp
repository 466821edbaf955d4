// Quantizers of the k-quant super-block types (256 elements). Without importance they reproduce
// ggml's reference quantizers (quantize_row_q*_K_ref) byte for byte; with importance they follow
// ggml's imatrix-weighted variants (quantize_row_q*_K_impl). Each super-block is done in two steps
// — choose its grid (scale fields, then the codes they round x to), then pack the codes — which
// GPTQ reuses with its own codes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "quantize_internal.h"
#include "scale_search.h"
#include "scale_search_x8.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

// Bit-exactness with ggml needs every multiply and add rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

inline int clamp_int(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// Packs 256 two-bit levels (Q2_K and the low bits of Q3_K).
inline void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQKK; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>((L[j + l] & 3) | ((L[j + l + 32] & 3) << 2) |
                                            ((L[j + l + 64] & 3) << 4) | ((L[j + l + 96] & 3) << 6));
}

// Stores sub-block j's 6-bit scale and min in the Q4_K/Q5_K 12-byte layout (zeroed by caller
// for j < 4 entries being assigned first, as in ggml).
inline void pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* s) {
  if (j < 4) {
    s[j] = ls;
    s[j + 4] = lm;
  } else {
    s[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    s[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
    s[j] |= static_cast<uint8_t>((lm >> 4) << 6);
  }
}

// The code layout of a k-quant type: sub-block size, code of value 0, largest code.
BlockGrid kquant_layout(GGMLType t) {
  BlockGrid g;
  switch (t) {
    case GGMLType::Q2_K: g.sub_size = 16, g.zero = 0, g.qmax = 3; break;
    case GGMLType::Q3_K: g.sub_size = 16, g.zero = 4, g.qmax = 7; break;
    case GGMLType::Q4_K: g.sub_size = 32, g.zero = 0, g.qmax = 15; break;
    case GGMLType::Q5_K: g.sub_size = 32, g.zero = 0, g.qmax = 31; break;
    case GGMLType::Q6_K: g.sub_size = 16, g.zero = 32, g.qmax = 63; break;
    default: throw std::invalid_argument("not a k-quant block type: " + type_name(t));
  }
  return g;
}

// Q4_K / Q5_K: per-sub-block scales and mins of a super-block, then their 6-bit encoding into
// d, dmin and the 12 scale bytes; the search's levels go to L.
void quantize_k4_scales(const float* x, const float* qw, int nmax, uint8_t* L, uint16_t& d16,
                        uint16_t& dmin16, uint8_t* packed) {
  float weights[kQKK];
  float mins[kQKK / 32], scales[kQKK / 32];
  std::memset(packed, 0, kKScaleSize);
  if (!qw) {
    const float rmin = nmax == 15 ? -1.f : -0.5f;
    const int nstep = nmax == 15 ? 20 : 15;
    for (int j = 0; j < kQKK / 32; ++j) {
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
    }
    search_affine_scale_x8(32, nmax, x, 32, weights, 32, L, scales, mins, rmin, 0.1f, nstep, false);
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < kQKK / 32; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kQKK / 32; ++j) {
      const uint8_t ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
      const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
      pack_scale_min_k4(j, ls, lm, packed);
    }
    d16 = fp32_to_fp16(max_scale / 63.f);
    dmin16 = fp32_to_fp16(max_min / 63.f);
  } else {
    float sw[kQKK / 32];
    uint8_t Ls[kQKK / 32], Lm[kQKK / 32];
    float sum_x2 = 0;
    for (int l = 0; l < kQKK; ++l) sum_x2 += x[l] * x[l];
    const float sigma2 = 2 * sum_x2 / kQKK;
    for (int j = 0; j < kQKK / 32; ++j) {
      float* wj = weights + 32 * j;
      for (int l = 0; l < 32; ++l)
        wj[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += wj[l];
      sw[j] = sumw;
    }
    search_affine_scale_x8(32, nmax, x, 32, weights, 32, L, scales, mins, -0.9f, 0.05f, 36, false);
    const float d_block = search_positive_scale(kQKK / 32, 63, scales, Ls, sw);
    const float m_block = search_positive_scale(kQKK / 32, 63, mins, Lm, sw);
    // ggml clamps to 63 here for Q5_K only (levels above 63 arise only from negative scales).
    for (int j = 0; j < kQKK / 32; ++j) {
      const bool clamp = nmax == 31;
      pack_scale_min_k4(j, clamp ? std::min<uint8_t>(63, Ls[j]) : Ls[j],
                        clamp ? std::min<uint8_t>(63, Lm[j]) : Lm[j], packed);
    }
    d16 = fp32_to_fp16(d_block);
    dmin16 = fp32_to_fp16(m_block);
  }
}

// The grid of a Q4_K/Q5_K super-block from its stored scales and mins.
void k4_grid(uint16_t d16, uint16_t dmin16, const uint8_t* scales, BlockGrid& g) {
  for (int j = 0; j < kQKK / 32; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales, sc, m);
    g.d[j] = fp16_to_fp32(d16) * static_cast<float>(sc);
    g.dm[j] = fp16_to_fp32(dmin16) * static_cast<float>(m);
  }
}

// Packs Q3_K's 16 6-bit scales (values 0..63).
inline void pack_scales_q3_k(const int* ls, uint8_t* s) {
  std::memset(s, 0, kKScaleSize);
  for (int j = 0; j < 16; ++j) {
    int l = ls[j];
    if (j < 8)
      s[j] = static_cast<uint8_t>(l & 0xF);
    else
      s[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    l >>= 4;
    s[j % 4 + 8] |= static_cast<uint8_t>(l << (2 * (j / 4)));
  }
}

// Scale fields and grid of a Q2_K super-block; the search's levels go to L.
void q2_k_scales(const float* x, const float* qw, BlockQ2_K& y, BlockGrid& g, uint8_t* L) {
  float weights[kQKK], mins[16], scales[16];
  if (!qw) {
    const float q4scale = 15.f;
    float max_scale = 0, max_min = 0;
    for (int l = 0; l < kQKK; ++l) weights[l] = std::fabs(x[l]);
    for (int h = 0; h < 2; ++h)
      search_affine_scale_x8(16, 3, x + 128 * h, 16, weights + 128 * h, 16, L + 128 * h,
                             scales + 8 * h, mins + 8 * h, -0.5f, 0.1f, 15, true);
    for (int j = 0; j < 16; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; ++j) y.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      y.d = fp32_to_fp16(max_scale / q4scale);
    } else {
      std::memset(y.scales, 0, 16);
      y.d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; ++j) y.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
      y.dmin = fp32_to_fp16(max_min / q4scale);
    } else {
      y.dmin = fp32_to_fp16(0.f);
    }
  } else {
    float sw[16] = {};
    uint8_t Ls[16], Lm[16];
    float sumx2 = 0;
    for (int j = 0; j < kQKK; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / kQKK;
    for (int j = 0; j < 16; ++j) {
      float* wj = weights + 16 * j;
      for (int l = 0; l < 16; ++l) wj[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      for (int l = 0; l < 16; ++l) sw[j] += wj[l];
    }
    for (int h = 0; h < 2; ++h)
      search_affine_scale_x8(16, 3, x + 128 * h, 16, weights + 128 * h, 16, L + 128 * h,
                             scales + 8 * h, mins + 8 * h, -0.9f, 0.05f, 36, false);
    const float dm = search_positive_scale(16, 15, scales, Ls, sw);
    const float mm = search_positive_scale(16, 15, mins, Lm, sw);
    y.d = fp32_to_fp16(dm);
    y.dmin = fp32_to_fp16(mm);
    for (int j = 0; j < 16; ++j) y.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  }
  const float dall = fp16_to_fp32(y.d), mall = fp16_to_fp32(y.dmin);
  for (int j = 0; j < 16; ++j) {
    g.d[j] = dall * static_cast<float>(y.scales[j] & 0xF);
    g.dm[j] = mall * static_cast<float>(y.scales[j] >> 4);
  }
}

// Scale fields and grid of a Q3_K super-block; the search's levels go to L.
void q3_k_scales(const float* x, const float* qw, BlockQ3_K& y, BlockGrid& g, uint8_t* L) {
  auto* Li = reinterpret_cast<int8_t*>(L);  // the searches write level + 4 (0..7)
  float scales[16];
  int ls[16];
  if (!qw) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = search_symmetric_scale_refined(16, 4, x + 16 * j, Li + 16 * j, true);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
        ls[j] = clamp_int(l, -32, 31) + 32;
      }
      pack_scales_q3_k(ls, y.scales);
      y.d = fp32_to_fp16(1 / iscale);
    } else {
      std::memset(y.scales, 0, kKScaleSize);
      y.d = fp32_to_fp16(0.f);
    }
  } else {
    float weight[kQKK], sw[16];
    int8_t Ls[16];
    float sumx2 = 0;
    for (int j = 0; j < kQKK; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / kQKK;
    for (int j = 0; j < 16; ++j) {
      float* wj = weight + 16 * j;
      for (int l = 0; l < 16; ++l) wj[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 16; ++l) sumw += wj[l];
      sw[j] = sumw;
    }
    for (int h = 0; h < 2; ++h)
      search_symmetric_scale_x8(16, 4, x + 128 * h, 16, weight + 128 * h, 16, Li + 128 * h, scales + 8 * h);
    const float d_block = search_symmetric_scale(16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < 16; ++j) ls[j] = Ls[j];
    pack_scales_q3_k(ls, y.scales);
    y.d = fp32_to_fp16(d_block);
  }
  uint8_t sc[16];
  unpack_scales_q3_k(y.scales, sc);
  const float dall = fp16_to_fp32(y.d);
  for (int j = 0; j < 16; ++j) g.d[j] = dall * static_cast<float>(static_cast<int8_t>(sc[j] - 32));
}

// Scale fields and grid of a Q6_K super-block; the search's levels go to L.
void q6_k_scales(const float* x, const float* qw, BlockQ6_K& y, BlockGrid& g, uint8_t* L) {
  auto* Li = reinterpret_cast<int8_t*>(L);  // the search writes level + 32 (0..63)
  float scales[16], w2[kQKK];
  const float* w = qw ? qw : w2;
  if (!qw)
    for (int l = 0; l < kQKK; ++l) w2[l] = x[l] * x[l];
  for (int h = 0; h < 2; ++h)
    search_symmetric_scale_x8(16, 32, x + 128 * h, 16, w + 128 * h, 16, Li + 128 * h, scales + 8 * h);
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float a = std::fabs(scales[ib]);
    if (a > max_abs_scale) {
      max_abs_scale = a;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {  // an all-zero block: every field 0
    std::memset(y.scales, 0, sizeof(y.scales));
    y.d = 0;
    std::memset(L, 0, kQKK);
    return;
  }
  const float iscale = -128.f / max_scale;
  y.d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < 16; ++ib) y.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  const float dall = fp16_to_fp32(y.d);
  for (int j = 0; j < 16; ++j) g.d[j] = dall * static_cast<float>(y.scales[j]);
}

// Row quantizer shared by the k-quants: choose each super-block's grid, then pack its codes.
void quantize_kquant(GGMLType t, const float* x, void* dst, int64_t n, const float* qw) {
  auto* y = static_cast<uint8_t*>(dst);
  const size_t bb = type_traits(t).type_size;
  BlockGrid g;
  uint8_t L[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i) {
    choose_kquant_grid(t, x + kQKK * i, qw ? qw + kQKK * i : nullptr, y + bb * i, g, L);
    pack_kquant_codes(t, L, y + bb * i);
  }
}

}  // namespace

void choose_kquant_grid(GGMLType t, const float* x, const float* qw, void* dst, BlockGrid& g,
                        uint8_t* L) {
  g = kquant_layout(t);
  switch (t) {
    case GGMLType::Q2_K: q2_k_scales(x, qw, *static_cast<BlockQ2_K*>(dst), g, L); break;
    case GGMLType::Q3_K: q3_k_scales(x, qw, *static_cast<BlockQ3_K*>(dst), g, L); break;
    case GGMLType::Q4_K: {
      auto& y = *static_cast<BlockQ4_K*>(dst);
      quantize_k4_scales(x, qw, 15, L, y.d, y.dmin, y.scales);
      k4_grid(y.d, y.dmin, y.scales, g);
      break;
    }
    case GGMLType::Q5_K: {
      auto& y = *static_cast<BlockQ5_K*>(dst);
      quantize_k4_scales(x, qw, 31, L, y.d, y.dmin, y.scales);
      k4_grid(y.d, y.dmin, y.scales, g);
      break;
    }
    default: q6_k_scales(x, qw, *static_cast<BlockQ6_K*>(dst), g, L); break;
  }
  // The stored codes: x re-rounded on the grid the stored scales define.
  for (int l = 0; l < kQKK; ++l) L[l] = static_cast<uint8_t>(grid_code(g, l / g.sub_size, x[l], L[l]));
}

int grid_code(const BlockGrid& g, int j, float x, int keep) {
  if (g.legacy) {
    if (g.qmax == 255) {  // Q8_0: nearest, ties away from zero
      const float r = std::round(x * g.id);
      return r <= -128 ? 0 : r >= 127 ? 255 : static_cast<int>(r) + 128;
    }
    const float v = (x - g.mn) * g.id + (static_cast<float>(g.zero) + 0.5f);  // ggml truncates
    return !(v >= 0) ? 0 : v >= static_cast<float>(g.qmax) ? g.qmax : static_cast<int>(v);
  }
  const float d = g.d[j];
  if (d == 0) return keep;
  const float v = (x + g.dm[j]) / d;
  if (!(std::fabs(v) < 4194304.f)) return v > 0 ? g.qmax : 0;  // beyond nearest_int's range
  return clamp_int(nearest_int(v), -g.zero, g.qmax - g.zero) + g.zero;
}

float grid_value(const BlockGrid& g, int j, int L) {
  const float p = g.d[j] * static_cast<float>(L - g.zero);
  return p - g.dm[j];
}

void pack_kquant_codes(GGMLType t, const uint8_t* L, void* dst) {
  switch (t) {
    case GGMLType::Q2_K: pack_2bit(L, static_cast<BlockQ2_K*>(dst)->qs); return;
    case GGMLType::Q3_K: {
      auto& y = *static_cast<BlockQ3_K*>(dst);
      std::memset(y.hmask, 0, kQKK / 8);
      uint8_t U[kQKK];
      int m = 0;
      uint8_t hm = 1;
      for (int j = 0; j < kQKK; ++j) {
        int v = L[j];
        if (v > 3) {
          y.hmask[m] |= hm;
          v -= 4;
        }
        U[j] = static_cast<uint8_t>(v);
        if (++m == kQKK / 8) {
          m = 0;
          hm = static_cast<uint8_t>(hm << 1);
        }
      }
      pack_2bit(U, y.qs);
      return;
    }
    case GGMLType::Q4_K: {
      uint8_t* q = static_cast<BlockQ4_K*>(dst)->qs;
      for (int j = 0; j < kQKK; j += 64, q += 32)
        for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      return;
    }
    case GGMLType::Q5_K: {
      auto& y = *static_cast<BlockQ5_K*>(dst);
      uint8_t* qh = y.qh;
      uint8_t* ql = y.qs;
      std::memset(qh, 0, kQKK / 8);
      uint8_t m1 = 1, m2 = 2;
      for (int base = 0; base < kQKK; base += 64, ql += 32) {
        for (int j = 0; j < 32; ++j) {
          int l1 = L[base + j], l2 = L[base + j + 32];
          if (l1 > 15) {
            l1 -= 16;
            qh[j] |= m1;
          }
          if (l2 > 15) {
            l2 -= 16;
            qh[j] |= m2;
          }
          ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
        }
        m1 = static_cast<uint8_t>(m1 << 2);
        m2 = static_cast<uint8_t>(m2 << 2);
      }
      return;
    }
    case GGMLType::Q6_K: {
      auto& y = *static_cast<BlockQ6_K*>(dst);
      uint8_t* ql = y.ql;
      uint8_t* qh = y.qh;
      for (int j = 0; j < kQKK; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; ++l) {
          const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
          const int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
          ql[l] = static_cast<uint8_t>(q1 | (q3 << 4));
          ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
          qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                       ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
      }
      return;
    }
    default:
      throw std::invalid_argument("not a k-quant block type: " + type_name(t));
  }
}

void quantize_q2_k(const float* x, void* dst, int64_t n, const float* qw) { quantize_kquant(GGMLType::Q2_K, x, dst, n, qw); }
void quantize_q3_k(const float* x, void* dst, int64_t n, const float* qw) { quantize_kquant(GGMLType::Q3_K, x, dst, n, qw); }
void quantize_q4_k(const float* x, void* dst, int64_t n, const float* qw) { quantize_kquant(GGMLType::Q4_K, x, dst, n, qw); }
void quantize_q5_k(const float* x, void* dst, int64_t n, const float* qw) { quantize_kquant(GGMLType::Q5_K, x, dst, n, qw); }
void quantize_q6_k(const float* x, void* dst, int64_t n, const float* qw) { quantize_kquant(GGMLType::Q6_K, x, dst, n, qw); }
void quantize_q8_k(const float* x, void* dst, int64_t n, const float* /*qw*/) {
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t nb = n / kQKK;
  for (int64_t i = 0; i < nb; ++i, x += kQKK, out += sizeof(BlockQ8_K)) {
    BlockQ8_K b{};
    float max = 0, amax = 0;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax != 0) {
      const float iscale = -127.f / max;
      for (int j = 0; j < kQKK; ++j)
        b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
      for (int j = 0; j < kQKK / 16; ++j) {
        int sum = 0;
        for (int ii = 0; ii < 16; ++ii) sum += b.qs[16 * j + ii];
        b.bsums[j] = static_cast<int16_t>(sum);
      }
      b.d = 1 / iscale;
    }
    std::memcpy(out, &b, sizeof(b));
  }
}

}  // namespace squish::detail
