// Quantizers of the ternary types TQ1_0 and TQ2_0 (super-blocks of 256 values in {-1, 0, 1} times
// one F16 scale, the block's largest magnitude), byte-identical to ggml's quantize_row_tq1_0_ref /
// quantize_row_tq2_0_ref. Importance is ignored, as in ggml.
#include <algorithm>
#include <cmath>

#include "quantize_internal.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

// The trit of x on the grid of inverse step id: 0, 1, 2 for -1, 0, 1 (ggml: lroundf(x·id) + 1).
inline int trit(float x, float id) { return static_cast<int>(std::lround(x * id)) + 1; }

// The block's scale (its largest magnitude) and the inverse step the trits are rounded with.
float ternary_scale(const float* x, float& id) {
  float amax = 0;
  for (int j = 0; j < kQKK; ++j) amax = std::max(amax, std::fabs(x[j]));
  id = amax != 0 ? 1.0f / amax : 0.0f;
  return amax;
}

// Packs `count` trits (base 3, first trit most significant, `count` ≤ 5, padded with trailing
// zero trits to five) into one byte as ggml does: ceil(v·256 / 243), so that multiplying the byte
// by 3^n (mod 256) brings trit n to the top.
uint8_t pack_trits(const float* x, int stride, int count, float id) {
  int v = 0;
  for (int n = 0; n < count; ++n) v = v * 3 + trit(x[n * stride], id);
  for (int n = count; n < 5; ++n) v *= 3;
  return static_cast<uint8_t>((v * 256 + 242) / 243);
}

void quantize_tq1_0_block(const float* x, BlockTQ1_0& out) {
  float id;
  out.d = fp32_to_fp16(ternary_scale(x, id));
  // 32 bytes of 5 trits (elements m + 32n), 16 bytes of 5 (m + 16n), 4 bytes of 4 (j + 4m).
  for (int m = 0; m < 32; ++m) out.qs[m] = pack_trits(x + m, 32, 5, id);
  x += 160;
  for (int m = 0; m < 16; ++m) out.qs[32 + m] = pack_trits(x + m, 16, 5, id);
  x += 80;
  for (int j = 0; j < 4; ++j) out.qh[j] = pack_trits(x + j, 4, 4, id);
}

void quantize_tq2_0_block(const float* x, BlockTQ2_0& out) {
  float id;
  out.d = fp32_to_fp16(ternary_scale(x, id));
  for (int j = 0; j < kQKK / 4; j += 32, x += 128)
    for (int m = 0; m < 32; ++m) {
      int q = 0;
      for (int n = 0; n < 4; ++n) q |= (trit(x[m + 32 * n], id) & 3) << (2 * n);
      out.qs[j + m] = static_cast<uint8_t>(q);
    }
}

}  // namespace

void quantize_tq1_0(const float* x, void* dst, int64_t n, const float*) {
  auto* b = static_cast<BlockTQ1_0*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i) quantize_tq1_0_block(x + i * kQKK, b[i]);
}

void quantize_tq2_0(const float* x, void* dst, int64_t n, const float*) {
  auto* b = static_cast<BlockTQ2_0*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i) quantize_tq2_0_block(x + i * kQKK, b[i]);
}

}  // namespace squish::detail
