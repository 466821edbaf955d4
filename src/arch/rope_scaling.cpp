// Llama 3 RoPE scaling: rope_freqs from config.json's parameters and back (see rope_scaling.h).
#include "squish/arch/rope_scaling.h"

#include <cmath>
#include <numbers>

namespace squish {

namespace {

// The wavelength of rotary pair i in float32, as the converter computes it:
// 1 / (1 / base^(2i/dim)) * 2π, each step rounded to float.
float pair_wavelength(double base, int64_t dim, int64_t i) {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
  const float power = static_cast<float>(std::pow(static_cast<double>(static_cast<float>(base)), exponent));
  const float freq = 1.f / power;
  return (1.f / freq) * static_cast<float>(2.0 * std::numbers::pi);
}

}  // namespace

std::vector<float> llama3_rope_factors(const Llama3RopeScaling& s, double base, int64_t dim) {
  const double low_wavelen = s.original_context / s.low_freq_factor;
  const double high_wavelen = s.original_context / s.high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float wavelen = pair_wavelength(base, dim, i);
    if (wavelen < static_cast<float>(high_wavelen)) {
      out.push_back(1.f);
    } else if (wavelen > static_cast<float>(low_wavelen)) {
      out.push_back(static_cast<float>(s.factor));
    } else {  // smooth blend between the scaled and the original frequency
      const float smooth = ((1.f / wavelen) * static_cast<float>(s.original_context) -
                            static_cast<float>(s.low_freq_factor)) /
                           static_cast<float>(s.high_freq_factor - s.low_freq_factor);
      const float blend = (1.f - smooth) / static_cast<float>(s.factor) + smooth;
      out.push_back(1.f / blend);
    }
  }
  return out;
}

std::optional<Llama3RopeScaling> fit_llama3_rope_scaling(const std::vector<float>& factors, double base,
                                                         int64_t dim, double original_context) {
  const int64_t n = static_cast<int64_t>(factors.size());
  if (n == 0 || n != dim / 2) return std::nullopt;
  double factor = 1.0;
  for (float f : factors) factor = std::max(factor, static_cast<double>(f));
  if (factor <= 1.0) return std::nullopt;
  // smooth s of a pair in the band is linear in 1/wavelength: s = (1/f - 1/factor) / (1 - 1/factor);
  // the band edges are where s = 0 (low-frequency edge) and s = 1 (high-frequency edge).
  std::vector<int64_t> band;
  int64_t last_one = -1, first_full = n;
  for (int64_t i = 0; i < n; ++i) {
    if (factors[i] == 1.f) last_one = i;
    else if (factors[i] == static_cast<float>(factor)) first_full = std::min(first_full, i);
    else band.push_back(i);
  }
  auto wavelen = [&](int64_t i) { return static_cast<double>(pair_wavelength(base, dim, i)); };
  auto smooth = [&](int64_t i) { return (1.0 / factors[i] - 1.0 / factor) / (1.0 - 1.0 / factor); };
  double inv_low = 0, inv_high = 0;  // 1 / edge wavelength
  if (band.size() >= 2) {
    const int64_t a = band.front(), b = band.back();
    const double slope = (smooth(a) - smooth(b)) / (1.0 / wavelen(a) - 1.0 / wavelen(b));
    const double offset = smooth(a) - slope / wavelen(a);
    inv_low = -offset / slope;
    inv_high = (1.0 - offset) / slope;
  } else {  // edges between the neighbours (any point there gives the same factors)
    const double lo = last_one >= 0 ? wavelen(last_one) : wavelen(0) / 2;
    const double hi = first_full < n ? wavelen(first_full) : wavelen(n - 1) * 2;
    inv_high = 1.0 / std::sqrt(lo * (band.empty() ? hi : wavelen(band[0])));
    inv_low = 1.0 / std::sqrt((band.empty() ? lo : wavelen(band[0])) * hi);
    if (band.size() == 1) {  // s = (u - inv_low) / (inv_high - inv_low) at the band's pair
      const double s = smooth(band[0]), u = 1.0 / wavelen(band[0]);
      inv_low = s < 1.0 ? (u - s * inv_high) / (1.0 - s) : inv_low;
    }
  }
  if (!(inv_high > inv_low && inv_low > 0)) return std::nullopt;
  Llama3RopeScaling s{factor, original_context * inv_low, original_context * inv_high, original_context};
  const std::vector<float> check = llama3_rope_factors(s, base, dim);
  for (int64_t i = 0; i < n; ++i)
    if (std::abs(check[i] - factors[i]) > 1e-4f * factors[i]) return std::nullopt;
  return s;
}

}  // namespace squish
