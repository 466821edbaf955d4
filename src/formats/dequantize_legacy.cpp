// Dequantization of the plain float types and the legacy 32-element block types, bit-exact with
// ggml's reference dequantizers (one multiply, then one add: no fused multiply-add).
#include <array>
#include <cstring>

#include "dequantize_internal.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

// Bit-exactness with ggml needs every multiply and add rounded separately, whatever -march.
#pragma GCC optimize("fp-contract=off")

namespace squish::detail {
namespace {

const std::array<float, 65536>& f16_lut() {
  static const auto table = [] {
    std::array<float, 65536> t{};
    for (uint32_t i = 0; i < 65536; ++i) t[i] = fp16_to_fp32(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

}  // namespace

float f16_table(uint16_t h) { return f16_lut()[h]; }

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto& t = f16_lut();
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    dst[i] = t[h];
  }
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}

void dequantize_q4_0(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQK) {
    const float d = f16_table(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = static_cast<float>((b[i].qs[j] & 0xF) - 8) * d;
      dst[j + kQK / 2] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQK) {
    const float d = f16_table(b[i].d);
    const float m = f16_table(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      const float p0 = static_cast<float>(b[i].qs[j] & 0xF) * d;
      const float p1 = static_cast<float>(b[i].qs[j] >> 4) * d;
      dst[j] = p0 + m;
      dst[j + kQK / 2] = p1 + m;
    }
  }
}

void dequantize_q5_0(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQK) {
    const float d = f16_table(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) & 1) << 4;
      const int h1 = ((qh >> (j + 16)) & 1) << 4;
      dst[j] = static_cast<float>(((b[i].qs[j] & 0xF) | h0) - 16) * d;
      dst[j + kQK / 2] = static_cast<float>(((b[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQK) {
    const float d = f16_table(b[i].d);
    const float m = f16_table(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) & 1) << 4;
      const int h1 = ((qh >> (j + 16)) & 1) << 4;
      const float p0 = static_cast<float>((b[i].qs[j] & 0xF) | h0) * d;
      const float p1 = static_cast<float>((b[i].qs[j] >> 4) | h1) * d;
      dst[j] = p0 + m;
      dst[j + kQK / 2] = p1 + m;
    }
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t nb) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < nb; ++i, dst += kQK) {
    const float d = f16_table(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

}  // namespace squish::detail
