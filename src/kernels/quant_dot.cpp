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

bool can_quant_dot(GGMLType t) {
  return t == GGMLType::Q4_0 || t == GGMLType::Q8_0 || t == GGMLType::Q4_K || t == GGMLType::Q6_K;
}

GGMLType activation_type(GGMLType t) {
  return t == GGMLType::Q4_K || t == GGMLType::Q6_K ? GGMLType::Q8_K : GGMLType::Q8_0;
}

void quantize_activations_q8_k(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* xb = x + b * kQKK;
    float amax = 0.f;
    for (int i = 0; i < kQKK; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float d = amax / 127.f;
    const float id = d > 0.f ? 1.f / d : 0.f;
    out[b].d = d;
    for (int i = 0; i < kQKK; ++i) out[b].qs[i] = static_cast<int8_t>(std::lrintf(xb[i] * id));
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += out[b].qs[g * 16 + i];
      out[b].bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

void quantize_activations(GGMLType t, const float* x, void* dst, int64_t n) {
  if (activation_type(t) == GGMLType::Q8_K)
    quantize_activations_q8_k(x, dst, n);
  else
    quantize_activations_q8_0(x, dst, n);
}

namespace {

// Q4_K/Q5_K's 6-bit scale and min of sub-block j (ggml's packing of 12 bytes).
void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

float dot_q4_k_scalar(const BlockQ4_K* w, const BlockQ8_K* a, int64_t nb) {
  float sum = 0.f;
  for (int64_t b = 0; b < nb; ++b) {
    int64_t acc = 0, macc = 0;
    for (int j = 0; j < 4; ++j) {
      const uint8_t* q = w[b].qs + 32 * j;
      const int8_t* y = a[b].qs + 64 * j;
      int sc0, m0, sc1, m1;
      scale_min_k4(2 * j, w[b].scales, sc0, m0);
      scale_min_k4(2 * j + 1, w[b].scales, sc1, m1);
      int32_t lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += (q[l] & 0x0F) * int32_t{y[l]};
        hi += (q[l] >> 4) * int32_t{y[l + 32]};
      }
      acc += int64_t{sc0} * lo + int64_t{sc1} * hi;
      macc += int64_t{m0} * (a[b].bsums[4 * j] + a[b].bsums[4 * j + 1]) +
              int64_t{m1} * (a[b].bsums[4 * j + 2] + a[b].bsums[4 * j + 3]);
    }
    sum += a[b].d * (fp16_to_fp32(w[b].d) * static_cast<float>(acc) -
                     fp16_to_fp32(w[b].dmin) * static_cast<float>(macc));
  }
  return sum;
}

float dot_q6_k_scalar(const BlockQ6_K* w, const BlockQ8_K* a, int64_t nb) {
  float sum = 0.f;
  for (int64_t b = 0; b < nb; ++b) {
    int64_t acc = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[b].ql + 64 * half;
      const uint8_t* qh = w[b].qh + 32 * half;
      const int8_t* sc = w[b].scales + 8 * half;
      const int8_t* y = a[b].qs + 128 * half;
      int32_t part[8] = {};
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        part[is + 0] += (((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32) * y[l];
        part[is + 2] += (((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32) * y[l + 32];
        part[is + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * y[l + 64];
        part[is + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * y[l + 96];
      }
      for (int s = 0; s < 8; ++s) acc += int64_t{sc[s]} * part[s];
    }
    sum += a[b].d * fp16_to_fp32(w[b].d) * static_cast<float>(acc);
  }
  return sum;
}

}  // namespace

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
  if (t == GGMLType::Q4_K)
    return dot_q4_k_scalar(static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(a), n / kQKK);
  if (t == GGMLType::Q6_K)
    return dot_q6_k_scalar(static_cast<const BlockQ6_K*>(w), static_cast<const BlockQ8_K*>(a), n / kQKK);
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
  // k-quants: Q4_K has an AVX-512 VNNI loop; Q6_K (and Q4_K below AVX-512) the AVX2 one, which
  // every AVX-512 CPU runs too.
  if (activation_type(t) == GGMLType::Q8_K) {
    if (isa == Isa::Avx512 && t == GGMLType::Q4_K) return quant_dot_avx512(t, w, a, n);
    if (isa != Isa::Scalar) return quant_dot_avx2(t, w, a, n);
    return quant_dot_scalar(t, w, a, n);
  }
  switch (isa) {
    case Isa::Avx512: return quant_dot_avx512(t, w, a, n);
    case Isa::Avx2: return quant_dot_avx2(t, w, a, n);
    default: return quant_dot_scalar(t, w, a, n);
  }
}

void quant_dot4(Isa isa, GGMLType t, const void* w, const void* const* a, int64_t n, float* out) {
  const bool legacy = t == GGMLType::Q4_0 || t == GGMLType::Q8_0;
  if (legacy && isa == Isa::Avx512) return quant_dot4_avx512(t, w, a, n, out);
  if (legacy && isa == Isa::Avx2) return quant_dot4_avx2(t, w, a, n, out);
  for (int r = 0; r < 4; ++r) out[r] = quant_dot(isa, t, w, a[r], n);
}

void quant_gemv(GGMLType t, const void* W, int64_t rows, int64_t n, const float* x, float* y) {
  const GGMLType at = activation_type(t);
  const int64_t bs = type_traits(at).block_size;
  if (n % bs != 0)
    throw Error("quant_gemv", "row length " + std::to_string(n) + " is not a multiple of " +
                                  std::to_string(bs));
  std::vector<uint8_t> act(row_bytes(at, n));
  quantize_activations(t, x, act.data(), n);
  const size_t rb = row_bytes(t, n);
  const Isa isa = active_isa();
  const auto* base = static_cast<const uint8_t*>(W);
  for (int64_t j = 0; j < rows; ++j) y[j] = quant_dot(isa, t, base + j * rb, act.data(), n);
}

}  // namespace squish::kernels
