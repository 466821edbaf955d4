// The 16 lanes of a panel (one per weight row) as two AVX2 registers — rows 0-7 and 8-15, the two
// 256-bit halves of the panel's 64-byte vectors: the operations the panel tile and activation
// quantizers of block_panel_tile.h are written in, for CPUs without AVX-512. Without VNNI the dots
// are vpmaddubsw (unsigned × signed bytes into saturating int16 pairs) and vpmaddwd with ones; the
// bounds below keep every int16 exact, so the int32 sums equal those of the scalar reference.
// Include only from files compiled with AVX2 (everything here is TU-local).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "block_panel_kernels.h"

namespace squish::kernels::panels {
namespace {

struct LanesAvx2 {
  struct I {  // 16 int32 lanes, or the 64 code bytes of 16 rows (4 per row)
    __m256i lo, hi;
  };
  struct F {  // 16 float lanes
    __m256 lo, hi;
  };

  static I load_codes(const uint8_t* p) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))};
  }
  static I bytes(char c) { return {_mm256_set1_epi8(c), _mm256_set1_epi8(c)}; }
  static I and_(I a, I b) { return {_mm256_and_si256(a.lo, b.lo), _mm256_and_si256(a.hi, b.hi)}; }
  static I or_(I a, I b) { return {_mm256_or_si256(a.lo, b.lo), _mm256_or_si256(a.hi, b.hi)}; }
  // Shifts within 16-bit lanes (S > 0 left, S < 0 right).
  template <int S>
  static I shift16(I a) {
    if constexpr (S > 0) return {_mm256_slli_epi16(a.lo, S), _mm256_slli_epi16(a.hi, S)};
    else if constexpr (S < 0) return {_mm256_srli_epi16(a.lo, -S), _mm256_srli_epi16(a.hi, -S)};
    else return a;
  }
  // Q8_0's 8-bit codes as block_dot<8> takes them: the signed codes s = u − 128.
  static I load_byte_codes(const uint8_t* p) {
    const I u = load_codes(p);
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    return {_mm256_xor_si256(u.lo, flip), _mm256_xor_si256(u.hi, flip)};
  }

  // dot[i] lane r = Σ_t u[r][t] · q[i][t] over the 32 codes of a block for i < N (TwoLevel:
  // 128 · that + Σ_t u[r][t] · q2[i][t]), w[v] holding codes 4v..4v+3 of every row (Bits < 8:
  // unsigned codes below 2^Bits; Bits = 8: load_byte_codes' signed codes). Rows go by groups of up
  // to 4 and, within one, weight vector by weight vector, so the sums stay in the 16 registers.
  // V0, NV (Bits < 8 only): the sums over code vectors V0..V0+NV-1 alone (codes 4·V0..), as the
  // k-quants' 16-code sub-blocks need; q still points at the block's first code.
  template <int Bits, int N, bool TwoLevel, int V0 = 0, int NV = 8>
  static void block_dots(const I* w, const int8_t* const* q, const int8_t* const* q2, I* dot) {
    static_assert(Bits < 8 || (V0 == 0 && NV == 8));
#pragma GCC unroll 2
    for (int i0 = 0; i0 < N; i0 += kGroupRows) {
      constexpr int rest = N % kGroupRows == 0 ? kGroupRows : N % kGroupRows;
      if (i0 + kGroupRows <= N) group_levels<Bits, kGroupRows, TwoLevel, V0, NV>(w, q + i0, q2 + i0, dot + i0);
      else group_levels<Bits, rest, TwoLevel, V0, NV>(w, q + i0, q2 + i0, dot + i0);
    }
  }

  static I add(I a, I b) { return {_mm256_add_epi32(a.lo, b.lo), _mm256_add_epi32(a.hi, b.hi)}; }
  static I clamp(I a, int lo, int hi) {
    const __m256i l = _mm256_set1_epi32(lo), h = _mm256_set1_epi32(hi);
    return {_mm256_min_epi32(_mm256_max_epi32(a.lo, l), h), _mm256_min_epi32(_mm256_max_epi32(a.hi, l), h)};
  }
  static int32_t sum(I a) { return _mm256_extract_epi32(all_lanes_sum(_mm256_add_epi32(a.lo, a.hi)), 0); }
  // int32 lanes saturated to int8 into q[16].
  static void store_int8(int8_t* q, I a) {
    // packs works within 128-bit halves: reorder the int16 quads back into lane order
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a.lo, a.hi), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q),
                     _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
  }
  // Round to nearest, ties to even.
  static I round(F a) { return {_mm256_cvtps_epi32(a.lo), _mm256_cvtps_epi32(a.hi)}; }

  static F zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static F set1(float x) { return {_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
  static F load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  // q[16] as floats.
  static F load_int8(const int8_t* q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    return {_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)))};
  }
  // 16 F16 values at p.
  static F load_half(const uint8_t* p) {
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)))};
  }
  // The first n (≤ 16) of p, the rest 0.
  static F load_first(const float* p, int n) {
    if (n >= 16) return load(p);
    alignas(32) float tmp[16] = {};
    std::memcpy(tmp, p, sizeof(float) * static_cast<size_t>(n));
    return load(tmp);
  }
  // The first n (≤ 16) lanes of a into p.
  static void store_first(float* p, int n, F a) {
    if (n >= 16) {
      _mm256_storeu_ps(p, a.lo);
      _mm256_storeu_ps(p + 8, a.hi);
      return;
    }
    alignas(32) float tmp[16];
    _mm256_store_ps(tmp, a.lo);
    _mm256_store_ps(tmp + 8, a.hi);
    std::memcpy(p, tmp, sizeof(float) * static_cast<size_t>(n));
  }
  static F to_float(I a) { return {_mm256_cvtepi32_ps(a.lo), _mm256_cvtepi32_ps(a.hi)}; }
  static F mul(F a, F b) { return {_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)}; }
  static F add(F a, F b) { return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
  static F fma(F a, F b, F c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
  static F abs(F a) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    return {_mm256_andnot_ps(sign, a.lo), _mm256_andnot_ps(sign, a.hi)};
  }
  static F max(F a, F b) { return {_mm256_max_ps(a.lo, b.lo), _mm256_max_ps(a.hi, b.hi)}; }
  static float max(F a) {
    const __m256 m8 = _mm256_max_ps(a.lo, a.hi);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
  }

 private:
  static __m256i broadcast4(const int8_t* q) {
    int32_t v;
    std::memcpy(&v, q, 4);
    return _mm256_set1_epi32(v);
  }
  static __m256i ones16() { return _mm256_set1_epi16(1); }
  // Every lane holds the sum of a's 8 lanes.
  static __m256i all_lanes_sum(__m256i a) {
    a = _mm256_add_epi32(a, _mm256_permute2x128_si256(a, a, 1));
    a = _mm256_add_epi32(a, _mm256_shuffle_epi32(a, 0x4E));
    return _mm256_add_epi32(a, _mm256_shuffle_epi32(a, 0xB1));
  }
  static constexpr int kGroupRows = 4;

  // block_dots for N ≤ 4 rows.
  template <int Bits, int N, bool TwoLevel, int V0, int NV>
  static void group_levels(const I* w, const int8_t* const* q, const int8_t* const* q2, I* dot) {
    group_dots<Bits, N, V0, NV>(w, q, dot);
    if constexpr (TwoLevel) {
      I dot2[N];
      group_dots<Bits, N, V0, NV>(w, q2, dot2);
#pragma GCC unroll 4
      for (int i = 0; i < N; ++i)
        dot[i] = {_mm256_add_epi32(_mm256_slli_epi32(dot[i].lo, kLevelShift), dot2[i].lo),
                  _mm256_add_epi32(_mm256_slli_epi32(dot[i].hi, kLevelShift), dot2[i].hi)};
    }
  }
  // One level of group_levels.
  template <int Bits, int N, int V0, int NV>
  static void group_dots(const I* w, const int8_t* const* q, I* dot) {
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) dot[i] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    if constexpr (Bits == 8) {
      // Σ u · q for u = s + 128: Σ s · q by the sign trick (|s| ≤ 128 unsigned times ±q, |q| ≤ 127:
      // a pair is at most 32512), plus 128 · Σ q.
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) {
        const __m256i abs_lo = _mm256_abs_epi8(w[v].lo), abs_hi = _mm256_abs_epi8(w[v].hi);
#pragma GCC unroll 4
        for (int i = 0; i < N; ++i) {
          const __m256i a = broadcast4(q[i] + 4 * v);
          dot[i].lo = _mm256_add_epi32(dot[i].lo, _mm256_madd_epi16(_mm256_maddubs_epi16(abs_lo, _mm256_sign_epi8(a, w[v].lo)), ones16()));
          dot[i].hi = _mm256_add_epi32(dot[i].hi, _mm256_madd_epi16(_mm256_maddubs_epi16(abs_hi, _mm256_sign_epi8(a, w[v].hi)), ones16()));
        }
      }
#pragma GCC unroll 4
      for (int i = 0; i < N; ++i) {
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[i]));
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), qv);  // |pair| ≤ 256
        const __m256i offset = _mm256_slli_epi32(all_lanes_sum(_mm256_madd_epi16(pairs, ones16())), 7);
        dot[i] = {_mm256_add_epi32(dot[i].lo, offset), _mm256_add_epi32(dot[i].hi, offset)};
      }
    } else {
      // A pair of products is at most 2 · (2^Bits − 1) · 128 in magnitude: the pairs of G vectors
      // (8 of 4-bit codes, 4 of 5-bit ones, 2 of 6-bit ones) still sum exactly in int16 before vpmaddwd. (The
      // saturating vpaddsw never saturates here; unlike a plain + the compiler keeps its order, one
      // running sum per row, instead of reassociating it into many live products.)
      constexpr int G = std::min(NV, 32767 / (2 * ((1 << Bits) - 1) * 128));
      static_assert(G >= 1 && NV % G == 0);
#pragma GCC unroll 4
      for (int g = V0; g < V0 + NV; g += G) {
        __m256i lo[N], hi[N];
#pragma GCC unroll 4
        for (int i = 0; i < N; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int v = g; v < g + G; ++v) {
#pragma GCC unroll 4
          for (int i = 0; i < N; ++i) {
            const __m256i a = broadcast4(q[i] + 4 * v);
            lo[i] = _mm256_adds_epi16(lo[i], _mm256_maddubs_epi16(w[v].lo, a));
            hi[i] = _mm256_adds_epi16(hi[i], _mm256_maddubs_epi16(w[v].hi, a));
          }
        }
#pragma GCC unroll 4
        for (int i = 0; i < N; ++i) {
          dot[i].lo = _mm256_add_epi32(dot[i].lo, _mm256_madd_epi16(lo[i], ones16()));
          dot[i].hi = _mm256_add_epi32(dot[i].hi, _mm256_madd_epi16(hi[i], ones16()));
        }
      }
    }
  }
};

}  // namespace
}  // namespace squish::kernels::panels
