// GPTQ onto INTk groups: a ColumnQuantizer whose group scales come from quantize_matrix() itself
// (so absmax / min-max / MSE clipping, FP16 scales and the zero-point rule are exactly the
// format's), with the columns visited in act-order when asked.
#include "squish/quant/gptq_int.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace squish {

namespace {

// Throws unless GPTQ can produce spec's layout for a rows × cols matrix.
void check_spec(const QuantSpec& spec, int64_t rows, int64_t cols, const std::vector<double>& H) {
  const std::string what = "GPTQ onto " + describe(spec) + ": ";
  if (spec.format != ElementFormat::Int)
    throw std::invalid_argument(what + "only INT formats have a GPTQ grid here");
  if (spec.granularity == Granularity::PerTensor)
    throw std::invalid_argument(what + "per-tensor scales are not supported (use per-channel or per-group)");
  if (spec.granularity == Granularity::PerToken)
    throw std::invalid_argument(what + "per-token is an activation granularity (use per-channel for weights)");
  if (spec.double_quant)
    throw std::invalid_argument(what + "double quantization needs every scale before the first column is rounded");
  validate(spec, rows, cols);
  if (static_cast<int64_t>(H.size()) != cols * cols)
    throw std::invalid_argument(what + "H has " + std::to_string(H.size()) + " entries, expected " +
                                std::to_string(cols * cols));
}

// Rounds columns onto the INT grid of a QuantizedMatrix being filled in. Static groups and
// per-channel rows keep the scales quantize_matrix() chose from the original weights; dynamic
// groups (per group, not static) are re-chosen from the updated weights when GPTQ reaches them,
// numbered in solver order.
class IntGroupQuantizer : public ColumnQuantizer {
 public:
  // q: quantize_matrix() of the original weights; perm[p]: the original column at solver
  // position p; solver_group: how often the solver calls begin_group.
  IntGroupQuantizer(QuantizedMatrix q, std::vector<int64_t> perm, bool dynamic, int64_t solver_group)
      : q_(std::move(q)), perm_(std::move(perm)), dynamic_(dynamic), solver_group_(solver_group),
        range_(int_range(q_.spec.bits, q_.zeros.empty())) {
    sub_spec_ = q_.spec;
    sub_spec_.granularity = Granularity::PerChannel;  // one row of a group block = one group
  }

  int64_t group_size() const override { return solver_group_; }

  void begin_group(int64_t c0, const float* wt, int64_t rows) override {
    if (!dynamic_) return;
    const int64_t gs = q_.group, per_row = q_.cols / gs, gi = c0 / gs;
    block_.resize(static_cast<size_t>(rows * gs));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < gs; ++k) block_[r * gs + k] = wt[(c0 + k) * rows + r];
    const QuantizedMatrix g = quantize_matrix(block_.data(), rows, gs, sub_spec_);
    for (int64_t r = 0; r < rows; ++r) {
      q_.scales[r * per_row + gi] = g.scales[r];
      if (!q_.zeros.empty()) q_.zeros[r * per_row + gi] = g.zeros[r];
    }
  }

  void quantize_column(int64_t p, const float* w, float* out, int64_t rows) override {
    const int64_t c = perm_[p], per_row = q_.cols / q_.group;
    const int64_t gi = (dynamic_ ? p : c) / q_.group;
    const float qmin = static_cast<float>(range_.qmin), qmax = static_cast<float>(range_.qmax);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t g = r * per_row + gi;
      const float s = q_.scales[g], z = q_.zeros.empty() ? 0.0f : q_.zeros[g];
      // quantize_matrix()'s rule: round half to even, add the zero point, clamp; s = 0 codes z.
      const float code = s > 0 ? std::clamp(std::nearbyint(w[r] / s) + z, qmin, qmax) : z;
      q_.codes[r * q_.cols + c] = static_cast<int16_t>(code);
      out[r] = s * (code - z);  // dequantize_matrix()'s expression, so the two agree bit for bit
    }
  }

  // The filled-in matrix.
  QuantizedMatrix take() { return std::move(q_); }

 private:
  QuantizedMatrix q_;
  std::vector<int64_t> perm_;
  bool dynamic_;
  int64_t solver_group_;
  IntRange range_;
  QuantSpec sub_spec_;
  std::vector<float> block_;
};

}  // namespace

QuantizedMatrix gptq_quantize_int(float* W, int64_t rows, int64_t cols, const std::vector<double>& H,
                                  const QuantSpec& spec, const GptqIntOptions& opt, GptqReport* report) {
  check_spec(spec, rows, cols, H);
  const size_t total = static_cast<size_t>(rows * cols);
  const std::vector<float> original(W, W + total);

  // Solver order: descending diag(H) for act-order (stable, so ties keep their order).
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * cols + a] > H[b * cols + b]; });
  std::vector<double> Hp;
  if (opt.act_order) {
    Hp.resize(H.size());
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) Hp[i * cols + j] = H[perm[i] * cols + perm[j]];
  }
  const std::vector<double>& Hs = opt.act_order ? Hp : H;

  // Scales of static groups / channels: from the original weights, dead inputs zeroed as the
  // solver zeroes them; this also gives the result its quantize_matrix() layout.
  std::vector<float> base = original;
  for (int64_t c = 0; c < cols; ++c)
    if (H[c * cols + c] == 0)
      for (int64_t r = 0; r < rows; ++r) base[r * cols + c] = 0.0f;
  QuantizedMatrix init = quantize_matrix(base.data(), rows, cols, spec);

  const bool per_group = spec.granularity == Granularity::PerGroup;
  GptqOptions so = opt.solver;
  so.block = std::max<int64_t>(1, so.block);
  int64_t solver_group = so.block;  // per channel: the solver's begin_group calls are no-ops
  if (per_group) {
    solver_group = spec.group_size;
    so.block = std::max(spec.group_size, (so.block / spec.group_size) * spec.group_size);
  }
  IntGroupQuantizer quantizer(std::move(init), perm, per_group && !opt.static_groups, solver_group);

  std::vector<float> Wp(total);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < cols; ++p) Wp[r * cols + p] = original[r * cols + perm[p]];
  GptqReport rep = gptq_quantize(Wp.data(), rows, cols, Hs, quantizer, so);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < cols; ++p) W[r * cols + perm[p]] = Wp[r * cols + p];

  QuantizedMatrix result = quantizer.take();
  if (opt.act_order && !opt.static_groups) {
    result.g_idx.resize(static_cast<size_t>(cols));
    for (int64_t p = 0; p < cols; ++p) result.g_idx[perm[p]] = static_cast<int32_t>(p / result.group);
  }
  if (opt.compare_rtn) {
    std::vector<float> rtn(total);
    fake_quantize(original.data(), rows, cols, spec, rtn.data());
    rep.rel_error_rtn = relative_output_error(original.data(), rtn.data(), rows, cols, H);
  }
  if (report) *report = rep;
  return result;
}

}  // namespace squish
