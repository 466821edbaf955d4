// The 256-bit loops shared by the AVX2 and AVX-512 VNNI dot products of legacy blocks (Q4_0,
// Q8_0) with Q8_0 activations and of k-quants (Q4_K, Q6_K) with Q8_K activations; each ISA file
// supplies its int8 dot primitives. Include only from files compiled with AVX2 or better (each
// gets its own copy: everything here is TU-local).
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

// Q4_K: Σ over super-blocks of d_a·(d·Σ_j sc_j·(q_j · y_j) − dmin·Σ_j m_j·Σ y_j). dot_u8s8(u, s,
// sc_lo, sc_hi) sums 32 unsigned x signed int8 products (each < 2^14 in magnitude) into 8 int32
// lanes, the four lanes of bytes 0..15 times sc_lo and those of bytes 16..31 times sc_hi.
template <typename DotU8S8>
float dot_q4_k_256(const BlockQ4_K* w, const BlockQ8_K* a, int64_t nb, DotU8S8 dot_u8s8) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.f;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) unpack_scale_min_k4(j, w[b].scales, sc[j], m[j]);
    __m256i sumi = _mm256_setzero_si256();
    int32_t macc = 0;
    for (int j = 0; j < 4; ++j) {
      const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * j));
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 64 * j));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 64 * j + 32));
      sumi = _mm256_add_epi32(sumi, dot_u8s8(_mm256_and_si256(qv, mask), y0, sc[2 * j], sc[2 * j]));
      sumi = _mm256_add_epi32(sumi, dot_u8s8(_mm256_and_si256(_mm256_srli_epi16(qv, 4), mask), y1,
                                             sc[2 * j + 1], sc[2 * j + 1]));
      macc += m[2 * j] * (a[b].bsums[4 * j] + a[b].bsums[4 * j + 1]) +
              m[2 * j + 1] * (a[b].bsums[4 * j + 2] + a[b].bsums[4 * j + 3]);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * _cvtsh_ss(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    mins += a[b].d * _cvtsh_ss(w[b].dmin) * static_cast<float>(macc);
  }
  return hsum(acc) - mins;
}

// Q6_K: Σ over super-blocks of d_a·d·Σ_g sc_g·((q_g − 32) · y_g) over the 16 groups of 16, with the
// unsigned codes q in 0..63 dotted directly and the −32 folded in through the activation sums.
template <typename DotU8S8>
float dot_q6_k_256(const BlockQ6_K* w, const BlockQ8_K* a, int64_t nb, DotU8S8 dot_u8s8) {
  const __m256i low = _mm256_set1_epi8(0x0F), high = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* sc = w[b].scales;
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const auto* ql = reinterpret_cast<const __m256i*>(w[b].ql + 64 * half);
      const __m256i l0 = _mm256_loadu_si256(ql), l1 = _mm256_loadu_si256(ql + 1);
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qh + 32 * half));
      // Codes of elements 32k .. 32k+31 of this half: low nibbles of ql, two bits of qh each.
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, low), _mm256_and_si256(_mm256_slli_epi16(h, 4), high)),
          _mm256_or_si256(_mm256_and_si256(l1, low), _mm256_and_si256(_mm256_slli_epi16(h, 2), high)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low), _mm256_and_si256(h, high)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low),
                          _mm256_and_si256(_mm256_srli_epi16(h, 2), high))};
      const int8_t* s = sc + 8 * half;
      for (int k = 0; k < 4; ++k) {
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 128 * half + 32 * k));
        sumi = _mm256_add_epi32(sumi, dot_u8s8(q[k], y, s[2 * k], s[2 * k + 1]));
      }
    }
    int32_t offset = 0;
    for (int g = 0; g < kQKK / 16; ++g) offset += sc[g] * a[b].bsums[g];
    sumi = _mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * offset, 0, 0, 0, 0, 0, 0, 0));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * _cvtsh_ss(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

// quant_dot for the k-quants the 256-bit loops cover (Q4_K, Q6_K; false for other types).
template <typename DotU8S8>
bool kquant_dot_256(GGMLType t, const void* w, const void* a, int64_t n, float& out, DotU8S8 dot_u8s8) {
  const auto* ab = static_cast<const BlockQ8_K*>(a);
  if (t == GGMLType::Q4_K) {
    out = dot_q4_k_256(static_cast<const BlockQ4_K*>(w), ab, n / kQKK, dot_u8s8);
    return true;
  }
  if (t == GGMLType::Q6_K) {
    out = dot_q6_k_256(static_cast<const BlockQ6_K*>(w), ab, n / kQKK, dot_u8s8);
    return true;
  }
  return false;
}

}  // namespace
}  // namespace squish::kernels
