// Dequantization of the ternary types TQ1_0 and TQ2_0, bit-exact with ggml's dequantize_row_tq1_0 /
// dequantize_row_tq2_0 (and gguf-py's): each value is (trit - 1) · d.
#include "dequantize_internal.h"
#include "squish/formats/ggml_blocks.h"

#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

// Trit n (0 = most significant) of a TQ1_0 byte: multiplying by 3^n (mod 256) brings it to the top.
inline int tq1_trit(uint8_t byte, int n) {
  const auto q = static_cast<uint8_t>(byte * kPow3[n]);
  return (q * 3) >> 8;
}

// Expands `bytes` packed bytes into `trits` × bytes values, trit-major (value n·bytes + m).
float* expand_tq1(const uint8_t* p, int bytes, int trits, float d, float* y) {
  for (int n = 0; n < trits; ++n)
    for (int m = 0; m < bytes; ++m) *y++ = static_cast<float>(tq1_trit(p[m], n) - 1) * d;
  return y;
}

}  // namespace

void dequantize_tq1_0(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockTQ1_0*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_table(b[i].d);
    dst = expand_tq1(b[i].qs, 32, 5, d, dst);
    dst = expand_tq1(b[i].qs + 32, 16, 5, d, dst);
    dst = expand_tq1(b[i].qh, 4, 4, d, dst);
  }
}

void dequantize_tq2_0(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockTQ2_0*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_table(b[i].d);
    for (int j = 0; j < kQKK / 4; j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m)
          *dst++ = static_cast<float>(((b[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
  }
}

}  // namespace squish::detail
