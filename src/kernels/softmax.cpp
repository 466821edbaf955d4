// softmax_row: dispatch and the portable version.
#include "squish/kernels/softmax.h"

#include <algorithm>
#include <cmath>

#include "squish/kernels/quant_dot.h"

namespace squish::kernels {

void softmax_row_scalar(float* row, int64_t a, int64_t z, int64_t n, float scale, float softcap) {
  float mx = -INFINITY;
  for (int64_t j = a; j < z; ++j) {
    float val = row[j] * scale;
    if (softcap > 0.f) val = softcap * std::tanh(val / softcap);
    row[j] = val;
    mx = std::max(mx, val);
  }
  double sum = 0.0;
  for (int64_t j = a; j < z; ++j) {
    row[j] = std::exp(row[j] - mx);
    sum += row[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < a; ++j) row[j] = 0.f;
  for (int64_t j = a; j < z; ++j) row[j] *= inv;
  for (int64_t j = z; j < n; ++j) row[j] = 0.f;
}

void softmax_row(float* row, int64_t a, int64_t z, int64_t n, float scale, float softcap) {
  if (softcap <= 0.f && active_isa() == Isa::Avx512)
    softmax_row_avx512(row, a, z, n, scale);
  else
    softmax_row_scalar(row, a, z, n, scale, softcap);
}

}  // namespace squish::kernels
