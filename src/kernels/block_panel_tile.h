// The SIMD panel tile and activation quantizers of block_panel_matmul, written once over a lanes
// type V (panel_lanes_avx512.h: one zmm; panel_lanes_avx2.h: two ymm) that holds the 16 int32 /
// float lanes of a panel's rows: each ISA file instantiates them with its own V. They follow the
// scalar reference (block_panel_kernels.h) operation for operation, so they equal it bit for bit.
// Include only from files compiled for V's ISA (everything here is TU-local).
#pragma once
#include <cmath>

#include "block_panel_kernels.h"
#include "squish/formats/half.h"

namespace squish::kernels::panels {
namespace {

// Bit 4 of the 8 code vectors of a 5-bit block from its high-bit vector hb: bit v of each byte is
// bit 4 of the low-nibble codes of vector 2v, bit 4 + v of the high-nibble ones of vector 2v + 1.
template <class V, int Vec>
typename V::I high_bit(typename V::I hb, typename V::I bit4) {
  constexpr int from = Vec % 2 == 0 ? Vec / 2 : 4 + Vec / 2;
  return V::and_(V::template shift16<4 - from>(hb), bit4);
}

template <class V, int NA, bool Nibbles, bool HighBits, bool StoredMin, bool TwoLevel>
void tile(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, const float* bias,
          int nr, float* C, int64_t ldc) {
  using I = typename V::I;
  using F = typename V::F;
  constexpr size_t code_bytes = Nibbles ? 256 + (HighBits ? 64 : 0) : 512;
  constexpr size_t block_bytes = code_bytes + 32 + (StoredMin ? 32 : 0);
  constexpr int bits = Nibbles ? (HighBits ? 5 : 4) : 8;
  const I low = V::bytes(0x0F), bit4 = V::bytes(0x10);
  const F neg_offset = V::set1(-L.offset);
  F acc[NA];
#pragma GCC unroll 8
  for (auto& v : acc) v = V::zero();
  for (int64_t b = 0; b < blocks; ++b, panel += block_bytes) {
    I w[8];
    if constexpr (Nibbles) {
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) {
        const I raw = V::load_codes(panel + 64 * v);
        w[2 * v] = V::and_(raw, low);
        w[2 * v + 1] = V::and_(V::template shift16<-4>(raw), low);
      }
      if constexpr (HighBits) {
        const I hb = V::load_codes(panel + 256);
        w[0] = V::or_(w[0], high_bit<V, 0>(hb, bit4));
        w[1] = V::or_(w[1], high_bit<V, 1>(hb, bit4));
        w[2] = V::or_(w[2], high_bit<V, 2>(hb, bit4));
        w[3] = V::or_(w[3], high_bit<V, 3>(hb, bit4));
        w[4] = V::or_(w[4], high_bit<V, 4>(hb, bit4));
        w[5] = V::or_(w[5], high_bit<V, 5>(hb, bit4));
        w[6] = V::or_(w[6], high_bit<V, 6>(hb, bit4));
        w[7] = V::or_(w[7], high_bit<V, 7>(hb, bit4));
      }
    } else {
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) w[v] = V::load_byte_codes(panel + 64 * v);
    }
    const F scale = V::load_half(panel + code_bytes);
    F mn;
    if constexpr (StoredMin)
      mn = V::load_half(panel + code_bytes + 32);
    else
      mn = V::mul(neg_offset, scale);
    const int8_t *q[NA], *q2[NA];
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) q[i] = a[i].q + b * kBlock, q2[i] = TwoLevel ? a[i].q2 + b * kBlock : nullptr;
    I dot[NA];  // two levels: 128 · Σ u · q + Σ u · q2, exact in int32
    V::template block_dots<bits, NA, TwoLevel>(w, q, q2, dot);
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) {
      const float d = TwoLevel ? a[i].d[b] * (1.0f / (1 << kLevelShift)) : a[i].d[b];
      acc[i] = V::fma(V::to_float(dot[i]), V::mul(scale, V::set1(d)), acc[i]);
      acc[i] = V::fma(mn, V::set1(a[i].ds[b]), acc[i]);
    }
  }
  const F bv = bias ? V::load_first(bias, nr) : V::zero();
#pragma GCC unroll 8
  for (int i = 0; i < NA; ++i) V::store_first(C + i * ldc, nr, V::add(acc[i], bv));
}

template <class V, bool Nibbles, bool HighBits, bool StoredMin, bool TwoLevel>
void tile_levels(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                 const float* bias, int nr, float* C, int64_t ldc) {
  switch (na) {
#define SQUISH_TILE_CASE(N) \
  case N: return tile<V, N, Nibbles, HighBits, StoredMin, TwoLevel>(L, panel, blocks, a, bias, nr, C, ldc);
    SQUISH_TILE_CASE(1) SQUISH_TILE_CASE(2) SQUISH_TILE_CASE(3) SQUISH_TILE_CASE(4)
    SQUISH_TILE_CASE(5) SQUISH_TILE_CASE(6) SQUISH_TILE_CASE(7)
#undef SQUISH_TILE_CASE
    default: return tile<V, 8, Nibbles, HighBits, StoredMin, TwoLevel>(L, panel, blocks, a, bias, nr, C, ldc);
  }
}

template <class V, bool Nibbles, bool HighBits, bool StoredMin>
void tile_n(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
            const float* bias, int nr, float* C, int64_t ldc) {
  if (a[0].q2) return tile_levels<V, Nibbles, HighBits, StoredMin, true>(L, panel, blocks, a, na, bias, nr, C, ldc);
  return tile_levels<V, Nibbles, HighBits, StoredMin, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
}

// The Tile of block_panel_kernels.h on lanes V.
template <class V>
void tile_on(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
             const float* bias, int nr, float* C, int64_t ldc) {
  if (!L.nibbles) return tile_n<V, false, false, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
  if (L.high_bits) {
    if (L.stored_min) return tile_n<V, true, true, true>(L, panel, blocks, a, na, bias, nr, C, ldc);
    return tile_n<V, true, true, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
  }
  if (L.stored_min) return tile_n<V, true, false, true>(L, panel, blocks, a, na, bias, nr, C, ldc);
  return tile_n<V, true, false, false>(L, panel, blocks, a, na, bias, nr, C, ldc);
}

// quantize_scalar on lanes V.
template <class V>
void quantize_on(const float* x, int64_t k, int8_t* q, float* d, float* ds) {
  using F = typename V::F;
  for (int64_t b = 0; b < k / kBlock; ++b, x += kBlock, q += kBlock) {
    const F x0 = V::load(x), x1 = V::load(x + 16);
    const float amax = V::max(V::max(V::abs(x0), V::abs(x1)));
    const float e = amax / 127.0f;
    const F inv = V::set1(e > 0.0f ? 1.0f / e : 0.0f);
    const auto q0 = V::round(V::mul(x0, inv)), q1 = V::round(V::mul(x1, inv));
    V::store_int8(q, q0);
    V::store_int8(q + 16, q1);
    d[b] = fp16_to_fp32(fp32_to_fp16(e));
    ds[b] = d[b] * static_cast<float>(V::sum(V::add(q0, q1)));
  }
}

// quantize2_scalar on lanes V.
template <class V>
void quantize2_on(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2) {
  quantize_on<V>(x, k, q, d, ds);
  for (int64_t b = 0; b < k / kBlock; ++b, x += kBlock, q += kBlock, q2 += kBlock) {
    const float step = d[b] * (1.0f / (1 << kLevelShift)), inv = step > 0.0f ? 1.0f / step : 0.0f;
    const typename V::F nd = V::set1(-d[b]), vi = V::set1(inv);
    typename V::I sum[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const auto r = V::fma(nd, V::load_int8(q + 16 * h), V::load(x + 16 * h));
      sum[h] = V::clamp(V::round(V::mul(r, vi)), -127, 127);
      V::store_int8(q2 + 16 * h, sum[h]);
    }
    ds[b] = std::fma(step, static_cast<float>(V::sum(V::add(sum[0], sum[1]))), ds[b]);
  }
}

}  // namespace
}  // namespace squish::kernels::panels
