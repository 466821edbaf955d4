// FP8 E4M3 / E5M2 and FP4 E2M1 conversions (see minifloat.h for the semantics).
#include "squish/formats/minifloat.h"

#include <cmath>

namespace squish {

MinifloatSpec minifloat_spec(Minifloat f) {
  switch (f) {
    case Minifloat::E4M3: return {4, 3, 7, 448.0f};
    case Minifloat::E5M2: return {5, 2, 15, 57344.0f};
    case Minifloat::E2M1: return {2, 1, 1, 6.0f};
  }
  return {0, 0, 0, 0.0f};
}

uint8_t minifloat_encode(Minifloat f, float x) {
  const MinifloatSpec s = minifloat_spec(f);
  const int total_bits = 1 + s.exp_bits + s.mant_bits;
  const uint8_t sign = std::signbit(x) ? static_cast<uint8_t>(1u << (total_bits - 1)) : 0;
  if (std::isnan(x)) {
    switch (f) {
      case Minifloat::E4M3: return static_cast<uint8_t>(sign | 0x7F);
      case Minifloat::E5M2: return static_cast<uint8_t>(sign | 0x7E);
      case Minifloat::E2M1: return 0;
    }
  }
  const float a = std::fabs(x);
  const int emin = 1 - s.bias;  // exponent of the smallest normal
  // Largest finite code: every format here puts its maximum at the top mantissa of the top
  // usable exponent, except E4M3 (top mantissa of the top exponent is NaN) and E5M2 (top
  // exponent is inf/NaN); compute it from max_finite to stay format-agnostic.
  auto encode_value = [&](float v) -> uint8_t {
    if (v == 0) return 0;
    int e2;
    std::frexp(v, &e2);
    --e2;  // v = m * 2^e2 with m in [1, 2)
    if (e2 < emin)
      return static_cast<uint8_t>(std::ldexp(v, s.mant_bits - emin));  // subnormal mantissa
    const int mant = static_cast<int>(std::ldexp(v, s.mant_bits - e2)) - (1 << s.mant_bits);
    return static_cast<uint8_t>(((e2 + s.bias) << s.mant_bits) | mant);
  };
  if (!(a < s.max_finite)) return static_cast<uint8_t>(sign | encode_value(s.max_finite));
  int e2;
  std::frexp(a, &e2);
  --e2;
  const int qexp = (e2 < emin ? emin : e2) - s.mant_bits;  // exponent of one quantum
  const float r = std::nearbyint(std::ldexp(a, -qexp));    // ties to even (default mode)
  const float v = std::ldexp(r, qexp);
  return static_cast<uint8_t>(sign | encode_value(v < s.max_finite ? v : s.max_finite));
}

float minifloat_decode(Minifloat f, uint8_t bits) {
  const MinifloatSpec s = minifloat_spec(f);
  const int total_bits = 1 + s.exp_bits + s.mant_bits;
  bits = static_cast<uint8_t>(bits & ((1u << total_bits) - 1));
  const bool neg = (bits >> (total_bits - 1)) & 1;
  const int e = (bits >> s.mant_bits) & ((1 << s.exp_bits) - 1);
  const int m = bits & ((1 << s.mant_bits) - 1);
  const int emax_field = (1 << s.exp_bits) - 1;
  float v;
  if (f == Minifloat::E4M3 && e == emax_field && m == (1 << s.mant_bits) - 1) {
    v = NAN;
  } else if (f == Minifloat::E5M2 && e == emax_field) {
    v = m == 0 ? INFINITY : NAN;
  } else if (e == 0) {
    v = std::ldexp(static_cast<float>(m), 1 - s.bias - s.mant_bits);
  } else {
    v = std::ldexp(static_cast<float>(m + (1 << s.mant_bits)), e - s.bias - s.mant_bits);
  }
  return neg ? -v : v;
}

}  // namespace squish
