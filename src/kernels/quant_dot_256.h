// The 256-bit loops shared by the AVX2 and AVX-512 VNNI dot products of legacy blocks (Q4_0,
// Q8_0) with Q8_0 activations; each ISA file supplies its int8 dot primitive. Include only from
// files compiled with AVX2 or better (each gets its own copy: everything here is TU-local).
#pragma once
#include <immintrin.h>

#include <string>

#include "squish/common/error.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"
#include "squish/formats/ggml_type.h"

namespace squish::kernels {
namespace {

// Q4_0's 16 bytes as 32 signed codes in -8..7 (low nibbles first).
inline __m256i unpack_q4_0(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask),
                                       _mm_and_si128(raw, mask));
  return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
}

// Sum of the 8 lanes.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Σ over blocks of d_w·d_a·(w · a) for Q8_0 or Q4_0 weights; dot_i8(w, a) sums 32 int8 products
// into 8 int32 lanes.
template <typename DotI8>
float legacy_dot_256(GGMLType t, const void* w, const void* a, int64_t n, DotI8 dot_i8) {
  const auto* ab = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  if (t == GGMLType::Q8_0) {
    const auto* wb = static_cast<const BlockQ8_0*>(w);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs));
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab[b].qs));
      const float d = _cvtsh_ss(wb[b].d) * _cvtsh_ss(ab[b].d);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(dot_i8(wv, av)), acc);
    }
    return hsum(acc);
  }
  if (t == GGMLType::Q4_0) {
    const auto* wb = static_cast<const BlockQ4_0*>(w);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab[b].qs));
      const float d = _cvtsh_ss(wb[b].d) * _cvtsh_ss(ab[b].d);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d),
                            _mm256_cvtepi32_ps(dot_i8(unpack_q4_0(wb[b].qs), av)), acc);
    }
    return hsum(acc);
  }
  throw Error("quant_dot", "weight type " + type_name(t) + " is not supported yet");
}

// R activation rows (a[r]: Q8_0 blocks) against one Q8_0 / Q4_0 weight row, unpacking each weight
// block once for all of them: out[r] = Σ over blocks of d_w·d_a·(w · a_r).
template <int R, typename DotI8>
void legacy_dot_256_rows(GGMLType t, const void* w, const void* const* a, int64_t n, float* out,
                         DotI8 dot_i8) {
  const int64_t nb = n / kQK;
  const BlockQ8_0* ab[R];
  for (int r = 0; r < R; ++r) ab[r] = static_cast<const BlockQ8_0*>(a[r]);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const bool q8 = t == GGMLType::Q8_0;
  const auto* w8 = static_cast<const BlockQ8_0*>(w);
  const auto* w4 = static_cast<const BlockQ4_0*>(w);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i wv = q8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w8[b].qs)) : unpack_q4_0(w4[b].qs);
    const float dw = _cvtsh_ss(q8 ? w8[b].d : w4[b].d);
    for (int r = 0; r < R; ++r) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab[r][b].qs));
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dw * _cvtsh_ss(ab[r][b].d)), _mm256_cvtepi32_ps(dot_i8(wv, av)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
}

}  // namespace
}  // namespace squish::kernels
