// Quantizers of the legacy 32-element block types. Without importance they are byte-identical to
// ggml's reference quantizers (quantize_row_q*_ref); with importance they follow ggml's
// imatrix-weighted variants (quantize_row_q*_impl): weights qw * sqrt(sigma2 + x^2) with sigma2 the
// row's mean square, and a weighted scale search per block. Each block is done in two steps —
// choose its grid (scale, min, codes), then pack the codes — which GPTQ reuses with its own codes.
#include <algorithm>
#include <cfloat>
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

constexpr int kGroup = 8;  // blocks per eight-lane weighted search

// The element of largest magnitude (first one on ties), keeping its sign.
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

inline void min_max(const float* x, int n, float& mn, float& mx) {
  mn = FLT_MAX;
  mx = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < mn) mn = x[j];
    if (x[j] > mx) mx = x[j];
  }
}

inline void block_weights(const float* xb, const float* qw, float sigma2, float* w) {
  for (int j = 0; j < kQK; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// Packs 32 five-bit levels into nibbles + high-bit word.
inline void pack_q5(const uint8_t* L, uint8_t* qs, uint8_t* qh_out) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t a = L[j], b = L[j + kQK / 2];
    qs[j] = static_cast<uint8_t>((a & 0x0F) | ((b & 0x0F) << 4));
    qh |= ((a & 0x10u) >> 4) << j;
    qh |= ((b & 0x10u) >> 4) << (j + kQK / 2);
  }
  std::memcpy(qh_out, &qh, 4);
}

inline void pack_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK / 2; ++j) qs[j] = static_cast<uint8_t>((L[j] & 15) | ((L[j + kQK / 2] & 15) << 4));
}

inline bool is_affine(GGMLType t) { return t == GGMLType::Q4_1 || t == GGMLType::Q5_1; }

// The code layout of a legacy type (Q8_0's signed codes are stored shifted by 128).
BlockGrid legacy_layout(GGMLType t) {
  BlockGrid g;
  g.legacy = true;
  switch (t) {
    case GGMLType::Q4_0: g.zero = 8, g.qmax = 15; break;
    case GGMLType::Q5_0: g.zero = 16, g.qmax = 31; break;
    case GGMLType::Q8_0: g.zero = 128, g.qmax = 255; break;
    case GGMLType::Q4_1: g.zero = 0, g.qmax = 15; break;
    case GGMLType::Q5_1: g.zero = 0, g.qmax = 31; break;
    default: throw std::invalid_argument("not a legacy block type: " + type_name(t));
  }
  return g;
}

// Stores scale d (and min m for Q4_1/Q5_1) in F16 and completes the grid with them.
void set_legacy_scales(GGMLType t, float d, float m, uint8_t* y, BlockGrid& g) {
  const uint16_t d16 = fp32_to_fp16(d);
  std::memcpy(y, &d16, 2);  // every legacy block starts with its F16 scale
  g.d[0] = fp16_to_fp32(d16);
  g.id = d != 0 ? 1.0f / d : 0.0f;
  g.mn = m;
  if (is_affine(t)) {
    const uint16_t m16 = fp32_to_fp16(m);
    std::memcpy(y + 2, &m16, 2);  // then, for Q4_1/Q5_1, its F16 minimum
    g.dm[0] = -fp16_to_fp32(m16);
  }
}

// ggml's reference scale of one block (min in m for the affine types).
float reference_scale(GGMLType t, const float* x, const BlockGrid& g, float& m) {
  m = 0;
  if (is_affine(t)) {
    float mx;
    min_max(x, kQK, m, mx);
    return (mx - m) / static_cast<float>(g.qmax);
  }
  if (t == GGMLType::Q8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    return amax / 127;
  }
  return signed_absmax(x, kQK) / static_cast<float>(-g.zero);
}

// Row quantizer shared by the legacy types: blocks chosen and packed eight at a time.
void quantize_legacy(GGMLType t, const float* x, void* dst, int64_t n, const float* qw) {
  const int64_t nb = n / kQK;
  const size_t bb = type_traits(t).type_size;
  auto* y = static_cast<uint8_t*>(dst);
  const float sigma2 = qw ? row_mean_square(x, n) : 0.0f;
  BlockGrid g[kGroup];
  uint8_t L[kGroup * kQK];
  for (int64_t b0 = 0; b0 < nb; b0 += kGroup) {
    const int64_t cnt = std::min<int64_t>(kGroup, nb - b0);
    choose_legacy_grids(t, x + kQK * b0, cnt, qw ? qw + kQK * b0 : nullptr, kQK, &sigma2, 0,
                        y + bb * b0, static_cast<int64_t>(bb), g, L);
    for (int64_t b = 0; b < cnt; ++b) pack_legacy_codes(t, L + kQK * b, y + bb * (b0 + b));
  }
}

}  // namespace

float row_mean_square(const float* x, int64_t n) {
  float s = 0;
  for (int64_t j = 0; j < n; ++j) s += x[j] * x[j];
  return s / static_cast<float>(n);
}

void choose_legacy_grids(GGMLType t, const float* x, int64_t nb, const float* qw, int64_t qw_stride,
                         const float* sigma2, int64_t s2_stride, uint8_t* dst, int64_t dst_stride,
                         BlockGrid* g, uint8_t* L) {
  const BlockGrid layout = legacy_layout(t);
  const bool affine = is_affine(t);
  if (!qw || t == GGMLType::Q8_0) {  // ggml's reference rule (Q8_0 ignores importance)
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + kQK * b;
      g[b] = layout;
      float m;
      const float d = reference_scale(t, xb, g[b], m);
      set_legacy_scales(t, d, m, dst + dst_stride * b, g[b]);
      for (int j = 0; j < kQK; ++j) L[kQK * b + j] = static_cast<uint8_t>(grid_code(g[b], 0, xb[j], 0));
    }
    return;
  }
  // Importance-weighted search, eight blocks per call (the last group padded with zero blocks,
  // whose results are discarded).
  float xs[kGroup * kQK], ws[kGroup * kQK], sc[kGroup], neg_min[kGroup];
  uint8_t Lu[kGroup * kQK];
  int8_t Ls[kGroup * kQK];
  for (int64_t b0 = 0; b0 < nb; b0 += kGroup) {
    const int64_t cnt = std::min<int64_t>(kGroup, nb - b0);
    std::memset(xs, 0, sizeof(xs));
    std::memset(ws, 0, sizeof(ws));
    std::memcpy(xs, x + kQK * b0, static_cast<size_t>(cnt * kQK) * 4);
    for (int64_t b = 0; b < cnt; ++b)
      block_weights(xs + kQK * b, qw + qw_stride * (b0 + b), sigma2[s2_stride * (b0 + b)], ws + kQK * b);
    if (affine)
      search_affine_scale_x8(kQK, layout.qmax, xs, kQK, ws, kQK, Lu, sc, neg_min, -0.9f, 0.05f, 36, false);
    else
      search_symmetric_scale_x8(kQK, layout.zero, xs, kQK, ws, kQK, Ls, sc);
    for (int64_t b = 0; b < cnt; ++b) {
      BlockGrid& gb = g[b0 + b];
      gb = layout;
      set_legacy_scales(t, sc[b], affine ? -neg_min[b] : 0.0f, dst + dst_stride * (b0 + b), gb);
      for (int j = 0; j < kQK; ++j)
        L[kQK * (b0 + b) + j] = affine ? Lu[kQK * b + j] : static_cast<uint8_t>(Ls[kQK * b + j]);
    }
  }
}

void pack_legacy_codes(GGMLType t, const uint8_t* L, void* dst) {
  switch (t) {
    case GGMLType::Q4_0: pack_nibbles(L, static_cast<BlockQ4_0*>(dst)->qs); return;
    case GGMLType::Q4_1: pack_nibbles(L, static_cast<BlockQ4_1*>(dst)->qs); return;
    case GGMLType::Q5_0: {
      auto* y = static_cast<BlockQ5_0*>(dst);
      pack_q5(L, y->qs, y->qh);
      return;
    }
    case GGMLType::Q5_1: {
      auto* y = static_cast<BlockQ5_1*>(dst);
      pack_q5(L, y->qs, y->qh);
      return;
    }
    case GGMLType::Q8_0: {
      auto* y = static_cast<BlockQ8_0*>(dst);
      for (int j = 0; j < kQK; ++j) y->qs[j] = static_cast<int8_t>(L[j] - 128);
      return;
    }
    default:
      throw std::invalid_argument("not a legacy block type: " + type_name(t));
  }
}

void quantize_q4_0(const float* x, void* dst, int64_t n, const float* qw) { quantize_legacy(GGMLType::Q4_0, x, dst, n, qw); }
void quantize_q4_1(const float* x, void* dst, int64_t n, const float* qw) { quantize_legacy(GGMLType::Q4_1, x, dst, n, qw); }
void quantize_q5_0(const float* x, void* dst, int64_t n, const float* qw) { quantize_legacy(GGMLType::Q5_0, x, dst, n, qw); }
void quantize_q5_1(const float* x, void* dst, int64_t n, const float* qw) { quantize_legacy(GGMLType::Q5_1, x, dst, n, qw); }
void quantize_q8_0(const float* x, void* dst, int64_t n, const float* /*qw*/) { quantize_legacy(GGMLType::Q8_0, x, dst, n, nullptr); }

void encode_legacy_block(GGMLType t, float d, const int32_t* codes, void* dst) {
  if (t != GGMLType::Q4_0 && t != GGMLType::Q5_0 && t != GGMLType::Q8_0)
    throw std::invalid_argument("encode_legacy_block: not a legacy symmetric type");
  BlockGrid g = legacy_layout(t);
  set_legacy_scales(t, d, 0.0f, static_cast<uint8_t*>(dst), g);
  uint8_t L[kQK];
  const int shift = t == GGMLType::Q8_0 ? 128 : 0;  // Q8_0's codes are given signed
  for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>((codes[j] + shift) & g.qmax);
  pack_legacy_codes(t, L, dst);
}

}  // namespace squish::detail
