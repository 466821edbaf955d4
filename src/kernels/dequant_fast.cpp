// Dispatch of row dequantization: the AVX-512 kernels when allowed, else the portable reference.
#include "squish/kernels/dequant_fast.h"

#include "squish/kernels/quant_dot.h"

namespace squish::kernels {

void dequantize_row_fast(GGMLType t, const void* src, float* dst, int64_t n) {
  static const bool avx512 = active_isa() == Isa::Avx512;
  if (avx512 && dequantize_row_avx512(t, src, dst, n)) return;
  dequantize_row(t, src, dst, n);
}

}  // namespace squish::kernels
