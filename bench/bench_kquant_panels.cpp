// k-quant weights (and Q4_0, the legacy panels' reference) on Llama-3.2-1B's linear shapes (n x k = 2048x2048, 512x2048, 8192x2048,
// 2048x8192): the load-time repacked VNNI panels (block_panel_matmul, two-level activations as
// the runtime's default, and one-level as SQUISH_QUANT_PATH=fast) side by side with the row path
// (quant_matmul, QuantPath::Auto). Decoding (m = 1) reports GB/s of weight bytes read, prompts
// (m = 512) GMAC/s.
//   build/bench/bench_kquant_panels [--threads=N] [--in-cache] [--benchmark_filter=Q4_K] [--benchmark_repetitions=3]
// --threads=1 runs on the calling thread and rates by its CPU time (robust on a busy machine);
// otherwise rates are by wall time. --in-cache: decoding reads one copy of the weights (from cache:
// the kernel's own arithmetic rate, apart from DRAM, for A/B comparisons on a loaded machine).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "squish/common/parallel.h"
#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/quant_matmul.h"
#include "../tests/cpp/quantized_rows.h"

namespace sk = squish::kernels;
using squish::GGMLType;

namespace {

enum class Path { Rows, Panels2, Panels1 };

// Whether decoding reads a single copy of the weights (--in-cache).
bool in_cache = false;

void run(benchmark::State& state, GGMLType t, Path path, int64_t m, int64_t n, int64_t k) {
  // Decoding cycles through copies of the weights filling 128 MB, so they stream from DRAM as a
  // model's do (one matrix alone would sit in the 32 MB L3).
  const auto rows = squish::test::quantized_rows(t, n, k, 1);
  const size_t copies = m == 1 && !in_cache ? std::max<size_t>(1, (size_t{128} << 20) / rows.size()) : 1;
  const auto A = squish::test::random_values(m * k, 2);
  std::vector<float> C(static_cast<size_t>(m * n));
  std::vector<std::vector<uint8_t>> row_copies;
  std::vector<sk::BlockPanels> panel_copies;
  if (path != Path::Rows && !sk::block_panels_supported(t, k)) {
    state.SkipWithError("no panel kernel on this CPU");
    return;
  }
  for (size_t c = 0; c < copies; ++c) {
    if (path == Path::Rows) row_copies.push_back(rows);
    else panel_copies.push_back(sk::make_block_panels(t, rows.data(), n, k));
  }
  size_t c = 0;
  for (auto _ : state) {
    if (path == Path::Rows)
      sk::quant_matmul(t, row_copies[c].data(), m, n, k, A.data(), C.data(), nullptr, sk::QuantPath::Auto);
    else
      sk::block_panel_matmul(panel_copies[c], m, A.data(), C.data(), nullptr, sk::active_isa(), path == Path::Panels2);
    c = (c + 1) % copies;
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(path == Path::Rows ? rows.size() : panel_copies[0].bytes());
  if (m == 1)
    state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  else
    state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(m * n * k) * 1e-9,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;  // 0: the pool's default
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    else if (std::strcmp(argv[i], "--in-cache") == 0) in_cache = true;
    else argv[kept++] = argv[i];
  }
  argc = kept;
  squish::set_num_threads(threads);
  const struct { int64_t n, k; } shapes[] = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}};
  const struct { Path path; const char* name; } paths[] = {
      {Path::Rows, "rows_auto"}, {Path::Panels2, "panels_2level"}, {Path::Panels1, "panels_1level"}};
  for (GGMLType t : {GGMLType::Q4_K, GGMLType::Q6_K, GGMLType::Q5_K, GGMLType::Q3_K, GGMLType::Q2_K, GGMLType::Q4_0})
    for (int64_t m : {1, 512})
      for (const auto& s : shapes)
        for (const auto& p : paths) {
          const std::string name = squish::type_name(t) + "/" + p.name + "/m" + std::to_string(m) + "/" +
                                   std::to_string(s.n) + "x" + std::to_string(s.k);
          auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, t, p.path, m, s.n, s.k); })
                        ->Unit(benchmark::kMicrosecond);
          if (threads != 1) b->UseRealTime();
        }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
