// Quantizers of the non-linear 4-bit types IQ4_NL (blocks of 32, one F16 scale) and IQ4_XS
// (super-blocks of 256: an F16 super-scale and eight 6-bit sub-block scales), byte-identical to
// ggml's quantize_iq4_nl / quantize_iq4_xs (the quantizers llama-quantize calls), with and without
// importance. Each 32-element sub-block searches its scale over 15 trial grids, maximizing the
// weighted projection sumqx²/sumq2; IQ4_XS then rounds the scales to 6 bits of the super-scale and
// re-indexes its elements on the rounded grid.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quantize_internal.h"
#include "scale_search.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

// Bit-exactness with ggml needs every multiply and add rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

constexpr float kGroupMaxEps = 1e-15f;
// Trial grids on each side of the max-fitting one (ggml's ntry).
constexpr int kScaleTrials = 7;
constexpr int kLevels = 16;

// Index of the table level nearest x; at an exact midpoint the upper level (ggml: best_index_int8).
int nearest_level(float x) {
  if (x <= kIQ4NLValues[0]) return 0;
  if (x >= kIQ4NLValues[kLevels - 1]) return kLevels - 1;
  int lo = 0, hi = kLevels - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIQ4NLValues[mid]) hi = mid;
    else lo = mid;
  }
  const float below = x - static_cast<float>(kIQ4NLValues[hi - 1]);
  const float above = static_cast<float>(kIQ4NLValues[hi]) - x;
  return below < above ? hi - 1 : hi;
}

// Weighted sums Σ w·q·x and Σ w·q² of x indexed on the grid of inverse step id (levels to L
// when L is not null).
void project_on_grid(const float* x, const float* w, float id, float& sumqx, float& sumq2,
                     uint8_t* L) {
  sumqx = sumq2 = 0;
  for (int j = 0; j < kQK; ++j) {
    const int l = nearest_level(id * x[j]);
    if (L) L[j] = static_cast<uint8_t>(l);
    const float q = kIQ4NLValues[l];
    sumqx += w[j] * q * x[j];
    sumq2 += w[j] * q * q;
  }
}

// The scale of one 32-element sub-block: the least-squares step of the best of the trial grids
// (0 for a block of near-zero values). Levels of the first grid go to L.
float search_sub_block_scale(const float* x, const float* w, uint8_t* L) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) amax = ax, max = x[j];
  }
  if (amax < kGroupMaxEps) return 0;
  const float first = -max / static_cast<float>(kIQ4NLValues[0]);
  float sumqx, sumq2;
  project_on_grid(x, w, 1 / first, sumqx, sumq2, L);
  float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int t = -kScaleTrials; t <= kScaleTrials; ++t) {
    const float id = static_cast<float>(t + kIQ4NLValues[0]) / max;
    project_on_grid(x, w, id, sumqx, sumq2, nullptr);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Fills w with the weights of sub-block x: x² without importance, else qw·sqrt(sigma2 + x²).
void sub_block_weights(const float* x, const float* qw, float sigma2, float* w) {
  for (int j = 0; j < kQK; ++j)
    w[j] = qw ? qw[j] * std::sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
}

// ggml's sigma2 of a super-block: 2·Σx²/n, the sum sequential in float.
float block_sigma2(const float* x, int n) {
  float s = 0;
  for (int j = 0; j < n; ++j) s += x[j] * x[j];
  return s * (2.f / static_cast<float>(n));
}

// Indexes 32 elements on the grid of inverse step id.
void index_on_grid(const float* x, float id, uint8_t* L) {
  for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>(nearest_level(id * x[j]));
}

// Packs the levels of 32 elements: element j in the low nibble of byte j, j+16 in the high one.
void pack_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK / 2; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + kQK / 2] << 4));
}

void quantize_iq4_nl_block(const float* x, const float* qw, BlockIQ4_NL& out) {
  float w[kQK];
  uint8_t L[kQK];
  sub_block_weights(x, qw, qw ? block_sigma2(x, kQK) : 0.f, w);
  const float d = search_sub_block_scale(x, w, L);
  out.d = fp32_to_fp16(d);
  index_on_grid(x, d != 0 ? 1 / d : 0.f, L);
  pack_nibbles(L, out.qs);
}

void quantize_iq4_xs_block(const float* x, const float* qw, BlockIQ4_XS& out) {
  constexpr int kSub = kQKK / kQK;
  const float sigma2 = qw ? block_sigma2(x, kQKK) : 0.f;
  float scales[kSub], w[kQK];
  uint8_t L[kQK];
  float max_scale = 0, amax_scale = 0;
  for (int j = 0; j < kSub; ++j) {
    sub_block_weights(x + j * kQK, qw ? qw + j * kQK : nullptr, sigma2, w);
    scales[j] = search_sub_block_scale(x + j * kQK, w, L);
    if (std::fabs(scales[j]) > amax_scale) amax_scale = std::fabs(scales[j]), max_scale = scales[j];
  }
  const float d = -max_scale / 32;
  const float id = d != 0 ? 1 / d : 0.f;
  out.d = fp32_to_fp16(d);
  out.scales_h = 0;
  std::memset(out.scales_l, 0, sizeof(out.scales_l));
  for (int j = 0; j < kSub; ++j) {
    const int l = std::clamp(nearest_int(id * scales[j]), -32, 31);
    const float dl = d * static_cast<float>(l);
    index_on_grid(x + j * kQK, dl != 0 ? 1 / dl : 0.f, L);
    pack_nibbles(L, out.qs + j * kQK / 2);
    const int stored = l + 32;
    out.scales_l[j / 2] |= static_cast<uint8_t>((stored & 0xF) << (4 * (j % 2)));
    out.scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * j));
  }
}

}  // namespace

void quantize_iq4_nl(const float* x, void* dst, int64_t n, const float* qw) {
  auto* b = static_cast<BlockIQ4_NL*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i)
    quantize_iq4_nl_block(x + i * kQK, qw ? qw + i * kQK : nullptr, b[i]);
}

void quantize_iq4_xs(const float* x, void* dst, int64_t n, const float* qw) {
  auto* b = static_cast<BlockIQ4_XS*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i)
    quantize_iq4_xs_block(x + i * kQKK, qw ? qw + i * kQKK : nullptr, b[i]);
}

}  // namespace squish::detail
