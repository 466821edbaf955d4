// Per-type row dequantizers behind squish::dequantize_row (private to src/formats).
#pragma once
#include <cstdint>

namespace squish::detail {

// Fast F16 -> F32 through a 64K-entry table (exactly fp16_to_fp32).
float f16_table(uint16_t h);

// Each converts nb blocks (or nb elements for the plain types) from src into dst.
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t nb);
void dequantize_q4_1(const void* src, float* dst, int64_t nb);
void dequantize_q5_0(const void* src, float* dst, int64_t nb);
void dequantize_q5_1(const void* src, float* dst, int64_t nb);
void dequantize_q8_0(const void* src, float* dst, int64_t nb);
void dequantize_q2_k(const void* src, float* dst, int64_t nb);
void dequantize_q3_k(const void* src, float* dst, int64_t nb);
void dequantize_q4_k(const void* src, float* dst, int64_t nb);
void dequantize_q5_k(const void* src, float* dst, int64_t nb);
void dequantize_q6_k(const void* src, float* dst, int64_t nb);
void dequantize_q8_k(const void* src, float* dst, int64_t nb);
void dequantize_iq4_nl(const void* src, float* dst, int64_t nb);
void dequantize_iq4_xs(const void* src, float* dst, int64_t nb);
void dequantize_tq1_0(const void* src, float* dst, int64_t nb);
void dequantize_tq2_0(const void* src, float* dst, int64_t nb);

}  // namespace squish::detail
