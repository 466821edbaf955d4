// Inner loops of scaled_matmul (scaled_matrix.h), one set per ISA; the dispatcher in
// scaled_matrix.cpp calls only the ones the CPU has.
#pragma once
#include <cstdint>

namespace squish::kernels::scaled {

// Integer dots of 4 activation rows with 4 weight rows: out[i * 4 + r] = Σ_t a[i][t] · w[r][t]
// over k codes (a multiple of 64; rows may repeat). row_sums[r] = Σ_t w[r][t] (for the VNNI
// kernel's unsigned-offset form; the others ignore it).
using Int8Tile = void (*)(const int8_t* const* a, const int8_t* const* w, int64_t k,
                          const int32_t* row_sums, int32_t* out);
void int8_tile_scalar(const int8_t* const* a, const int8_t* const* w, int64_t k, const int32_t* row_sums,
                      int32_t* out);
void int8_tile_avx2(const int8_t* const* a, const int8_t* const* w, int64_t k, const int32_t* row_sums,
                    int32_t* out);
void int8_tile_avx512(const int8_t* const* a, const int8_t* const* w, int64_t k, const int32_t* row_sums,
                      int32_t* out);

// dst[i] = e4m3(q[i]) · scale for i < n (n a multiple of 32).
using Fp8Decode = void (*)(const uint8_t* q, float scale, float* dst, int64_t n);
void decode_fp8_scalar(const uint8_t* q, float scale, float* dst, int64_t n);
void decode_fp8_avx2(const uint8_t* q, float scale, float* dst, int64_t n);
void decode_fp8_avx512(const uint8_t* q, float scale, float* dst, int64_t n);

// NF4 blocks of 64 elements in 32 bytes: byte i holds element i (low nibble) and element i + 32
// (high nibble). dst[i] = level(index) · scales[i / 64] for i < n (n a multiple of 64).
using Nf4Decode = void (*)(const uint8_t* q, const float* scales, float* dst, int64_t n);
void decode_nf4_scalar(const uint8_t* q, const float* scales, float* dst, int64_t n);
void decode_nf4_avx2(const uint8_t* q, const float* scales, float* dst, int64_t n);
void decode_nf4_avx512(const uint8_t* q, const float* scales, float* dst, int64_t n);

}  // namespace squish::kernels::scaled
