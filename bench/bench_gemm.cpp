// GFLOP/s of the F32 NT matrix product (kernels::gemm_nt) per kernel — scalar, AVX2+FMA, AVX-512,
// the dispatched one, and the threaded matmul — on SmolLM2-135M's linear-layer shapes: prompt
// batches (m = 512) and decoding (m = 1, memory-bound).
//   build/bench/bench_gemm [--benchmark_filter=avx2]
#include <benchmark/benchmark.h>

#include <vector>

#include "squish/kernels/gemm.h"
#include "random_values.h"

namespace sk = squish::kernels;

namespace {

using Kernel = void (*)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, const float*);

using squish::bench::random_vector;

// C[m x n] = A[m x k] · W[n x k]ᵀ + bias with `kernel`; args are m, n, k.
void run(benchmark::State& state, Kernel kernel, bool threaded) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto A = random_vector(static_cast<size_t>(m * k), 1), W = random_vector(static_cast<size_t>(n * k), 2);
  const auto bias = random_vector(static_cast<size_t>(n), 3);
  std::vector<float> C(static_cast<size_t>(m * n));
  for (auto _ : state) {
    if (threaded)
      sk::matmul(m, n, k, A.data(), W.data(), C.data(), bias.data());
    else
      kernel(m, n, k, A.data(), k, W.data(), k, C.data(), n, bias.data());
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * n * k) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_scalar(benchmark::State& state) { run(state, &sk::gemm_nt_scalar, false); }

void BM_avx2(benchmark::State& state) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    state.SkipWithError("no AVX2+FMA on this CPU");
    return;
  }
  run(state, &sk::gemm_nt_avx2, false);
}

void BM_avx512(benchmark::State& state) {
  if (!sk::cpu_has_avx512()) {
    state.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  run(state, &sk::gemm_nt_avx512, false);
}

void BM_dispatch(benchmark::State& state) { run(state, &sk::gemm_nt, false); }
void BM_matmul_threads(benchmark::State& state) { run(state, nullptr, true); }

// SmolLM2-135M: hidden 576, MLP 1536, k/v projections 192 wide.
void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {512, 1})
    for (auto [n, k] : {std::pair<int64_t, int64_t>{576, 576}, {1536, 576}, {576, 1536}, {192, 576}, {1536, 1536}})
      b->Args({m, n, k});
  b->ArgNames({"m", "n", "k"})->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_scalar)->Apply(shapes);
BENCHMARK(BM_avx2)->Apply(shapes);
BENCHMARK(BM_avx512)->Apply(shapes);
BENCHMARK(BM_dispatch)->Apply(shapes);
BENCHMARK(BM_matmul_threads)->Apply(shapes)->UseRealTime();

BENCHMARK_MAIN();
