// Group-wise quantization into the research number formats (see number_formats.h).
#include "squish/formats/number_formats.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "squish/formats/half.h"
#include "squish/formats/minifloat.h"

namespace squish {
namespace {

constexpr float kTernaryEps = 1e-8f;
constexpr int kDoubleQuantBlock = 256;

// Inverse of the standard normal CDF by Newton iteration on erfc (double precision).
double normal_quantile(double p) {
  double x = 0.0;
  for (int it = 0; it < 100; ++it) {
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    const double step = (cdf - p) / pdf;
    x -= step;
    if (std::fabs(step) < 1e-15) break;
  }
  return x;
}

bool is_asymmetric(const QuantSpec& s) {
  return s.format == ElementFormat::Int && (!s.symmetric || s.method == ScaleMethod::MinMax);
}

// Largest magnitude the element format represents when the scale is 1.
float format_max(const QuantSpec& s) {
  switch (s.format) {
    case ElementFormat::Int: return static_cast<float>(int_range(s.bits, true).qmax);
    case ElementFormat::NF4: return 1.0f;
    case ElementFormat::FP4_E2M1: return 6.0f;
    case ElementFormat::FP8_E4M3: return 448.0f;
    case ElementFormat::FP8_E5M2: return 57344.0f;
    case ElementFormat::Ternary: return 1.0f;
  }
  return 1.0f;
}

// Element bits as stored (ternary packs five trits per byte, as ggml's TQ1_0).
double element_bits(const QuantSpec& s) {
  switch (s.format) {
    case ElementFormat::Int: return s.bits;
    case ElementFormat::NF4: case ElementFormat::FP4_E2M1: return 4;
    case ElementFormat::FP8_E4M3: case ElementFormat::FP8_E5M2: return 8;
    case ElementFormat::Ternary: return 1.6;
  }
  return 0;
}

// Scale and (asymmetric INT only) the low end of the range of one group.
struct GroupParams {
  float scale = 0.0f;
  float lo = 0.0f;
};

// Code of x (already divided by the scale) and its decoded value (still unscaled).
struct Coded {
  int16_t code;
  float value;
};

Coded encode_symmetric(const QuantSpec& s, float v) {
  switch (s.format) {
    case ElementFormat::Int: {
      const IntRange r = int_range(s.bits, true);
      const float q = std::clamp(std::nearbyint(v), static_cast<float>(r.qmin),
                                 static_cast<float>(r.qmax));
      return {static_cast<int16_t>(q), q};
    }
    case ElementFormat::NF4: {
      const int i = nf4_index(v);
      return {static_cast<int16_t>(i), nf4_levels()[i]};
    }
    case ElementFormat::FP4_E2M1: {
      const uint8_t b = fp32_to_e2m1(v);
      return {b, e2m1_to_fp32(b)};
    }
    case ElementFormat::FP8_E4M3: {
      const uint8_t b = fp32_to_e4m3(v);
      return {b, e4m3_to_fp32(b)};
    }
    case ElementFormat::FP8_E5M2: {
      const uint8_t b = fp32_to_e5m2(v);
      return {b, e5m2_to_fp32(b)};
    }
    case ElementFormat::Ternary: {
      const float q = std::clamp(std::nearbyint(v), -1.0f, 1.0f);
      return {static_cast<int16_t>(q), q};
    }
  }
  return {0, 0.0f};
}

float decode_code(const QuantSpec& s, int16_t code) {
  switch (s.format) {
    case ElementFormat::Int: case ElementFormat::Ternary: return static_cast<float>(code);
    case ElementFormat::NF4: return nf4_levels()[static_cast<size_t>(code) & 15];
    case ElementFormat::FP4_E2M1: return e2m1_to_fp32(static_cast<uint8_t>(code));
    case ElementFormat::FP8_E4M3: return e4m3_to_fp32(static_cast<uint8_t>(code));
    case ElementFormat::FP8_E5M2: return e5m2_to_fp32(static_cast<uint8_t>(code));
  }
  return 0.0f;
}

float round_scale(const QuantSpec& s, float scale) {
  return s.scale_bits == 16 ? fp16_to_fp32(fp32_to_fp16(scale)) : scale;
}

// Asymmetric INT zero point for range low end lo and scale.
float zero_point(const QuantSpec& s, float lo, float scale) {
  const IntRange r = int_range(s.bits, false);
  if (scale <= 0) return 0.0f;
  return std::clamp(std::nearbyint(-lo / scale), static_cast<float>(r.qmin),
                    static_cast<float>(r.qmax));
}

// Squared error of quantizing the group with params p (scale rounded as stored).
double group_error(const QuantSpec& s, const float* x, int64_t n, const GroupParams& p) {
  double err = 0;
  if (p.scale <= 0) {
    for (int64_t i = 0; i < n; ++i) err += static_cast<double>(x[i]) * x[i];
    return err;
  }
  if (is_asymmetric(s)) {
    const IntRange r = int_range(s.bits, false);
    const float z = zero_point(s, p.lo, p.scale);
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::clamp(std::nearbyint(x[i] / p.scale) + z, static_cast<float>(r.qmin),
                                 static_cast<float>(r.qmax));
      const double d = p.scale * (q - z) - x[i];
      err += d * d;
    }
    return err;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double d = p.scale * encode_symmetric(s, x[i] / p.scale).value - x[i];
    err += d * d;
  }
  return err;
}

// Scale (and range) of one group by the spec's method, before double quantization.
GroupParams choose_params(const QuantSpec& s, const float* x, int64_t n) {
  float mn = 0, mx = 0, amax = 0;
  double abs_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    amax = std::max(amax, std::fabs(x[i]));
    abs_sum += std::fabs(x[i]);
  }
  auto params_for = [&](float ratio) {
    GroupParams p;
    if (s.format == ElementFormat::Ternary) {
      p.scale = static_cast<float>(abs_sum / static_cast<double>(n)) * ratio + kTernaryEps;
    } else if (is_asymmetric(s)) {
      const IntRange r = int_range(s.bits, false);
      p.lo = mn * ratio;
      p.scale = (mx - mn) * ratio / static_cast<float>(r.qmax - r.qmin);
    } else {
      p.scale = amax * ratio / format_max(s);
    }
    p.scale = round_scale(s, p.scale);
    return p;
  };
  if (s.method != ScaleMethod::MseClip) return params_for(1.0f);
  // MSE-optimal clipping: shrink the range (ternary: scan the absmean multiplier) on a grid.
  const bool ternary = s.format == ElementFormat::Ternary;
  const int steps = 50;
  GroupParams best = params_for(1.0f);
  double best_err = group_error(s, x, n, best);
  for (int k = 1; k <= steps; ++k) {
    const float ratio = ternary ? 0.5f + 1.0f * static_cast<float>(k) / steps
                                : 1.0f - 0.5f * static_cast<float>(k) / steps;
    const GroupParams p = params_for(ratio);
    const double e = group_error(s, x, n, p);
    if (e < best_err) {
      best_err = e;
      best = p;
    }
  }
  return best;
}

// Double quantization: scales minus their mean, to int8 in blocks of 256 with FP32 block scales.
void double_quantize(QuantizedMatrix& q) {
  const size_t n = q.scales.size();
  double mean = 0;
  for (float v : q.scales) mean += v;
  q.scale_offset = static_cast<float>(mean / static_cast<double>(n));
  q.scale_codes.resize(n);
  q.scale_block_scales.clear();
  for (size_t b = 0; b < n; b += kDoubleQuantBlock) {
    const size_t e = std::min(n, b + kDoubleQuantBlock);
    float amax = 0;
    for (size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(q.scales[i] - q.scale_offset));
    const float bs = amax / 127.0f;
    q.scale_block_scales.push_back(bs);
    for (size_t i = b; i < e; ++i) {
      const float c = bs > 0 ? std::nearbyint((q.scales[i] - q.scale_offset) / bs) : 0.0f;
      q.scale_codes[i] = static_cast<int8_t>(std::clamp(c, -127.0f, 127.0f));
      q.scales[i] = std::max(0.0f, static_cast<float>(q.scale_codes[i]) * bs + q.scale_offset);
    }
  }
}

}  // namespace

std::string describe(const QuantSpec& s) {
  std::string f;
  switch (s.format) {
    case ElementFormat::Int:
      f = "int" + std::to_string(s.bits) + (is_asymmetric(s) ? "-asym" : "-sym");
      break;
    case ElementFormat::NF4: f = "nf4"; break;
    case ElementFormat::FP4_E2M1: f = "fp4-e2m1"; break;
    case ElementFormat::FP8_E4M3: f = "fp8-e4m3"; break;
    case ElementFormat::FP8_E5M2: f = "fp8-e5m2"; break;
    case ElementFormat::Ternary: f = "ternary"; break;
  }
  switch (s.granularity) {
    case Granularity::PerTensor: f += "/tensor"; break;
    case Granularity::PerChannel: f += "/channel"; break;
    case Granularity::PerToken: f += "/token"; break;
    case Granularity::PerGroup: f += "/g" + std::to_string(s.group_size); break;
  }
  switch (s.method) {
    case ScaleMethod::AbsMax: f += "/absmax"; break;
    case ScaleMethod::MinMax: f += "/minmax"; break;
    case ScaleMethod::MseClip: f += "/mse"; break;
  }
  if (s.scale_bits == 16) f += "/fp16-scales";
  if (s.double_quant) f += "/dq";
  return f;
}

void validate(const QuantSpec& s, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("empty matrix");
  if (s.format == ElementFormat::Int && (s.bits < 2 || s.bits > 8))
    throw std::invalid_argument("INT width must be 2..8 bits, got " + std::to_string(s.bits));
  if (s.scale_bits != 32 && s.scale_bits != 16)
    throw std::invalid_argument("scale_bits must be 16 or 32");
  if (s.granularity == Granularity::PerGroup &&
      (s.group_size <= 0 || cols % s.group_size != 0))
    throw std::invalid_argument("group size " + std::to_string(s.group_size) +
                                " does not divide the row length " + std::to_string(cols));
  if (s.method == ScaleMethod::MinMax && s.format != ElementFormat::Int)
    throw std::invalid_argument("min-max scales apply to INT formats only");
}

int64_t group_extent(const QuantSpec& s, int64_t rows, int64_t cols) {
  switch (s.granularity) {
    case Granularity::PerTensor: return rows * cols;
    case Granularity::PerChannel: case Granularity::PerToken: return cols;
    case Granularity::PerGroup: return s.group_size;
  }
  return cols;
}

const std::array<float, 16>& nf4_levels() {
  // QLoRA / bitsandbytes: 8 positive quantiles of N(0,1) at linspace(0.9677083, 0.5, 9)[:-1],
  // 7 negative ones at linspace(0.9677083, 0.5, 8)[:-1], and 0, normalized to [-1, 1].
  static const std::array<float, 16> levels = [] {
    constexpr double kOffset = 0.9677083;
    std::array<double, 16> v{};
    int k = 0;
    for (int i = 0; i < 7; ++i) v[k++] = -normal_quantile(kOffset + (0.5 - kOffset) * i / 7.0);
    v[k++] = 0.0;
    for (int i = 0; i < 8; ++i) v[k++] = normal_quantile(kOffset + (0.5 - kOffset) * i / 8.0);
    std::sort(v.begin(), v.end());
    const double top = v[15];
    std::array<float, 16> out{};
    for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(v[i] / top);
    return out;
  }();
  return levels;
}

int nf4_index(float x) {
  const auto& lv = nf4_levels();
  int best = 0;
  float best_d = std::fabs(x - lv[0]);
  for (int i = 1; i < 16; ++i) {
    const float d = std::fabs(x - lv[i]);
    if (d < best_d) {
      best_d = d;
      best = i;
    }
  }
  return best;
}

IntRange int_range(int bits, bool symmetric) {
  if (symmetric) return {-((1 << (bits - 1)) - 1), (1 << (bits - 1)) - 1};
  return {0, (1 << bits) - 1};
}

QuantizedMatrix quantize_matrix(const float* x, int64_t rows, int64_t cols, const QuantSpec& spec) {
  validate(spec, rows, cols);
  QuantizedMatrix q;
  q.spec = spec;
  q.rows = rows;
  q.cols = cols;
  q.group = group_extent(spec, rows, cols);
  const int64_t total = rows * cols, ngroups = total / q.group;
  const bool asym = is_asymmetric(spec);
  std::vector<GroupParams> params(static_cast<size_t>(ngroups));
  q.scales.resize(static_cast<size_t>(ngroups));
  for (int64_t g = 0; g < ngroups; ++g) {
    params[g] = choose_params(spec, x + g * q.group, q.group);
    q.scales[g] = params[g].scale;
  }
  if (spec.double_quant) double_quantize(q);
  q.codes.resize(static_cast<size_t>(total));
  if (asym) q.zeros.resize(static_cast<size_t>(ngroups));
  const IntRange ar = int_range(spec.bits, false);
  for (int64_t g = 0; g < ngroups; ++g) {
    const float s = q.scales[g];
    const float* xg = x + g * q.group;
    int16_t* cg = q.codes.data() + g * q.group;
    if (asym) {
      const float z = zero_point(spec, params[g].lo, s);
      q.zeros[g] = z;
      for (int64_t i = 0; i < q.group; ++i)
        cg[i] = static_cast<int16_t>(s > 0 ? std::clamp(std::nearbyint(xg[i] / s) + z,
                                                        static_cast<float>(ar.qmin),
                                                        static_cast<float>(ar.qmax))
                                           : z);
    } else {
      for (int64_t i = 0; i < q.group; ++i)
        cg[i] = s > 0 ? encode_symmetric(spec, xg[i] / s).code : encode_symmetric(spec, 0).code;
    }
  }
  return q;
}

void dequantize_matrix(const QuantizedMatrix& q, float* out) {
  const int64_t total = q.rows * q.cols, ngroups = total / q.group;
  if (!q.g_idx.empty()) {  // act-order groups: per-row groups chosen by column
    const int64_t per_row = q.cols / q.group;
    for (int64_t r = 0; r < q.rows; ++r)
      for (int64_t c = 0; c < q.cols; ++c) {
        const int64_t g = r * per_row + q.g_idx[c], k = r * q.cols + c;
        const float z = q.zeros.empty() ? 0.0f : q.zeros[g];
        out[k] = q.scales[g] * (decode_code(q.spec, q.codes[k]) - z);
      }
    return;
  }
  for (int64_t g = 0; g < ngroups; ++g) {
    const float s = q.scales[g];
    const float z = q.zeros.empty() ? 0.0f : q.zeros[g];
    for (int64_t i = 0; i < q.group; ++i) {
      const int64_t k = g * q.group + i;
      out[k] = s * (decode_code(q.spec, q.codes[k]) - z);
    }
  }
}

double fake_quantize(const float* x, int64_t rows, int64_t cols, const QuantSpec& spec,
                     float* out) {
  const QuantizedMatrix q = quantize_matrix(x, rows, cols, spec);
  dequantize_matrix(q, out);
  double err = 0;
  for (int64_t i = 0; i < rows * cols; ++i) err += static_cast<double>(out[i] - x[i]) * (out[i] - x[i]);
  return err / static_cast<double>(rows * cols);
}

double bits_per_weight(const QuantSpec& spec, int64_t rows, int64_t cols) {
  validate(spec, rows, cols);
  const double total = static_cast<double>(rows) * static_cast<double>(cols);
  const double group = static_cast<double>(group_extent(spec, rows, cols));
  double per_group = spec.double_quant ? 8.0 + 32.0 / kDoubleQuantBlock : spec.scale_bits;
  if (is_asymmetric(spec)) per_group += spec.bits;  // integer zero point
  double bpw = element_bits(spec) + per_group / group;
  if (spec.double_quant) bpw += 32.0 / total;  // the scales' mean
  return bpw;
}

}  // namespace squish
