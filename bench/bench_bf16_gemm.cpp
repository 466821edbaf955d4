// F16 / BF16 weights at Llama-3.2-1B linear shapes (n x k = 2048x2048, 512x2048, 8192x2048,
// 2048x8192), all threads: prompts (m = 512) in GMAC/s through the earlier path (rows widened
// into F32 tiles + the F32 GEMM) and the vdpbf16ps GEMM with each operand split; decoding (m = 1)
// in GB/s of weights read through the earlier single-stream GEMV and the multi-stream one (weights
// rotated over > 256 MiB of copies so they come from memory, as in a real model).
//   build/bench/bench_bf16_gemm [--benchmark_filter=decode]
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "../src/kernels/half_gemv.h"
#include "squish/common/parallel.h"
#include "squish/formats/half.h"
#include "squish/kernels/bf16_gemm.h"
#include "squish/kernels/quant_dot.h"
#include "squish/kernels/quant_matmul.h"
#include "random_values.h"

namespace sk = squish::kernels;
using squish::GGMLType;

namespace {

using squish::bench::random_vector;

std::vector<uint16_t> random_half(GGMLType t, size_t n, uint32_t seed) {
  const auto f = random_vector(n, seed);
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = t == GGMLType::BF16 ? squish::fp32_to_bf16(0.05f * f[i]) : squish::fp32_to_fp16(0.05f * f[i]);
  return h;
}

GGMLType type_of(int64_t arg) { return arg == 0 ? GGMLType::F16 : GGMLType::BF16; }

// args: type (0 F16, 1 BF16), n, k, variant (0: F32 tiles; WA: vdpbf16ps with W weight and A
// activation levels).
void BM_prompt(benchmark::State& state) {
  const GGMLType t = type_of(state.range(0));
  const int64_t m = 512, n = state.range(1), k = state.range(2), variant = state.range(3);
  if (variant != 0 && !sk::bf16_gemm_available()) {
    state.SkipWithError("no AVX512-BF16 on this CPU");
    return;
  }
  const auto W = random_half(t, static_cast<size_t>(n * k), 1);
  const auto A = random_vector(static_cast<size_t>(m * k), 2), bias = random_vector(static_cast<size_t>(n), 3);
  std::vector<float> C(static_cast<size_t>(m * n));
  const sk::Bf16Split split{static_cast<int>(variant / 10), static_cast<int>(variant % 10)};
  for (auto _ : state) {
    if (variant == 0)
      sk::quant_matmul(t, W.data(), m, n, k, A.data(), C.data(), bias.data(), sk::QuantPath::F32Tiles);
    else
      sk::bf16_matmul(t, W.data(), m, n, k, A.data(), C.data(), bias.data(), split);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(m * n * k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// args: type, n, k, m, variant (0: the earlier one-stream GEMV, 1: several row ranges at once,
// 2: the vdpbf16ps GEMM with the default split, to place the decode / prompt crossover).
void BM_decode(benchmark::State& state) {
  if (sk::active_isa() != sk::Isa::Avx512) {
    state.SkipWithError("the F16 GEMV is AVX-512 only");
    return;
  }
  const GGMLType t = type_of(state.range(0));
  const int64_t n = state.range(1), k = state.range(2), m = state.range(3);
  const int64_t variant = state.range(4);
  if (variant == 2 && !sk::bf16_gemm_available()) {
    state.SkipWithError("no AVX512-BF16 on this CPU");
    return;
  }
  const size_t elems = static_cast<size_t>(n * k);
  const size_t copies = std::max<size_t>(2, (size_t{256} << 20) / (2 * elems));
  const auto one = random_half(t, elems, 1);
  std::vector<uint16_t> W(elems * copies);
  for (size_t c = 0; c < copies; ++c) std::copy(one.begin(), one.end(), W.begin() + static_cast<std::ptrdiff_t>(c * elems));
  const auto A = random_vector(static_cast<size_t>(m * k), 2);
  std::vector<float> C(static_cast<size_t>(m * n));
  size_t c = 0;
  for (auto _ : state) {
    const uint16_t* w = W.data() + (c++ % copies) * elems;
    if (variant == 2)
      sk::bf16_matmul(t, w, m, n, k, A.data(), C.data(), nullptr, sk::bf16_split_for(t, sk::QuantPath::Auto));
    else
      squish::parallel_for(n, [&](int64_t j0, int64_t j1) {
        sk::half_gemv_avx512(t, w, m, n, k, A.data(), C.data(), nullptr, j0, j1, variant == 1);
      }, 16);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(2.0 * static_cast<double>(elems) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const std::pair<int64_t, int64_t> kShapes[] = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}};

// SmolLM2-135M's linears, to check the small model does not lose.
const std::pair<int64_t, int64_t> kSmallShapes[] = {{576, 576}, {1536, 576}, {576, 1536}, {192, 576}};

void prompt_args(benchmark::internal::Benchmark* b) {
  for (auto [n, k] : kSmallShapes)
    for (int64_t v : {0, 11, 12}) b->Args({0, n, k, v});
  for (auto [n, k] : kShapes) {
    for (int64_t v : {0, 11, 12, 21, 22}) b->Args({0, n, k, v});
    for (int64_t v : {0, 11, 12}) b->Args({1, n, k, v});
  }
  b->ArgNames({"bf16", "n", "k", "split"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void decode_args(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 4, 8})
    for (auto [n, k] : kShapes)
      for (int64_t v : {0, 1, 2}) b->Args({0, n, k, m, v});
  b->ArgNames({"bf16", "n", "k", "m", "variant"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_prompt)->Apply(prompt_args);
BENCHMARK(BM_decode)->Apply(decode_args);

BENCHMARK_MAIN();
