// Dispatch of row dequantization: the AVX-512 or AVX2 kernels when allowed (AVX2 also serves the
// types the AVX-512 set lacks), else the portable reference.
#include "squish/kernels/dequant_fast.h"

#include "squish/kernels/quant_dot.h"

namespace squish::kernels {

void dequantize_row_fast(GGMLType t, const void* src, float* dst, int64_t n) {
  static const Isa isa = active_isa();
  if (isa == Isa::Avx512 && dequantize_row_avx512(t, src, dst, n)) return;
  if ((isa == Isa::Avx2 || isa == Isa::Avx512) && dequantize_row_avx2(t, src, dst, n)) return;
  dequantize_row(t, src, dst, n);
}

}  // namespace squish::kernels
