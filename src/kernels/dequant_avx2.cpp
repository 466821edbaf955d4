// AVX2 row dequantizers, bit-exact with the portable ones in src/formats (same multiplies and adds,
// each rounded separately, 8 lanes at a time): the F32-tile step of the quantized linear layers on
// CPUs without AVX-512.
#include <immintrin.h>

#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"
#include "squish/kernels/dequant_fast.h"

#pragma GCC optimize("fp-contract=off")

namespace squish::kernels {

namespace {

// F16 scale to float with the F16C instruction (exact, like fp16_to_fp32).
inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// 8 bytes widened to 8 int32 lanes.
inline __m256i u8x8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// Integer codes times a broadcast scale, stored as 8 floats.
inline void store_scaled(float* y, __m256i q, __m256 d) {
  _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
}

// Integer codes times a scale plus a minimum (two roundings), stored as 8 floats.
inline void store_scaled_min(float* y, __m256i q, __m256 d, __m256 m) {
  _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), d), m));
}

void q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  const __m256i low = _mm256_set1_epi32(0xF), eight = _mm256_set1_epi32(8);
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(h2f(b[i].d));
    for (int h = 0; h < 16; h += 8) {
      const __m256i q = u8x8(b[i].qs + h);
      store_scaled(y + h, _mm256_sub_epi32(_mm256_and_si256(q, low), eight), d);
      store_scaled(y + 16 + h, _mm256_sub_epi32(_mm256_srli_epi32(q, 4), eight), d);
    }
  }
}

// 32 IQ4 indices (16 bytes of nibbles) looked up in the non-linear table (one byte shuffle per
// half), times a broadcast step: y[0..15] from the low nibbles, y[16..31] from the high ones.
inline void iq4_sub_block(const uint8_t* qs, __m256 d, float* y) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues));
  const __m128i low = _mm_set1_epi8(0xF);
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(q, low));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), low));
  store_scaled(y, _mm256_cvtepi8_epi32(lo), d);
  store_scaled(y + 8, _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)), d);
  store_scaled(y + 16, _mm256_cvtepi8_epi32(hi), d);
  store_scaled(y + 24, _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)), d);
}

void iq4_nl(const BlockIQ4_NL* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) iq4_sub_block(b[i].qs, _mm256_set1_ps(h2f(b[i].d)), y);
}

void iq4_xs(const BlockIQ4_XS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < kQKK / kQK; ++j, y += kQK) {
      const float dl = d * static_cast<float>(iq4_xs_scale(b[i], j) - 32);
      iq4_sub_block(b[i].qs + j * kQK / 2, _mm256_set1_ps(dl), y);
    }
  }
}

void q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  const __m256i low = _mm256_set1_epi32(0xF);
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(h2f(b[i].d)), m = _mm256_set1_ps(h2f(b[i].m));
    for (int h = 0; h < 16; h += 8) {
      const __m256i q = u8x8(b[i].qs + h);
      store_scaled_min(y + h, _mm256_and_si256(q, low), d, m);
      store_scaled_min(y + 16 + h, _mm256_srli_epi32(q, 4), d, m);
    }
  }
}

// Q5_0 / Q5_1's 5-bit codes of elements h..h+7 (lo) and 16+h..16+h+7 (hi): nibble | (bit of qh) << 4.
inline void q5_codes(const uint8_t* qs, const uint8_t* qh4, int h, __m256i& lo, __m256i& hi) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh4, 4);
  const __m256i bits = _mm256_set1_epi32(static_cast<int>(qh)), one = _mm256_set1_epi32(1);
  const __m256i shift = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(h));
  const __m256i hb_lo = _mm256_and_si256(_mm256_srlv_epi32(bits, shift), one);
  const __m256i hb_hi = _mm256_and_si256(_mm256_srlv_epi32(bits, _mm256_add_epi32(shift, _mm256_set1_epi32(16))), one);
  const __m256i q = u8x8(qs + h);
  lo = _mm256_or_si256(_mm256_and_si256(q, _mm256_set1_epi32(0xF)), _mm256_slli_epi32(hb_lo, 4));
  hi = _mm256_or_si256(_mm256_srli_epi32(q, 4), _mm256_slli_epi32(hb_hi, 4));
}

void q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  const __m256i sixteen = _mm256_set1_epi32(16);
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(h2f(b[i].d));
    for (int h = 0; h < 16; h += 8) {
      __m256i lo, hi;
      q5_codes(b[i].qs, b[i].qh, h, lo, hi);
      store_scaled(y + h, _mm256_sub_epi32(lo, sixteen), d);
      store_scaled(y + 16 + h, _mm256_sub_epi32(hi, sixteen), d);
    }
  }
}

void q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(h2f(b[i].d)), m = _mm256_set1_ps(h2f(b[i].m));
    for (int h = 0; h < 16; h += 8) {
      __m256i lo, hi;
      q5_codes(b[i].qs, b[i].qh, h, lo, hi);
      store_scaled_min(y + h, lo, d, m);
      store_scaled_min(y + 16 + h, hi, d, m);
    }
  }
}

void q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(h2f(b[i].d));
    for (int h = 0; h < kQK; h += 8)
      store_scaled(y + h, _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[i].qs + h))), d);
  }
}

// Q4_K and Q5_K (qh == nullptr for Q4_K): y = (d·sc)·q − dmin·m per 32-element sub-block.
void q45_k(uint16_t d16, uint16_t dmin16, const uint8_t* scales, const uint8_t* qs, const uint8_t* qh,
           float* y) {
  const float d = h2f(d16), dmin = h2f(dmin16);
  const __m256i low = _mm256_set1_epi32(0xF), one = _mm256_set1_epi32(1);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales, sc, m);
    const __m256 d1 = _mm256_set1_ps(d * static_cast<float>(sc));
    const __m256 m1 = _mm256_set1_ps(dmin * static_cast<float>(m));
    const uint8_t* q = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; l += 8) {
      __m256i v = _mm256_and_si256(_mm256_srli_epi32(u8x8(q + l), shift), low);
      if (qh) v = _mm256_or_si256(v, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u8x8(qh + l), j), one), 4));
      _mm256_storeu_ps(y + 32 * j + l, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(v)), m1));
    }
  }
}

void q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  const __m256i low = _mm256_set1_epi32(0xF), three = _mm256_set1_epi32(3), k32 = _mm256_set1_epi32(32);
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = h2f(b[i].d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      const int8_t* sc = b[i].scales + 8 * half;
      float* yh = y + 128 * half;
      for (int l = 0; l < 32; l += 8) {
        const int is = l / 16;
        const __m256i a = u8x8(ql + l), c = u8x8(ql + 32 + l), h = u8x8(qh + l);
        const __m256i hb[4] = {_mm256_and_si256(h, three), _mm256_and_si256(_mm256_srli_epi32(h, 2), three),
                               _mm256_and_si256(_mm256_srli_epi32(h, 4), three), _mm256_srli_epi32(h, 6)};
        const __m256i lb[4] = {_mm256_and_si256(a, low), _mm256_and_si256(c, low), _mm256_srli_epi32(a, 4),
                               _mm256_srli_epi32(c, 4)};
        for (int k = 0; k < 4; ++k) {
          const __m256i q = _mm256_sub_epi32(_mm256_or_si256(lb[k], _mm256_slli_epi32(hb[k], 4)), k32);
          const __m256 s = _mm256_set1_ps(d * static_cast<float>(sc[is + 2 * k]));
          _mm256_storeu_ps(yh + 32 * k + l, _mm256_mul_ps(s, _mm256_cvtepi32_ps(q)));
        }
      }
    }
  }
}

void f16(const uint16_t* s, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) y[i] = fp16_to_fp32(s[i]);
}

void bf16(const uint16_t* s, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
  }
  for (; i < n; ++i) y[i] = bf16_to_fp32(s[i]);
}

}  // namespace

bool dequantize_row_avx2(GGMLType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case GGMLType::F16: f16(static_cast<const uint16_t*>(src), dst, n); return true;
    case GGMLType::BF16: bf16(static_cast<const uint16_t*>(src), dst, n); return true;
    case GGMLType::Q4_0: q4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK); return true;
    case GGMLType::Q4_1: q4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK); return true;
    case GGMLType::Q5_0: q5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK); return true;
    case GGMLType::Q5_1: q5_1(static_cast<const BlockQ5_1*>(src), dst, n / kQK); return true;
    case GGMLType::Q8_0: q8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK); return true;
    case GGMLType::IQ4_NL: iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n / kQK); return true;
    case GGMLType::IQ4_XS: iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, n / kQKK); return true;
    case GGMLType::Q4_K: {
      const auto* b = static_cast<const BlockQ4_K*>(src);
      for (int64_t i = 0; i < n / kQKK; ++i) q45_k(b[i].d, b[i].dmin, b[i].scales, b[i].qs, nullptr, dst + i * kQKK);
      return true;
    }
    case GGMLType::Q5_K: {
      const auto* b = static_cast<const BlockQ5_K*>(src);
      for (int64_t i = 0; i < n / kQKK; ++i) q45_k(b[i].d, b[i].dmin, b[i].scales, b[i].qs, b[i].qh, dst + i * kQKK);
      return true;
    }
    case GGMLType::Q6_K: q6_k(static_cast<const BlockQ6_K*>(src), dst, n / kQKK); return true;
    default: return false;
  }
}

}  // namespace squish::kernels
