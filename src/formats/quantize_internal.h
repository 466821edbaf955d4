// Per-type row quantizers behind squish::quantize_row (private to src/formats).
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish::detail {

// Each quantizes n elements (a multiple of the block size) of x into dst. qw: optional
// per-element importance (nullptr selects ggml's reference algorithm).
void quantize_q4_0(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q4_1(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q5_0(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q5_1(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q8_0(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q2_k(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q3_k(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q4_k(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q5_k(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q6_k(const float* x, void* dst, int64_t n, const float* qw);
void quantize_q8_k(const float* x, void* dst, int64_t n, const float* qw);
// One 32-element block of Q4_0 / Q5_0 / Q8_0 from its scale and stored codes.
void encode_legacy_block(GGMLType t, float d, const int32_t* codes, void* dst);

}  // namespace squish::detail
