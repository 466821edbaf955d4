// Activation quantization of W8A8 / FP8 schemes: a linear layer's input rounded to INT8 or FP8 E4M3
// before the product, per token with a dynamic scale (max|x| of the row) or per tensor with a
// calibrated static scale — what vLLM does before its integer / FP8 GEMM.
#pragma once
#include <cstdint>
#include <string>

namespace squish {

// How a linear layer's input is quantized (None: kept in full precision).
enum class InputQuant : uint8_t { None, Int8PerToken, Int8Static, Fp8PerToken, Fp8Static };

// "int8-per-token", "fp8-static" ...
std::string input_quant_name(InputQuant q);

// The scale a row of maximum magnitude amax gets: amax / 127 (INT8) or amax / 448 (FP8 E4M3).
float input_quant_scale(InputQuant q, float amax);

// y = dequantize(quantize(x)) for rows × cols values (y may alias x). Static kinds use
// static_scale for every row; per-token kinds compute each row's scale. INT8 rounds half to even
// and clamps to [-127, 127]; FP8 rounds to nearest even and saturates at ±448.
void fake_quantize_input(InputQuant q, float static_scale, const float* x, float* y, int64_t rows,
                         int64_t cols);

}  // namespace squish
