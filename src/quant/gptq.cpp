// The GPTQ solver: damped Cholesky of H⁻¹, column loop with in-block error feedback, lazy updates.
#include "squish/quant/gptq.h"

#include <cmath>
#include <cstdint>
#include <mutex>
#include <stdexcept>

#include <Eigen/Dense>

#include "squish/kernels/gemm.h"

namespace squish {

namespace {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// R ← R⁻¹ for an upper-triangular R, in place: [A B; 0 C]⁻¹ = [A⁻¹ −A⁻¹·B·C⁻¹; 0 C⁻¹], halves
// recursively, so the work is n³/3 triangular products instead of a dense n³ solve against I.
void invert_upper_triangular(Eigen::Ref<MatD> R) {
  const Eigen::Index n = R.rows();
  if (n <= 64) {
    MatD inv = R.triangularView<Eigen::Upper>().solve(MatD::Identity(n, n));
    inv.triangularView<Eigen::StrictlyLower>().setZero();
    R = inv;
    return;
  }
  const Eigen::Index h = n / 2;
  invert_upper_triangular(R.topLeftCorner(h, h));
  invert_upper_triangular(R.bottomRightCorner(n - h, n - h));
  const MatD t = R.topLeftCorner(h, h).triangularView<Eigen::Upper>() * R.topRightCorner(h, n - h);
  R.topRightCorner(h, n - h).noalias() = -(t * R.bottomRightCorner(n - h, n - h).triangularView<Eigen::Upper>());
}

// Upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) after damping; retries with more damping when H is
// not positive definite.
MatD inverse_cholesky_upper_uncached(const MatD& H, double damp) {
  // With J the reversal, J·H·J = M·Mᵀ (M lower) gives H = R·Rᵀ for the upper R = J·M·J, so
  // H⁻¹ = R⁻ᵀ·R⁻¹ and U = R⁻¹: one factorisation and one triangular inverse.
  const int64_t n = H.rows();
  const double mean_diag = H.diagonal().mean();
  MatD P(n, n), R(n, n);
  for (int attempt = 0; attempt < 6; ++attempt, damp *= 10) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) P(i, j) = H(n - 1 - i, n - 1 - j);
    P.diagonal().array() += damp * (mean_diag > 0 ? mean_diag : 1.0);
    Eigen::LLT<MatD> llt(P);
    if (llt.info() != Eigen::Success) continue;
    const MatD M = llt.matrixL();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) R(i, j) = M(n - 1 - i, n - 1 - j);
    invert_upper_triangular(R);
    if (R.allFinite()) return R;
  }
  throw std::runtime_error("GPTQ: the Hessian is not positive definite even with heavy damping");
}

// The factor of the most recent Hessian: linears reading one input (q/k/v, gate/up) share H, and
// the O(n³) factorisation is the solver's largest fixed cost.
MatD inverse_cholesky_upper(const MatD& H, double damp) {
  static std::mutex mu;
  static uint64_t last_key = 0;
  static MatD last;
  uint64_t key = 1469598103934665603ull;  // FNV-1a over H's bytes and the dampening
  auto mix = [&key](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) key = (key ^ b[i]) * 1099511628211ull;
  };
  mix(H.data(), static_cast<size_t>(H.size()) * sizeof(double));
  mix(&damp, sizeof damp);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (key == last_key && last.rows() == H.rows()) return last;
  }
  MatD U = inverse_cholesky_upper_uncached(H, damp);
  std::lock_guard<std::mutex> lock(mu);
  last_key = key;
  last = U;
  return U;
}

// Round-to-nearest on the quantizer's grid (groups chosen from the original weights).
std::vector<float> round_to_nearest(const std::vector<float>& wt, int64_t rows, int64_t cols,
                                    ColumnQuantizer& q) {
  std::vector<float> out(wt.size());
  for (int64_t c = 0; c < cols; ++c) {
    if (c % q.group_size() == 0) q.begin_group(c, wt.data(), rows);
    q.quantize_column(c, wt.data() + c * rows, out.data() + c * rows, rows);
  }
  return out;
}

}  // namespace

double relative_output_error(const float* W, const float* Wq, int64_t rows, int64_t cols,
                             const std::vector<double>& H) {
  const Eigen::Map<const MatD> Hm(H.data(), cols, cols);
  MatD Wm(rows, cols), Dm(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) {
    Wm.data()[i] = W[i];
    Dm.data()[i] = static_cast<double>(W[i]) - Wq[i];
  }
  const double num = (Dm * Hm).cwiseProduct(Dm).sum();
  const double den = (Wm * Hm).cwiseProduct(Wm).sum();
  return den > 0 ? num / den : 0.0;
}

GptqReport gptq_quantize(float* W, int64_t rows, int64_t cols, const std::vector<double>& H,
                         ColumnQuantizer& q, const GptqOptions& opt, ColumnQuantizer* rtn) {
  if (static_cast<int64_t>(H.size()) != cols * cols) throw std::invalid_argument("GPTQ: H has the wrong size");
  if (opt.block % q.group_size() != 0 && q.group_size() % opt.block != 0)
    throw std::invalid_argument("GPTQ: block and group sizes must nest");
  MatD Hm = Eigen::Map<const MatD>(H.data(), cols, cols);
  std::vector<float> wt(static_cast<size_t>(rows * cols));  // column-major working copy
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) wt[c * rows + r] = W[r * cols + c];
  for (int64_t c = 0; c < cols; ++c)
    if (Hm(c, c) == 0) {  // a dead input: its weights never matter
      Hm(c, c) = 1;
      std::fill(wt.begin() + c * rows, wt.begin() + (c + 1) * rows, 0.0f);
    }
  const std::vector<float> original = wt;
  const MatD U = inverse_cholesky_upper(Hm, opt.damp);

  GptqReport rep;
  const int64_t block = std::max(opt.block, q.group_size());
  std::vector<float> err, qcol(static_cast<size_t>(rows)), ut, errt, upd;
  for (int64_t i1 = 0; i1 < cols; i1 += block) {
    const int64_t i2 = std::min(i1 + block, cols), count = i2 - i1;
    err.assign(static_cast<size_t>(count * rows), 0.0f);
    for (int64_t i = i1; i < i2; ++i) {
      if (i % q.group_size() == 0) q.begin_group(i, wt.data(), rows);
      float* w = wt.data() + i * rows;
      q.quantize_column(i, w, qcol.data(), rows);
      const double d = U(i, i);
      float* e = err.data() + (i - i1) * rows;
      for (int64_t r = 0; r < rows; ++r) {
        const double diff = static_cast<double>(w[r]) - qcol[r];
        rep.loss += diff * diff / (d * d);
        e[r] = static_cast<float>(diff / d);
      }
      for (int64_t j = i + 1; j < i2; ++j) {
        const float u = static_cast<float>(U(i, j));
        float* wj = wt.data() + j * rows;
        for (int64_t r = 0; r < rows; ++r) wj[r] -= e[r] * u;
      }
      std::copy(qcol.begin(), qcol.end(), w);
    }
    // Lazy update of the columns after the block: W[:, i2:] -= Err · U[i1:i2, i2:], as one
    // product D = Uᵀ_block · Errᵀ (column-major wt: row j of D is column j's update).
    const int64_t rest = cols - i2;
    if (rest > 0) {
      ut.resize(static_cast<size_t>(rest * count));
      errt.resize(static_cast<size_t>(rows * count));
      upd.resize(static_cast<size_t>(rest * rows));
      for (int64_t j = 0; j < rest; ++j)
        for (int64_t k = 0; k < count; ++k) ut[j * count + k] = static_cast<float>(U(i1 + k, i2 + j));
      for (int64_t k = 0; k < count; ++k)
        for (int64_t r = 0; r < rows; ++r) errt[r * count + k] = err[k * rows + r];
      kernels::matmul(rest, rows, count, ut.data(), errt.data(), upd.data());
      float* w = wt.data() + i2 * rows;
      for (int64_t i = 0; i < rest * rows; ++i) w[i] -= upd[i];
    }
  }
  std::vector<float> orig_rm(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      orig_rm[r * cols + c] = W[r * cols + c];
      W[r * cols + c] = wt[c * rows + r];
    }
  if (opt.measure) rep.rel_error = relative_output_error(orig_rm.data(), W, rows, cols, H);
  if (rtn) {
    const std::vector<float> rq = round_to_nearest(original, rows, cols, *rtn);
    std::vector<float> rq_rm(rq.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) rq_rm[r * cols + c] = rq[c * rows + r];
    rep.rel_error_rtn = relative_output_error(orig_rm.data(), rq_rm.data(), rows, cols, H);
  }
  return rep;
}

}  // namespace squish
