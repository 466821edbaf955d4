// AWQ's two searches. Every candidate is scored by the output error ||X·Dᵀ||² of the weight error D
// on (a subsample of) the calibration inputs, with X replaced by a square factor of XᵀX when it has
// more rows than columns, over row chunks of W in parallel (rows are independent: groups never span
// rows).
#include "squish/quant/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <Eigen/Dense>

#include "squish/common/parallel.h"

namespace squish {

namespace {

constexpr double kMinScale = 1e-4;  // AutoAWQ's clamp of mean|x|^α
constexpr int64_t kTokenTile = 512;  // rows of X per product (bounds the scratch buffer)

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Throws unless spec quantizes each row of a rows × cols matrix on its own.
void check_spec(const QuantSpec& spec, int64_t rows, int64_t cols) {
  const std::string what = "AWQ with " + describe(spec) + ": ";
  if (spec.granularity == Granularity::PerTensor)
    throw std::invalid_argument(what + "per-tensor scales couple all rows (use per-channel or per-group)");
  if (spec.double_quant)
    throw std::invalid_argument(what + "double quantization couples the scales of different rows");
  validate(spec, rows, cols);
}

// The rows of X to score on: all n, or max_rows evenly spaced ones copied into buf.
const float* subsample(const float* X, int64_t n, int64_t cols, int64_t max_rows, std::vector<float>& buf,
                       int64_t* used) {
  if (max_rows <= 0 || n <= max_rows) {
    *used = n;
    return X;
  }
  buf.resize(static_cast<size_t>(max_rows * cols));
  for (int64_t i = 0; i < max_rows; ++i) {
    const int64_t src = i * n / max_rows;
    std::copy(X + src * cols, X + (src + 1) * cols, buf.begin() + i * cols);
  }
  *used = max_rows;
  return buf.data();
}

// A matrix B with BᵀB = XᵀX for k columns of X, so that ||X·dᵀ||² = ||B·dᵀ||² for any d.
struct ErrorBasis {
  MatF B;
  bool upper = false;  // B is upper triangular (its row t is zero before column t)
};

// The columns themselves when X has few rows, else the k × k upper Cholesky factor of their Gram
// matrix (slightly damped: XᵀX may be singular), which scores candidates n/k times faster.
// threaded: split the Gram product over squish::parallel_for (not from inside one).
ErrorBasis error_basis(const float* X, int64_t n, int64_t ld, int64_t c0, int64_t k, bool threaded) {
  const Eigen::Map<const MatF, 0, Eigen::OuterStride<>> Xm(X + c0, n, k, Eigen::OuterStride<>(ld));
  if (2 * n < 3 * k) return {Xm, false};
  MatF Gf(k, k);
  auto gram_rows = [&](int64_t i0, int64_t i1) {
    Gf.middleRows(i0, i1 - i0).noalias() = Xm.middleCols(i0, i1 - i0).transpose() * Xm;
  };
  if (threaded) parallel_for(k, gram_rows, 16);
  else gram_rows(0, k);
  const MatD G = Gf.cast<double>();
  const double mean_diag = std::max(G.diagonal().mean(), 1e-30);
  for (double damp = 1e-7; damp < 1; damp *= 10) {
    MatD Gd = G;
    Gd.diagonal().array() += damp * mean_diag;
    const Eigen::LLT<MatD> llt(Gd);
    if (llt.info() == Eigen::Success) return {MatD(llt.matrixU()).cast<float>(), true};
  }
  return {Xm, false};  // not reached for a real Gram matrix; the plain rows are always exact
}

// out[j] += ||B · D_jᵀ||² for the m rows of D (k long, row stride ldd); a triangular B's tiles
// skip their zero columns.
void add_output_error(const ErrorBasis& basis, const float* D, int64_t ldd, int64_t m, double* out) {
  const MatF& B = basis.B;
  const int64_t k = B.cols(), tile = basis.upper ? kTokenTile / 2 : kTokenTile;
  const Eigen::Map<const MatF, 0, Eigen::OuterStride<>> Dm(D, m, k, Eigen::OuterStride<>(ldd));
  MatF E;
  for (int64_t t0 = 0; t0 < B.rows(); t0 += tile) {
    const int64_t tn = std::min<int64_t>(tile, B.rows() - t0), c = basis.upper ? t0 : 0;
    E.noalias() = B.block(t0, c, tn, k - c) * Dm.rightCols(k - c).transpose();
    for (int64_t j = 0; j < m; ++j) out[j] += E.col(j).cast<double>().squaredNorm();
  }
}

// Per input channel, the mean over all rows of all ws of |W| / (max|W| of its group + 1e-6):
// AutoAWQ's w_mean for duo scaling.
std::vector<double> normalised_weight_means(const std::vector<const float*>& ws, const std::vector<int64_t>& rows,
                                            int64_t cols, const QuantSpec& spec) {
  std::vector<double> mean(static_cast<size_t>(cols), 0.0);
  int64_t total = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const int64_t gs = group_extent(spec, rows[i], cols);
    for (int64_t r = 0; r < rows[i]; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += gs) {
        const float* w = ws[i] + r * cols + c0;
        float amax = 0;
        for (int64_t k = 0; k < gs; ++k) amax = std::max(amax, std::fabs(w[k]));
        for (int64_t k = 0; k < gs; ++k) mean[c0 + k] += std::fabs(w[k]) / (amax + 1e-6);
      }
    total += rows[i];
  }
  for (double& m : mean) m /= static_cast<double>(total);
  return mean;
}

// AutoAWQ's candidate: s = max(mean|x|^α [/ (w_mean^(1−α) + 1e-4)], 1e-4) / sqrt(max(s) · min(s)).
std::vector<float> candidate_scales(const std::vector<float>& mean_abs_x, const std::vector<double>& w_mean,
                                    double alpha) {
  std::vector<double> s(mean_abs_x.size());
  double mx = 0, mn = std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < s.size(); ++j) {
    double v = std::pow(static_cast<double>(mean_abs_x[j]), alpha);
    if (!w_mean.empty()) v /= std::pow(w_mean[j], 1.0 - alpha) + kMinScale;
    s[j] = std::max(v, kMinScale);
    mx = std::max(mx, s[j]);
    mn = std::min(mn, s[j]);
  }
  const double norm = std::sqrt(mx * mn);
  std::vector<float> out(s.size());
  for (size_t j = 0; j < s.size(); ++j) out[j] = static_cast<float>(s[j] / norm);
  return out;
}

// ||X Wᵀ − X W'ᵀ||² for W' = Q(W·diag(s))·diag(1/s), on row chunks of W in parallel.
double scaled_rounding_error(const ErrorBasis& B, int64_t cols, const float* W, int64_t rows,
                             const std::vector<float>& s, const QuantSpec& spec) {
  std::vector<double> per_row(static_cast<size_t>(rows), 0.0);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    const int64_t m = r1 - r0;
    std::vector<float> scaled(static_cast<size_t>(m * cols)), d(scaled.size());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < cols; ++c) scaled[r * cols + c] = W[(r0 + r) * cols + c] * s[c];
    fake_quantize(scaled.data(), m, cols, spec, d.data());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < cols; ++c) d[r * cols + c] = W[(r0 + r) * cols + c] - d[r * cols + c] / s[c];
    add_output_error(B, d.data(), cols, m, per_row.data() + r0);
  });
  double total = 0;
  for (double e : per_row) total += e;
  return total;
}

}  // namespace

AwqResult awq_search_scales(const float* X, int64_t n, int64_t cols, const std::vector<const float*>& ws,
                            const std::vector<int64_t>& rows, const std::vector<float>& mean_abs_x,
                            const QuantSpec& spec, const AwqOptions& opt) {
  if (ws.empty() || ws.size() != rows.size())
    throw std::invalid_argument("AWQ: need one row count per weight matrix (and at least one matrix)");
  if (static_cast<int64_t>(mean_abs_x.size()) != cols)
    throw std::invalid_argument("AWQ: mean_abs_x has " + std::to_string(mean_abs_x.size()) +
                                " channels, the weights have " + std::to_string(cols));
  if (!X || n <= 0) throw std::invalid_argument("AWQ: no calibration inputs");
  if (opt.grid <= 0) throw std::invalid_argument("AWQ: the α grid needs at least one point");
  for (size_t i = 0; i < ws.size(); ++i) {
    if (!ws[i]) throw std::invalid_argument("AWQ: null weight matrix");
    check_spec(spec, rows[i], cols);
  }
  for (float m : mean_abs_x)
    if (!(m >= 0) || !std::isfinite(m)) throw std::invalid_argument("AWQ: mean_abs_x must be finite and ≥ 0");

  std::vector<float> buf;
  int64_t ns = 0;
  const float* Xs = subsample(X, n, cols, opt.max_rows, buf, &ns);
  const ErrorBasis B = error_basis(Xs, ns, cols, 0, cols, true);
  const std::vector<double> w_mean = opt.duo_scaling ? normalised_weight_means(ws, rows, cols, spec)
                                                     : std::vector<double>();
  auto error_of = [&](const std::vector<float>& s) {
    double err = 0;
    for (size_t i = 0; i < ws.size(); ++i) err += scaled_rounding_error(B, cols, ws[i], rows[i], s, spec);
    return err;
  };
  AwqResult res;
  res.errors.resize(static_cast<size_t>(opt.grid));
  double best = std::numeric_limits<double>::infinity();
  if (opt.duo_scaling) {  // α = 0 is not s = 1 here: plain rounding is a candidate of its own
    res.scales.assign(static_cast<size_t>(cols), 1.0f);
    res.error = res.error_identity = best = error_of(res.scales);
  }
  for (int k = 0; k < opt.grid; ++k) {
    const double alpha = static_cast<double>(k) / opt.grid;
    std::vector<float> s = candidate_scales(mean_abs_x, w_mean, alpha);
    const double err = error_of(s);
    res.errors[k] = err;
    if (k == 0 && !opt.duo_scaling) res.error_identity = err;
    if (err < best) {
      best = err;
      res.alpha = alpha;
      res.error = err;
      res.scales = std::move(s);
    }
  }
  return res;
}

double awq_clip(float* W, int64_t rows, int64_t cols, const float* X, int64_t n, const QuantSpec& spec,
                const AwqOptions& opt) {
  check_spec(spec, rows, cols);
  if (!X || n <= 0) throw std::invalid_argument("AWQ clip: no calibration inputs");
  if (opt.clip_grid <= 0 || !(opt.max_shrink >= 0 && opt.max_shrink < 1))
    throw std::invalid_argument("AWQ clip: need clip_grid > 0 and max_shrink in [0, 1)");
  std::vector<float> buf;
  int64_t ns = 0;
  const float* Xs = subsample(X, n, cols, opt.clip_rows, buf, &ns);
  const int64_t gs = group_extent(spec, rows, cols), ng = cols / gs;
  const int steps = static_cast<int>(std::floor(opt.max_shrink * opt.clip_grid + 1e-9));
  std::vector<double> before(static_cast<size_t>(rows), 0.0), after(static_cast<size_t>(rows), 0.0);
  std::vector<ErrorBasis> basis(static_cast<size_t>(ng));
  parallel_for(ng, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) basis[g] = error_basis(Xs, ns, cols, g * gs, gs, false);
  });

  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    const int64_t m = r1 - r0;
    float* w = W + r0 * cols;
    std::vector<float> amax(static_cast<size_t>(m * ng), 0.0f), best_ratio(amax.size(), 1.0f);
    std::vector<double> best_err(amax.size(), std::numeric_limits<double>::infinity()), e(static_cast<size_t>(m));
    std::vector<float> wc(static_cast<size_t>(m * cols)), d(wc.size());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float& a = amax[r * ng + c / gs];
        a = std::max(a, std::fabs(w[r * cols + c]));
      }
    for (int k = 0; k <= steps; ++k) {
      const float ratio = static_cast<float>(1.0 - static_cast<double>(k) / opt.clip_grid);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const float lim = amax[r * ng + c / gs] * ratio;
          wc[r * cols + c] = std::clamp(w[r * cols + c], -lim, lim);
        }
      fake_quantize(wc.data(), m, cols, spec, d.data());
      for (int64_t i = 0; i < m * cols; ++i) d[i] = w[i] - d[i];  // against the unclipped weights
      for (int64_t g = 0; g < ng; ++g) {
        std::fill(e.begin(), e.end(), 0.0);
        add_output_error(basis[g], d.data() + g * gs, cols, m, e.data());
        for (int64_t r = 0; r < m; ++r) {
          if (k == 0) before[r0 + r] += e[r];
          if (e[r] < best_err[r * ng + g]) {
            best_err[r * ng + g] = e[r];
            best_ratio[r * ng + g] = ratio;
          }
        }
      }
    }
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t g = 0; g < ng; ++g) after[r0 + r] += best_err[r * ng + g];
      for (int64_t c = 0; c < cols; ++c) {
        const float lim = amax[r * ng + c / gs] * best_ratio[r * ng + c / gs];
        w[r * cols + c] = std::clamp(w[r * cols + c], -lim, lim);
      }
    }
  });
  double reduction = 0;
  for (int64_t r = 0; r < rows; ++r) reduction += before[r] - after[r];
  return reduction;
}

}  // namespace squish
