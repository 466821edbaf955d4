// Small floating-point element formats (OCP 8-bit FP and OCP MX FP4): FP8 E4M3 (the "FN"
// variant: no infinities, a single NaN pattern S.1111.111, max 448), FP8 E5M2 (IEEE-like with
// infinities and NaNs, max 57344) and FP4 E2M1 (no infinities or NaNs, max 6).
// Conversions from float round to nearest, ties to even, and saturate: finite values and
// infinities beyond the largest finite magnitude become that magnitude (sign kept).
// NaN becomes the format's NaN (E4M3: 0x7F, E5M2: 0x7E, with the input's sign); E2M1 has no NaN
// and maps NaN to +0.
#pragma once
#include <cstdint>

namespace squish {

// The supported small float formats.
enum class Minifloat { E4M3, E5M2, E2M1 };

// Bit layout and range of a small float format.
struct MinifloatSpec {
  int exp_bits;       // exponent bits
  int mant_bits;      // mantissa bits
  int bias;           // exponent bias
  float max_finite;   // largest finite magnitude
};

// Layout of f.
MinifloatSpec minifloat_spec(Minifloat f);
// Encodes x into f's bits (low 8 or 4 bits of the result), saturating, round-to-nearest-even.
uint8_t minifloat_encode(Minifloat f, float x);
// Decodes f's bits to float (exact).
float minifloat_decode(Minifloat f, uint8_t bits);

// FP8 E4M3 (OCP, FN) encode/decode.
inline uint8_t fp32_to_e4m3(float x) { return minifloat_encode(Minifloat::E4M3, x); }
inline float e4m3_to_fp32(uint8_t b) { return minifloat_decode(Minifloat::E4M3, b); }
// FP8 E5M2 (OCP) encode/decode.
inline uint8_t fp32_to_e5m2(float x) { return minifloat_encode(Minifloat::E5M2, x); }
inline float e5m2_to_fp32(uint8_t b) { return minifloat_decode(Minifloat::E5M2, b); }
// FP4 E2M1 (OCP MX) encode/decode: values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
inline uint8_t fp32_to_e2m1(float x) { return minifloat_encode(Minifloat::E2M1, x); }
inline float e2m1_to_fp32(uint8_t b) { return minifloat_decode(Minifloat::E2M1, b); }

}  // namespace squish
