// Dequantization of the k-quant super-block types (256 elements), bit-exact with ggml's reference
// dequantizers: the sub-block scale is formed first (d * sc), then multiplied by the quant, then the
// sub-block minimum (dmin * m) is subtracted — each as a separately rounded float operation.
#include <cstring>

#include "dequantize_internal.h"
#include "squish/formats/ggml_blocks.h"

// Bit-exactness with ggml needs every multiply and add rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

namespace squish::detail {

void dequantize_q2_k(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQKK) {
    const float d = f16_table(b[i].d);
    const float dmin = f16_table(b[i].dmin);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b[i].qs + 32 * half;
      for (int j = 0; j < 4; ++j) {
        for (int g = 0; g < 2; ++g) {
          const uint8_t sc = b[i].scales[8 * half + 2 * j + g];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          float* y = dst + 128 * half + 32 * j + 16 * g;
          for (int l = 0; l < 16; ++l) {
            const float p = dl * static_cast<float>((q[16 * g + l] >> (2 * j)) & 3);
            y[l] = p - ml;
          }
        }
      }
    }
  }
}

void dequantize_q3_k(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQKK) {
    const float d = f16_table(b[i].d);
    uint8_t scales[16];
    unpack_scales_q3_k(b[i].scales, scales);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b[i].qs + 32 * half;
      for (int j = 0; j < 4; ++j) {
        const uint8_t hbit = static_cast<uint8_t>(1u << (4 * half + j));
        for (int g = 0; g < 2; ++g) {
          const float dl = d * static_cast<float>(scales[8 * half + 2 * j + g] - 32);
          float* y = dst + 128 * half + 32 * j + 16 * g;
          for (int l = 0; l < 16; ++l) {
            const int k = 16 * g + l;
            const int v = ((q[k] >> (2 * j)) & 3) - ((b[i].hmask[k] & hbit) ? 0 : 4);
            y[l] = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

namespace {

// Shared body of Q4_K and Q5_K: qh == nullptr for Q4_K.
void dequantize_q45_k(uint16_t d16, uint16_t dmin16, const uint8_t* scales, const uint8_t* qs,
                      const uint8_t* qh, float* dst) {
  const float d = f16_table(d16);
  const float dmin = f16_table(dmin16);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales, sc, m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    const uint8_t* q = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    float* y = dst + 32 * j;
    for (int l = 0; l < 32; ++l) {
      int v = (q[l] >> shift) & 0xF;
      if (qh && ((qh[l] >> j) & 1)) v += 16;
      const float p = d1 * static_cast<float>(v);
      y[l] = p - m1;
    }
  }
}

}  // namespace

void dequantize_q4_k(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQKK)
    dequantize_q45_k(b[i].d, b[i].dmin, b[i].scales, b[i].qs, nullptr, dst);
}

void dequantize_q5_k(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQKK)
    dequantize_q45_k(b[i].d, b[i].dmin, b[i].scales, b[i].qs, b[i].qh, dst);
}

void dequantize_q6_k(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQKK) {
    const float d = f16_table(b[i].d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      const int8_t* sc = b[i].scales + 8 * half;
      float* y = dst + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = (d * static_cast<float>(sc[is + 0])) * static_cast<float>(q1);
        y[l + 32] = (d * static_cast<float>(sc[is + 2])) * static_cast<float>(q2);
        y[l + 64] = (d * static_cast<float>(sc[is + 4])) * static_cast<float>(q3);
        y[l + 96] = (d * static_cast<float>(sc[is + 6])) * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_k(const void* src, float* dst, int64_t nb) {
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQKK, s += sizeof(BlockQ8_K)) {
    float d;
    std::memcpy(&d, s, 4);
    const auto* q = reinterpret_cast<const int8_t*>(s + 4);
    for (int l = 0; l < kQKK; ++l) dst[l] = d * static_cast<float>(q[l]);
  }
}

}  // namespace squish::detail
