// AVX-512 row dequantizers, bit-exact with the portable ones in src/formats (same multiplies and
// adds, each rounded separately): the inner step of the quantized linear layers.
#include <immintrin.h>

#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"
#include "squish/kernels/dequant_fast.h"

#pragma GCC optimize("fp-contract=off")
// GCC 12 warns about the intentionally undefined upper lanes inside its own widening intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace squish::kernels {

namespace {

// F16 scale to float with the F16C instruction (exact, like fp16_to_fp32).
inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// 16 bytes widened to 16 int32 lanes.
inline __m512i u8x16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

void q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  const __m512i low = _mm512_set1_epi32(0xF), eight = _mm512_set1_epi32(8);
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m512 d = _mm512_set1_ps(h2f(b[i].d));
    const __m512i q = u8x16(b[i].qs);
    const __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, low), eight);
    const __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
  }
}

void q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  const __m512i low = _mm512_set1_epi32(0xF);
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m512 d = _mm512_set1_ps(h2f(b[i].d)), m = _mm512_set1_ps(h2f(b[i].m));
    const __m512i q = u8x16(b[i].qs);
    const __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q, low)), d);
    const __m512 hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4)), d);
    _mm512_storeu_ps(y, _mm512_add_ps(lo, m));
    _mm512_storeu_ps(y + 16, _mm512_add_ps(hi, m));
  }
}

// Q5_0 / Q5_1 share the 5-bit unpacking: q | (bit of qh) << 4.
inline void q5_codes(const uint8_t* qs, const uint8_t* qh4, __m512i& lo, __m512i& hi) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh4, 4);
  const __m512i q = u8x16(qs), sixteen = _mm512_set1_epi32(16);
  lo = _mm512_and_si512(q, _mm512_set1_epi32(0xF));
  hi = _mm512_srli_epi32(q, 4);
  lo = _mm512_mask_or_epi32(lo, static_cast<__mmask16>(qh & 0xFFFF), lo, sixteen);
  hi = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, sixteen);
}

void q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  const __m512i sixteen = _mm512_set1_epi32(16);
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m512 d = _mm512_set1_ps(h2f(b[i].d));
    __m512i lo, hi;
    q5_codes(b[i].qs, b[i].qh, lo, hi);
    _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, sixteen)), d));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, sixteen)), d));
  }
}

void q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m512 d = _mm512_set1_ps(h2f(b[i].d)), m = _mm512_set1_ps(h2f(b[i].m));
    __m512i lo, hi;
    q5_codes(b[i].qs, b[i].qh, lo, hi);
    _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(lo), d), m));
    _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(hi), d), m));
  }
}

void q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const __m512 d = _mm512_set1_ps(h2f(b[i].d));
    for (int h = 0; h < 2; ++h) {
      const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs + 16 * h)));
      _mm512_storeu_ps(y + 16 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
    }
  }
}

// Q4_K and Q5_K (qh == nullptr for Q4_K): y = (d·sc)·q − dmin·m per 32-element sub-block.
void q45_k(uint16_t d16, uint16_t dmin16, const uint8_t* scales, const uint8_t* qs, const uint8_t* qh,
           float* y) {
  const float d = h2f(d16), dmin = h2f(dmin16);
  const __m512i low = _mm512_set1_epi32(0xF), one = _mm512_set1_epi32(1);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales, sc, m);
    const __m512 d1 = _mm512_set1_ps(d * static_cast<float>(sc));
    const __m512 m1 = _mm512_set1_ps(dmin * static_cast<float>(m));
    const uint8_t* q = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; l += 16) {
      __m512i v = _mm512_and_si512(_mm512_srli_epi32(u8x16(q + l), shift), low);
      if (qh) v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u8x16(qh + l), j), one), 4));
      _mm512_storeu_ps(y + 32 * j + l, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(v)), m1));
    }
  }
}

void q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  const __m512i low = _mm512_set1_epi32(0xF), three = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = h2f(b[i].d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      const int8_t* sc = b[i].scales + 8 * half;
      float* yh = y + 128 * half;
      for (int l = 0; l < 32; l += 16) {
        const int is = l / 16;
        const __m512i a = u8x16(ql + l), c = u8x16(ql + 32 + l), h = u8x16(qh + l);
        const __m512i hb[4] = {_mm512_and_si512(h, three), _mm512_and_si512(_mm512_srli_epi32(h, 2), three),
                               _mm512_and_si512(_mm512_srli_epi32(h, 4), three), _mm512_srli_epi32(h, 6)};
        const __m512i lb[4] = {_mm512_and_si512(a, low), _mm512_and_si512(c, low), _mm512_srli_epi32(a, 4),
                               _mm512_srli_epi32(c, 4)};
        for (int k = 0; k < 4; ++k) {
          const __m512i q = _mm512_sub_epi32(_mm512_or_si512(lb[k], _mm512_slli_epi32(hb[k], 4)), k32);
          const __m512 s = _mm512_set1_ps(d * static_cast<float>(sc[is + 2 * k]));
          _mm512_storeu_ps(yh + 32 * k + l, _mm512_mul_ps(s, _mm512_cvtepi32_ps(q)));
        }
      }
    }
  }
}

void f16(const uint16_t* s, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i))));
  for (; i < n; ++i) y[i] = fp16_to_fp32(s[i]);
}

void bf16(const uint16_t* s, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
  for (; i < n; ++i) y[i] = bf16_to_fp32(s[i]);
}

}  // namespace

bool dequantize_row_avx512(GGMLType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case GGMLType::F16: f16(static_cast<const uint16_t*>(src), dst, n); return true;
    case GGMLType::BF16: bf16(static_cast<const uint16_t*>(src), dst, n); return true;
    case GGMLType::Q4_0: q4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK); return true;
    case GGMLType::Q4_1: q4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK); return true;
    case GGMLType::Q5_0: q5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK); return true;
    case GGMLType::Q5_1: q5_1(static_cast<const BlockQ5_1*>(src), dst, n / kQK); return true;
    case GGMLType::Q8_0: q8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK); return true;
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
