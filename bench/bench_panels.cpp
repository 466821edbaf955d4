// Quantized linear layers on Llama-3.2-1B's shapes (n x k = 2048 x 2048, 512 x 2048, 8192 x 2048,
// 2048 x 8192), Q4_0 and Q8_0, decoding (m = 1) and a prompt (m = 512), all threads: the panels
// (block_panel_matmul) per ISA with one- and two-level activations, against the row kernels of
// quant_matmul (QuantPath::Auto: integer row dots for decoding, dequantized F32 tiles for prompts,
// on active_isa(), so run with SQUISH_ISA=avx2 to see the old AVX2 path).
//   SQUISH_ISA=avx2 build/bench/bench_panels [--benchmark_filter=Q4_0]
#include <benchmark/benchmark.h>

#include <vector>

#include "random_values.h"
#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/quant_dot.h"
#include "squish/kernels/quant_matmul.h"

namespace sk = squish::kernels;
using squish::GGMLType;
using squish::bench::random_vector;

namespace {

// n random rows of k weights quantized to t.
std::vector<uint8_t> quantized_rows(GGMLType t, int64_t n, int64_t k) {
  const auto w = random_vector(static_cast<size_t>(n * k), 2);
  const size_t rb = squish::row_bytes(t, k);
  std::vector<uint8_t> rows(rb * static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) squish::quantize_row(t, w.data() + r * k, rows.data() + r * rb, k);
  return rows;
}

// Which kernel a benchmark runs.
enum class Kernel { Rows, PanelsAvx2, PanelsAvx512 };

// C[m x n] = A[m x k] · Wᵀ with W of type t; args are m, n, k, activation levels (panels only).
void run(benchmark::State& state, GGMLType t, Kernel kernel) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool two_level = state.range(3) == 2;
  const sk::Isa isa = kernel == Kernel::PanelsAvx512 ? sk::Isa::Avx512 : sk::Isa::Avx2;
  __builtin_cpu_init();  // the CPU's own flags: SQUISH_ISA=avx2 still lets the AVX-512 panels run
  if ((kernel == Kernel::PanelsAvx512 && !__builtin_cpu_supports("avx512vnni")) ||
      (kernel == Kernel::PanelsAvx2 && !__builtin_cpu_supports("avx2"))) {
    state.SkipWithError("the CPU lacks this ISA");
    return;
  }
  const auto rows = quantized_rows(t, n, k);
  const auto A = random_vector(static_cast<size_t>(m * k), 1);
  std::vector<float> C(static_cast<size_t>(m * n));
  sk::BlockPanels P;
  if (kernel != Kernel::Rows) P = sk::make_block_panels(t, rows.data(), n, k);
  for (auto _ : state) {
    if (kernel == Kernel::Rows)
      sk::quant_matmul(t, rows.data(), m, n, k, A.data(), C.data(), nullptr, sk::QuantPath::Auto);
    else
      sk::block_panel_matmul(P, m, A.data(), C.data(), nullptr, isa, two_level);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * n * k) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(rows.size()) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// Llama-3.2-1B: hidden 2048, k/v projections 512 wide, FFN 8192.
void shapes(benchmark::internal::Benchmark* b, bool levels) {
  for (int64_t m : {1, 512})
    for (auto [n, k] : {std::pair<int64_t, int64_t>{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}})
      for (int64_t l : levels ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{2}) b->Args({m, n, k, l});
  b->ArgNames({"m", "n", "k", "levels"})->Unit(benchmark::kMillisecond)->UseRealTime();
}
void panel_shapes(benchmark::internal::Benchmark* b) { shapes(b, true); }
void row_shapes(benchmark::internal::Benchmark* b) { shapes(b, false); }

void BM_Q4_0_rows(benchmark::State& s) { run(s, GGMLType::Q4_0, Kernel::Rows); }
void BM_Q4_0_panels_avx2(benchmark::State& s) { run(s, GGMLType::Q4_0, Kernel::PanelsAvx2); }
void BM_Q4_0_panels_avx512(benchmark::State& s) { run(s, GGMLType::Q4_0, Kernel::PanelsAvx512); }
void BM_Q8_0_rows(benchmark::State& s) { run(s, GGMLType::Q8_0, Kernel::Rows); }
void BM_Q8_0_panels_avx2(benchmark::State& s) { run(s, GGMLType::Q8_0, Kernel::PanelsAvx2); }
void BM_Q8_0_panels_avx512(benchmark::State& s) { run(s, GGMLType::Q8_0, Kernel::PanelsAvx512); }

}  // namespace

BENCHMARK(BM_Q4_0_rows)->Apply(row_shapes);
BENCHMARK(BM_Q4_0_panels_avx2)->Apply(panel_shapes);
BENCHMARK(BM_Q4_0_panels_avx512)->Apply(panel_shapes);
BENCHMARK(BM_Q8_0_rows)->Apply(row_shapes);
BENCHMARK(BM_Q8_0_panels_avx2)->Apply(panel_shapes);
BENCHMARK(BM_Q8_0_panels_avx512)->Apply(panel_shapes);

BENCHMARK_MAIN();
