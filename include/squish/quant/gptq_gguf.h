// "Calibrated GGUF": GPTQ carried out inside llama.cpp's legacy symmetric blocks (Q4_0, Q5_0,
// Q8_0) — each block's scale chosen as ggml chooses it, from the weights as GPTQ has updated them
// when the block is reached; the file stays a plain GGUF that llama.cpp runs unchanged.
#pragma once
#include <cstdint>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/quant/gptq.h"

namespace squish {

// Whether GPTQ can be carried out inside blocks of this type.
bool gptq_supports(GGMLType t);

// GPTQ on W (rows × cols, F32, row-major) with t's block grid; writes rows × row_bytes(t, cols)
// bytes of blocks to out. compare_rtn also measures plain ggml rounding's output error.
GptqReport gptq_encode_gguf(GGMLType t, const float* W, int64_t rows, int64_t cols,
                            const std::vector<double>& H, const GptqOptions& options, uint8_t* out,
                            bool compare_rtn = false);

}  // namespace squish
