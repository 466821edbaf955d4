// "Calibrated GGUF": GPTQ carried out inside llama.cpp's block formats — the legacy blocks (Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0) and the k-quant super-blocks (Q2_K … Q6_K). Each block's scales (and
// mins) are chosen exactly as squish's ggml-identical quantizer chooses them, from the weights as
// GPTQ has updated them when the block is reached; GPTQ then rounds column by column onto that
// fixed grid. The file stays a plain GGUF that llama.cpp runs unchanged.
#pragma once
#include <cstdint>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/quant/gptq.h"

namespace squish {

// Whether GPTQ can be carried out inside blocks of this type.
bool gptq_supports(GGMLType t);

// GPTQ on W (rows × cols, F32, row-major) with t's block grid; writes rows × row_bytes(t, cols)
// bytes of blocks to out, which decode (dequantize_row) to exactly the values GPTQ optimised.
// cols must be a multiple of t's block size (256 for k-quants). importance: optional per-column
// weights (an imatrix row, length cols) for the importance-weighted scale choice, as quantize_row
// uses them. compare_rtn also measures plain ggml rounding's output error. quantized: optional,
// receives the values GPTQ chose (rows × cols, row-major), which the blocks decode to bit for bit.
GptqReport gptq_encode_gguf(GGMLType t, const float* W, int64_t rows, int64_t cols,
                            const std::vector<double>& H, const GptqOptions& options, uint8_t* out,
                            bool compare_rtn = false, const float* importance = nullptr,
                            float* quantized = nullptr);

}  // namespace squish
