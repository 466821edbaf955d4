// Prompt-sized linear products over F16 / BF16 weight rows on AVX512-BF16 vdpbf16ps (two BF16
// products summed into an F32 lane, twice the multiply rate of an F32 FMA). Each thread repacks
// 32 weight rows at a time into a panel of interleaved BF16 pairs (no load-time copy: the file's
// rows stay the only copy and feed the decoding GEMV too) and multiplies it into every activation
// row, rounded to BF16 pairs once per call. Operands may be split into two BF16 terms (x = hi + lo)
// for accuracy at the cost of one extra vdpbf16ps per extra term pair.
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"
#include "squish/kernels/quant_matmul.h"

namespace squish::kernels {

// How many BF16 terms carry each operand. weight_levels: 1 (BF16 as stored; F16 rounded to
// nearest BF16) or 2 (F16 only: hi = F16 truncated to BF16, lo = the exact remainder, so hi + lo
// is the F16 value). act_levels: 1 (activation rounded to BF16, 8-bit significand) or 2 (plus its
// rounded residual, ~16 bits).
struct Bf16Split {
  int weight_levels = 1;
  int act_levels = 2;
};

// Whether the CPU runs the vdpbf16ps kernel: active_isa() is Avx512 and the CPU has AVX512-BF16
// (with AMX, bf16_matmul takes AMX's TDPBF16PS tiles instead: the same roundings and term pairs).
bool bf16_gemm_available();

// The split quant_matmul takes for weight type t under path: Auto holds perplexity within 0.1% of
// F32 weights (12; with AMX, 22 for F16: exact weights), Fast trades that for speed (11;
// docs/runtime.md has the measurements).
// SQUISH_BF16_SPLIT=WA (e.g. "12": one weight level, two activation levels) overrides both.
Bf16Split bf16_split_for(GGMLType t, QuantPath path);

// Whether the vdpbf16ps GEMM beats the F32 tiles on an n x k weight with this split (measured with
// bench/bench_bf16_gemm at m = 512): always from k = 2048 (Llama-3.2-1B's linears: 1.05-1.5x with
// two-level activations), and for one-level activations from n = 512; on SmolLM2's k = 576 / 1536
// the two-level GEMM is 0.8x the F32 GEMM, which stays there. Where the CPU has AMX (cpu_has_amx()),
// its BF16 tiles run the GEMM, which then pays at every size (2.2x the F32 tiles at 576 x 576,
// 2.1x at 2048 x 2048, two-level activations).
bool bf16_gemm_pays(Bf16Split split, int64_t n, int64_t k);

// Multi-threaded C[i, j] = Σ_t A[i, t] · W[j, t] (+ bias[j]) for i < m, j < n, with W n rows of k
// F16 or BF16 values (t). simd: the vdpbf16ps kernel (only when bf16_gemm_available()); otherwise
// the scalar reference, which rounds every operand the same way and sums the same products in the
// same order (per pair of k: the odd element's product, then the even one's, for each term pair).
void bf16_matmul(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A,
                 float* C, const float* bias, Bf16Split split, bool simd = true);

}  // namespace squish::kernels
