// Inference speed measured with llama-bench's definitions: pp<N> = tokens/s evaluating an N-token
// random prompt in one batch from an empty cache; tg<N> = tokens/s generating N tokens one at a time
// from an empty cache. Each test runs once untimed (warm-up), then `reps` timed repetitions; the
// reported rate is the mean (and standard deviation) of the per-repetition rates.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "squish/model/kv_cache_type.h"

namespace squish {

class Model;

// What to measure.
struct SpeedOptions {
  int64_t n_prompt = 512;  // pp test length (0: skip)
  int64_t n_gen = 128;     // tg test length (0: skip)
  int reps = 5;            // timed repetitions per test
  uint32_t seed = 1;       // seed of the random token ids
  bool warmup = true;      // one untimed run first
  KVCacheType kv_type = KVCacheType::F32;  // element type of the KV cache
};

// One test's measurements.
struct SpeedTest {
  std::string name;              // "pp512", "tg128"
  int64_t n_tokens = 0;
  std::vector<double> seconds;   // per repetition
  double tokens_per_second = 0;  // mean of n_tokens / seconds[i]
  double stddev = 0;             // standard deviation of the per-repetition rates
  // Per-token latencies of tg tests (every generated token of every repetition), in ms.
  double latency_p50_ms = 0, latency_p95_ms = 0;
  int64_t batch = 1;             // sequences decoded together (batched decoding tests)
};

// Batched decoding: `batch` sequences (each first given a 16-token random prompt) advanced together
// for opts.n_gen steps; tokens_per_second counts every sequence's tokens (batch × n_gen / time).
// Named "tg<n_gen>@b<batch>".
SpeedTest measure_batched_decode(const std::shared_ptr<const Model>& model, int64_t batch,
                                 const SpeedOptions& opts);

// Read bandwidth of one access pattern: each thread sums its share of the buffer as `streams`
// interleaved sequential streams (one sequential stream per core reads less than several do).
struct BandwidthPattern {
  int streams_per_thread = 1;
  double bytes_per_second = 0;  // best of the passes
};

// The machine's read bandwidth: every pattern measured, and the best of them.
struct ReadBandwidth {
  double bytes_per_second = 0;         // max over patterns: the decoding roofline
  int streams_per_thread = 0;          // the pattern that reached it
  std::vector<BandwidthPattern> patterns;
};

// Sustained read bandwidth of main memory: for 1, 2, 4 and 8 streams per thread, the best of
// `passes` passes summing a buffer of `bytes` (far larger than the caches) with all parallel_for
// threads; the result is the best pattern.
ReadBandwidth measure_read_bandwidth(size_t bytes = size_t{512} << 20, int passes = 5);

// Runs the pp and tg tests on a model with the current thread setting.
std::vector<SpeedTest> measure_speed(const std::shared_ptr<const Model>& model, const SpeedOptions& opts);

}  // namespace squish
