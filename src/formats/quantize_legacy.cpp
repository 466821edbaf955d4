// Quantizers of the legacy 32-element block types. Without importance they are byte-identical to
// ggml's reference quantizers (quantize_row_q*_ref); with importance they follow ggml's
// imatrix-weighted variants (quantize_row_q*_impl): weights qw * sqrt(sigma2 + x^2) with sigma2 the
// row's mean square, and a weighted scale search per block.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "quantize_internal.h"
#include "scale_search.h"
#include "scale_search_x8.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

// Bit-exactness with ggml needs every multiply and add rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

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

// Mean square of a whole row (sequential float sum, as ggml).
inline float row_sigma2(const float* x, int64_t n) {
  float s = 0;
  for (int64_t j = 0; j < n; ++j) s += x[j] * x[j];
  return s / static_cast<float>(n);
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

// Importance-weighted symmetric search of all blocks of a row, eight blocks per call (the last
// group is padded with zero blocks, whose results are discarded). Fills d and levels per block.
void symmetric_blocks_weighted(const float* x, int64_t n, const float* qw, int nmax, float* d,
                               int8_t* L) {
  const float sigma2 = row_sigma2(x, n);
  const int64_t nb = n / kQK;
  float xs[8 * kQK], ws[8 * kQK], sc[8];
  int8_t Ls[8 * kQK];
  for (int64_t g = 0; g < nb; g += 8) {
    const int64_t cnt = std::min<int64_t>(8, nb - g);
    std::memset(xs, 0, sizeof(xs));
    std::memset(ws, 0, sizeof(ws));
    std::memcpy(xs, x + kQK * g, static_cast<size_t>(cnt * kQK) * 4);
    for (int64_t b = 0; b < cnt; ++b) block_weights(xs + kQK * b, qw + kQK * (g + b), sigma2, ws + kQK * b);
    search_symmetric_scale_x8(kQK, nmax, xs, kQK, ws, kQK, Ls, sc);
    std::memcpy(L + kQK * g, Ls, static_cast<size_t>(cnt * kQK));
    std::memcpy(d + g, sc, static_cast<size_t>(cnt) * 4);
  }
}

// Importance-weighted affine search of all blocks of a row, eight blocks per call (padding as
// above). Fills scale d, -min and levels per block.
void affine_blocks_weighted(const float* x, int64_t n, const float* qw, int nmax, float* d,
                            float* neg_min, uint8_t* L) {
  const float sigma2 = row_sigma2(x, n);
  const int64_t nb = n / kQK;
  float xs[8 * kQK], ws[8 * kQK], sc[8], mn[8];
  uint8_t Ls[8 * kQK];
  for (int64_t g = 0; g < nb; g += 8) {
    const int64_t cnt = std::min<int64_t>(8, nb - g);
    std::memset(xs, 0, sizeof(xs));
    std::memset(ws, 0, sizeof(ws));
    std::memcpy(xs, x + kQK * g, static_cast<size_t>(cnt * kQK) * 4);
    for (int64_t b = 0; b < cnt; ++b) block_weights(xs + kQK * b, qw + kQK * (g + b), sigma2, ws + kQK * b);
    search_affine_scale_x8(kQK, nmax, xs, kQK, ws, kQK, Ls, sc, mn, -0.9f, 0.05f, 36, false);
    std::memcpy(L + kQK * g, Ls, static_cast<size_t>(cnt * kQK));
    std::memcpy(d + g, sc, static_cast<size_t>(cnt) * 4);
    std::memcpy(neg_min + g, mn, static_cast<size_t>(cnt) * 4);
  }
}

inline uint8_t trunc_u8(float v) { return static_cast<uint8_t>(static_cast<int8_t>(v)); }

}  // namespace

void quantize_q4_0(const float* x, void* dst, int64_t n, const float* qw) {
  auto* y = static_cast<BlockQ4_0*>(dst);
  const int64_t nb = n / kQK;
  if (qw) {
    std::vector<float> d(static_cast<size_t>(nb));
    std::vector<int8_t> L(static_cast<size_t>(n));
    symmetric_blocks_weighted(x, n, qw, 8, d.data(), L.data());
    for (int64_t ib = 0; ib < nb; ++ib) {
      const int8_t* Lb = L.data() + kQK * ib;
      y[ib].d = fp32_to_fp16(d[ib]);
      for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(Lb[j] | (Lb[j + 16] << 4));
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = signed_absmax(x, kQK) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t a = std::min<uint8_t>(15, trunc_u8(x[j] * id + 8.5f));
      const uint8_t b = std::min<uint8_t>(15, trunc_u8(x[j + kQK / 2] * id + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

void quantize_q4_1(const float* x, void* dst, int64_t n, const float* qw) {
  auto* y = static_cast<BlockQ4_1*>(dst);
  const int64_t nb = n / kQK;
  if (qw) {
    std::vector<float> d(static_cast<size_t>(nb)), neg_min(static_cast<size_t>(nb));
    std::vector<uint8_t> L(static_cast<size_t>(n));
    affine_blocks_weighted(x, n, qw, 15, d.data(), neg_min.data(), L.data());
    for (int64_t ib = 0; ib < nb; ++ib) {
      const uint8_t* Lb = L.data() + kQK * ib;
      y[ib].d = fp32_to_fp16(d[ib]);
      y[ib].m = fp32_to_fp16(-neg_min[ib]);
      for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(Lb[j] | (Lb[j + 16] << 4));
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float mn, mx;
    min_max(x, kQK, mn, mx);
    const float d = (mx - mn) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t a = std::min<uint8_t>(15, trunc_u8((x[j] - mn) * id + 0.5f));
      const uint8_t b = std::min<uint8_t>(15, trunc_u8((x[j + kQK / 2] - mn) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

void quantize_q5_0(const float* x, void* dst, int64_t n, const float* qw) {
  auto* y = static_cast<BlockQ5_0*>(dst);
  const int64_t nb = n / kQK;
  uint8_t L[kQK];
  if (qw) {
    std::vector<float> d(static_cast<size_t>(nb));
    std::vector<int8_t> Ls(static_cast<size_t>(n));
    symmetric_blocks_weighted(x, n, qw, 16, d.data(), Ls.data());
    for (int64_t ib = 0; ib < nb; ++ib) {
      y[ib].d = fp32_to_fp16(d[ib]);
      for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>(Ls[kQK * ib + j]);
      pack_q5(L, y[ib].qs, y[ib].qh);
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = signed_absmax(x, kQK) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) L[j] = std::min<uint8_t>(31, trunc_u8(x[j] * id + 16.5f));
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void quantize_q5_1(const float* x, void* dst, int64_t n, const float* qw) {
  auto* y = static_cast<BlockQ5_1*>(dst);
  const int64_t nb = n / kQK;
  uint8_t L[kQK];
  if (qw) {
    std::vector<float> d(static_cast<size_t>(nb)), neg_min(static_cast<size_t>(nb));
    std::vector<uint8_t> Lr(static_cast<size_t>(n));
    affine_blocks_weighted(x, n, qw, 31, d.data(), neg_min.data(), Lr.data());
    for (int64_t ib = 0; ib < nb; ++ib) {
      y[ib].d = fp32_to_fp16(d[ib]);
      y[ib].m = fp32_to_fp16(-neg_min[ib]);
      pack_q5(Lr.data() + kQK * ib, y[ib].qs, y[ib].qh);
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float mn, mx;
    min_max(x, kQK, mn, mx);
    const float d = (mx - mn) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    // ggml truncates to uint8 without clamping; 31 is never exceeded for finite input.
    for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>((x[j] - mn) * id + 0.5f);
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void quantize_q8_0(const float* x, void* dst, int64_t n, const float* /*qw*/) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void encode_legacy_block(GGMLType t, float d, const int32_t* codes, void* dst) {
  uint8_t L[kQK];
  switch (t) {
    case GGMLType::Q4_0: {
      auto* y = static_cast<BlockQ4_0*>(dst);
      y->d = fp32_to_fp16(d);
      for (int j = 0; j < kQK / 2; ++j)
        y->qs[j] = static_cast<uint8_t>((codes[j] & 15) | ((codes[j + kQK / 2] & 15) << 4));
      return;
    }
    case GGMLType::Q5_0: {
      auto* y = static_cast<BlockQ5_0*>(dst);
      y->d = fp32_to_fp16(d);
      for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>(codes[j] & 31);
      pack_q5(L, y->qs, y->qh);
      return;
    }
    case GGMLType::Q8_0: {
      auto* y = static_cast<BlockQ8_0*>(dst);
      y->d = fp32_to_fp16(d);
      for (int j = 0; j < kQK; ++j) y->qs[j] = static_cast<int8_t>(codes[j]);
      return;
    }
    default:
      throw std::invalid_argument("encode_legacy_block: not a legacy symmetric type");
  }
}

}  // namespace squish::detail

