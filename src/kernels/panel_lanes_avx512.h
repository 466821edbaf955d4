// The 16 lanes of a panel (one per weight row) as one AVX-512 register: the operations the panel
// tile and activation quantizers of block_panel_tile.h are written in, for the AVX-512 VNNI
// kernels (vpdpbusd multiplies 4 unsigned codes of each row by 4 broadcast activation codes).
// Include only from files compiled with AVX-512 (everything here is TU-local).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "block_panel_kernels.h"
#include "vnni_avx512.h"

namespace squish::kernels::panels {
namespace {

struct LanesAvx512 {
  using I = __m512i;  // 16 int32 lanes, or the 64 code bytes of 16 rows (4 per row)
  using F = __m512;   // 16 float lanes

  static I load_codes(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static I bytes(char c) { return _mm512_set1_epi8(c); }
  static I and_(I a, I b) { return _mm512_and_si512(a, b); }
  static I or_(I a, I b) { return _mm512_or_si512(a, b); }
  // Shifts within 16-bit lanes (S > 0 left, S < 0 right).
  template <int S>
  static I shift16(I a) {
    if constexpr (S > 0) return _mm512_slli_epi16(a, S);
    else if constexpr (S < 0) return _mm512_srli_epi16(a, -S);
    else return a;
  }
  // Q8_0's 8-bit codes as block_dot<8> takes them (as stored: vpdpbusd multiplies unsigned bytes).
  static I load_byte_codes(const uint8_t* p) { return load_codes(p); }

  // dot[i] lane r = Σ_t u[r][t] · q[i][t] over the 32 codes of a block for i < N (TwoLevel:
  // 128 · that + Σ_t u[r][t] · q2[i][t]), w[v] holding codes 4v..4v+3 of every row as unsigned
  // bytes below 2^Bits (Bits ≤ 8: vpdpbusd sums in int32 without loss).
  template <int Bits, int N, bool TwoLevel>
  static void block_dots(const I* w, const int8_t* const* q, const int8_t* const* q2, I* dot) {
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
      dot[i] = block_dot(w, q[i]);
      if constexpr (TwoLevel)  // a second, independent chain
        dot[i] = _mm512_add_epi32(_mm512_slli_epi32(dot[i], kLevelShift), block_dot(w, q2[i]));
    }
  }

  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I clamp(I a, int lo, int hi) {
    return _mm512_min_epi32(_mm512_max_epi32(a, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
  }
  static int32_t sum(I a) { return _mm512_reduce_add_epi32(a); }
  // int32 lanes saturated to int8 into q[16].
  static void store_int8(int8_t* q, I a) { _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(a)); }
  // Round to nearest, ties to even.
  static I round(F a) { return _mm512_cvtps_epi32(a); }

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  // q[16] as floats.
  static F load_int8(const int8_t* q) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))));
  }
  // 16 F16 values at p.
  static F load_half(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  // The first n (≤ 16) of p, the rest 0.
  static F load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  // The first n (≤ 16) lanes of a into p.
  static void store_first(float* p, int n, F a) { _mm512_mask_storeu_ps(p, mask(n), a); }
  static F to_float(I a) { return _mm512_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static float max(F a) { return _mm512_reduce_max_ps(a); }

 private:
  static I block_dot(const I* w, const int8_t* q) {
    I dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], broadcast4(q));
#pragma GCC unroll 7
    for (int v = 1; v < 8; ++v) dot = _mm512_dpbusd_epi32(dot, w[v], broadcast4(q + 4 * v));
    return dot;
  }
  static I broadcast4(const int8_t* q) { return vnni::broadcast4(q); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1); }
};

}  // namespace
}  // namespace squish::kernels::panels
