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

// Rounds one row of n values to INT8 codes q = clamp(round_half_even(x / s), -127, 127) with
// s = static_scale when it is > 0, else max|x| / 127 (per token); returns s (0 for an all-zero
// row, whose codes are then 0). The same rounding as fake_quantize_input's INT8 kinds.
float quantize_row_int8(const float* x, int8_t* q, int64_t n, float static_scale = 0.0f);

}  // namespace squish
