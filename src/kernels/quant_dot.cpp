// Scalar reference of the integer weight x activation dot products, activation quantization and
// the one place that picks the ISA.
#include "squish/kernels/quant_dot.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "squish/common/error.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

namespace squish::kernels {

namespace {

Isa detect_isa() {
  __builtin_cpu_init();
  Isa best = Isa::Scalar;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni"))
    best = Isa::Avx512;
  const char* forced = std::getenv("SQUISH_ISA");
  if (!forced || !*forced) return best;
  const std::string f(forced);
  const Isa want = f == "scalar" ? Isa::Scalar
                   : f == "avx2"   ? Isa::Avx2
                   : f == "avx512" ? Isa::Avx512
                                   : best;
  // Never go above what the CPU has.
  return static_cast<int>(want) <= static_cast<int>(best) ? want : best;
}

}  // namespace

Isa active_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

bool can_quant_dot(GGMLType t) { return t == GGMLType::Q4_0 || t == GGMLType::Q8_0; }

void quantize_activations_q8_0(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0.f;
    for (int i = 0; i < kQK; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float d = amax / 127.f;
    const float id = d > 0.f ? 1.f / d : 0.f;
    out[b].d = fp32_to_fp16(d);
    for (int i = 0; i < kQK; ++i) out[b].qs[i] = static_cast<int8_t>(std::lrintf(xb[i] * id));
  }
}

float quant_dot_scalar(GGMLType t, const void* w, const void* a, int64_t n) {
  const auto* ab = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK;
  float sum = 0.f;
  if (t == GGMLType::Q8_0) {
    const auto* wb = static_cast<const BlockQ8_0*>(w);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t acc = 0;
      for (int i = 0; i < kQK; ++i) acc += int32_t{wb[b].qs[i]} * ab[b].qs[i];
      sum += fp16_to_fp32(wb[b].d) * fp16_to_fp32(ab[b].d) * static_cast<float>(acc);
    }
    return sum;
  }
  if (t == GGMLType::Q4_0) {
    const auto* wb = static_cast<const BlockQ4_0*>(w);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t acc = 0;
      for (int i = 0; i < kQK / 2; ++i) {
        acc += ((wb[b].qs[i] & 0x0F) - 8) * int32_t{ab[b].qs[i]};
        acc += ((wb[b].qs[i] >> 4) - 8) * int32_t{ab[b].qs[i + kQK / 2]};
      }
      sum += fp16_to_fp32(wb[b].d) * fp16_to_fp32(ab[b].d) * static_cast<float>(acc);
    }
    return sum;
  }
  throw Error("quant_dot", "weight type " + type_name(t) + " is not supported yet");
}

float quant_dot(Isa isa, GGMLType t, const void* w, const void* a, int64_t n) {
  switch (isa) {
    case Isa::Avx512: return quant_dot_avx512(t, w, a, n);
    case Isa::Avx2: return quant_dot_avx2(t, w, a, n);
    default: return quant_dot_scalar(t, w, a, n);
  }
}

void quant_gemv(GGMLType t, const void* W, int64_t rows, int64_t n, const float* x, float* y) {
  if (n % kQK != 0)
    throw Error("quant_gemv", "row length " + std::to_string(n) + " is not a multiple of 32");
  std::vector<BlockQ8_0> act(static_cast<size_t>(n / kQK));
  quantize_activations_q8_0(x, act.data(), n);
  const size_t rb = row_bytes(t, n);
  const Isa isa = active_isa();
  const auto* base = static_cast<const uint8_t*>(W);
  for (int64_t j = 0; j < rows; ++j) y[j] = quant_dot(isa, t, base + j * rb, act.data(), n);
}

}  // namespace squish::kernels
