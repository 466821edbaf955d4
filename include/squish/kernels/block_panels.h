// GGUF Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 weights repacked once at load into panels of 16 rows
// interleaved by 4 codes (as llama.cpp's CPU "repack" buffers reorder blocks for its own
// kernels), so one AVX-512 VNNI vpdpbusd (or two AVX2 vpmaddubsw) multiplies 4 codes of 16 weight
// rows by 4 int8 activation codes. Every 32-code block keeps its F16 scale (and Q4_1 / Q5_1 minimum): the values are those
// of the file, bit for bit, and whole panels hold as many bytes as the file's rows. Activations
// are quantized per block of 32 as llama.cpp's Q8_0 activations are; prompts and decoding both
// run on these integer dots. The k-quants (Q2_K ... Q6_K) take the same API with their own panel
// layout (src/kernels/kquant_panel_kernels.h): F16 d / dmin and byte sub-block scales per row.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/kernels/quant_dot.h"

namespace squish::kernels {

// A rows x cols GGUF weight matrix in 16-row panels (layout: src/kernels/block_panel_kernels.h).
struct BlockPanels {
  GGMLType type = GGMLType::Q4_0;  // the GGUF type the rows came from (Q4_0 ... Q5_1, Q8_0)
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> data;       // panels, one after another

  // Bytes held.
  size_t bytes() const { return data.size(); }
};

// Whether make_block_panels takes rows of type t with k elements (Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0,
// k a multiple of 32) and the given ISA runs them best on the panel kernel (AVX-512 VNNI; AVX2 for
// all but Q8_0, whose AVX2 tile exists but loses to F32 tiles on prompts; the scalar reference
// always exists).
bool block_panels_supported(GGMLType t, int64_t k, Isa isa = active_isa());

// Repacks n rows of type t (row_bytes(t, k) bytes each) into panels; multi-threaded over panels.
BlockPanels make_block_panels(GGMLType t, const void* W, int64_t n, int64_t k);

// Multi-threaded C[i, j] = Σ_t A[i, t] · W[j, t] (+ bias[j]) for i < m: each row of A is quantized
// per block of 32 to int8 (scale max|x| / 127, stored as F16, as Q8_0 activations) and every block
// product is an integer dot scaled by both blocks' scales. isa: Avx512 (the VNNI kernel), Avx2
// (vpmaddubsw) or Scalar (the plain-loop reference both kernels match bit for bit). two_level: each block's residual
// x − d · q is quantized to int8 again and dotted too, so the activations carry ~15 bits (the
// product then matches F32 activations to ~1e-5 of each block's range) for twice the dot work.
void block_panel_matmul(const BlockPanels& P, int64_t m, const float* A, float* C,
                        const float* bias = nullptr, Isa isa = active_isa(), bool two_level = false);

// Row r of the panels dequantized into dst[cols] (the values of the source rows).
void block_panel_row_f32(const BlockPanels& P, int64_t r, float* dst);

}  // namespace squish::kernels
