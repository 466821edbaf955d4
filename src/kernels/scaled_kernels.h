// Inner loops of scaled_matmul (scaled_matrix.h), one set per ISA; the dispatcher in
// scaled_matrix.cpp calls only the ones the CPU has.
#pragma once
#include <cstdint>

namespace squish::kernels::scaled {

// W8A8 weights in panels of 16 rows interleaved by 4 codes: byte (t / 4) * 64 + row * 4 + t % 4
// of a panel is code t of the panel's row `row` (k codes per row, k a multiple of 4).
constexpr int64_t kPanelRows = 16;
// Most activation rows one panel call takes.
constexpr int kPanelTokens = 8;

// One panel times na (1..kPanelTokens) activation rows of k int8 codes:
//   C[i * ldc + r] = a_scale[i] · w_scale[r] · Σ_t a[i][t] · w[r][t] (+ bias[r])
// for i < na, r < nr (the panel's real rows; w_scale, row_sums and bias hold 16 entries, bias may
// be null). row_sums[r] = Σ_t w[r][t]. The AVX-512 kernel takes its activations offset to
// unsigned (a xor 0x80, see quantize_row_int8_offset_avx512) for vpdpbusd; the others take them as they are.
using Int8Panel = void (*)(const uint8_t* const* a, int na, const int8_t* panel, int64_t k,
                           const int32_t* row_sums, const float* w_scale, const float* a_scale,
                           const float* bias, int nr, float* C, int64_t ldc);
void int8_panel_scalar(const uint8_t* const* a, int na, const int8_t* panel, int64_t k,
                       const int32_t* row_sums, const float* w_scale, const float* a_scale,
                       const float* bias, int nr, float* C, int64_t ldc);
void int8_panel_avx2(const uint8_t* const* a, int na, const int8_t* panel, int64_t k,
                     const int32_t* row_sums, const float* w_scale, const float* a_scale,
                     const float* bias, int nr, float* C, int64_t ldc);
void int8_panel_avx512(const uint8_t* const* a, int na, const int8_t* panel, int64_t k,
                       const int32_t* row_sums, const float* w_scale, const float* a_scale,
                       const float* bias, int nr, float* C, int64_t ldc);

// quantize_row_int8 (activation_quant.h) of n inputs with AVX-512, bit for bit, with the codes
// offset to unsigned (xor 0x80) for int8_panel_avx512; returns the scale.
float quantize_row_int8_offset_avx512(const float* x, uint8_t* q, int64_t n, float static_scale);

// dst[i] = e4m3(q[i]) · scale for i < n (n a multiple of 32 for the SIMD versions).
void decode_fp8_scalar(const uint8_t* q, float scale, float* dst, int64_t n);
void decode_fp8_avx2(const uint8_t* q, float scale, float* dst, int64_t n);
void decode_fp8_avx512(const uint8_t* q, float scale, float* dst, int64_t n);

// NF4 blocks of 64 elements in 32 bytes: byte i holds element i (low nibble) and element i + 32
// (high nibble). dst[i] = level(index) · scales[i / 64] for i < n (n a multiple of 64).
void decode_nf4_scalar(const uint8_t* q, const float* scales, float* dst, int64_t n);
void decode_nf4_avx2(const uint8_t* q, const float* scales, float* dst, int64_t n);
void decode_nf4_avx512(const uint8_t* q, const float* scales, float* dst, int64_t n);

}  // namespace squish::kernels::scaled
