// Per-type row quantizers behind squish::quantize_row, and the block-level steps they are made of
// (private to squish; GPTQ inside GGUF blocks reuses the steps to round its own codes).
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
void quantize_iq4_nl(const float* x, void* dst, int64_t n, const float* qw);
void quantize_iq4_xs(const float* x, void* dst, int64_t n, const float* qw);
void quantize_tq1_0(const float* x, void* dst, int64_t n, const float* qw);
void quantize_tq2_0(const float* x, void* dst, int64_t n, const float* qw);
// One 32-element block of Q4_0 / Q5_0 / Q8_0 from its scale and stored codes.
void encode_legacy_block(GGMLType t, float d, const int32_t* codes, void* dst);

// The grid a quantizer chose for one block: codes L (unsigned, 0..qmax) of sub-block j decode to
// d[j] * (L - zero) - dm[j], exactly as dequantize_row computes them. Legacy types have one
// sub-block of 32; Q4_K/Q5_K eight of 32; Q2_K/Q3_K/Q6_K sixteen of 16.
struct BlockGrid {
  int sub_size = 32;               // elements per sub-block
  int zero = 0, qmax = 0;          // code of value 0 and largest code
  bool legacy = false;             // legacy rounding (below) instead of the k-quant rule
  float d[16] = {}, dm[16] = {};   // per sub-block: step and offset as stored (F16-rounded)
  float id = 0, mn = 0;            // legacy: rounding inverse scale and minimum before F16
};

// Mean square of n elements (ggml's sigma2 of a row: sequential float sum).
float row_mean_square(const float* x, int64_t n);

// Chooses the grids of nb 32-element blocks of a legacy type exactly as quantize_row does; block b
// reads x[32b..], importance qw + b*qw_stride (qw may be null) and sigma2[b*s2_stride] (only with
// qw), writes its scale fields (not its codes) at dst + b*dst_stride, its grid to g[b] and the
// codes quantize_row stores to L[32b..].
void choose_legacy_grids(GGMLType t, const float* x, int64_t nb, const float* qw, int64_t qw_stride,
                         const float* sigma2, int64_t s2_stride, uint8_t* dst, int64_t dst_stride,
                         BlockGrid* g, uint8_t* L);

// Chooses the grid of one 256-element k-quant super-block (Q2_K … Q6_K) from x exactly as
// quantize_row does (qw: importance or null): writes the block's scale fields at dst, the grid to g
// and the codes quantize_row stores to L.
void choose_kquant_grid(GGMLType t, const float* x, const float* qw, void* dst, BlockGrid& g,
                        uint8_t* L);

// The code quantize_row stores for x in sub-block j of g (clamped to the grid when x lies outside
// it); for a k-quant sub-block of step 0 the code is irrelevant and `keep` is returned.
int grid_code(const BlockGrid& g, int j, float x, int keep);
// The value code L of sub-block j of g decodes to.
float grid_value(const BlockGrid& g, int j, int L);

// Pack a block's codes (32 for legacy types, 256 for k-quants, as chosen above) into the block at
// dst, keeping its scale fields.
void pack_legacy_codes(GGMLType t, const uint8_t* L, void* dst);
void pack_kquant_codes(GGMLType t, const uint8_t* L, void* dst);

}  // namespace squish::detail
