// Dequantization of the non-linear 4-bit types IQ4_NL and IQ4_XS, bit-exact with ggml's
// dequantize_row_iq4_nl / dequantize_row_iq4_xs (and gguf-py's): the sub-block step d·(ls-32) is
// rounded to float first, then multiplied by the table level.
#include "dequantize_internal.h"
#include "squish/formats/ggml_blocks.h"

// Bit-exactness with ggml needs every multiply rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

// Expands 16 index bytes (32 nibbles) at step d into dst[0..31].
inline void expand_iq4_nibbles(const uint8_t* qs, float d, float* dst) {
  for (int j = 0; j < kQK / 2; ++j) {
    dst[j] = d * static_cast<float>(kIQ4NLValues[qs[j] & 0xF]);
    dst[j + kQK / 2] = d * static_cast<float>(kIQ4NLValues[qs[j] >> 4]);
  }
}

}  // namespace

void dequantize_iq4_nl(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockIQ4_NL*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQK) expand_iq4_nibbles(b[i].qs, f16_table(b[i].d), dst);
}

void dequantize_iq4_xs(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockIQ4_XS*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_table(b[i].d);
    for (int j = 0; j < kQKK / kQK; ++j, dst += kQK)
      expand_iq4_nibbles(b[i].qs + j * kQK / 2, d * static_cast<float>(iq4_xs_scale(b[i], j) - 32),
                         dst);
  }
}

}  // namespace squish::detail
