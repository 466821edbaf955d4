// Helpers shared by the AVX-512 VNNI panel kernels (included only by *_avx512.cpp files).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace squish::kernels::vnni {

// 4 consecutive int8 codes at q broadcast to every 32-bit lane (one vpdpbusd operand).
inline __m512i broadcast4(const int8_t* q) {
  int32_t v;
  std::memcpy(&v, q, 4);
  return _mm512_set1_epi32(v);
}

}  // namespace squish::kernels::vnni
