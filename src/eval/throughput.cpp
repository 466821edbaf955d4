#include "squish/eval/throughput.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <atomic>
#include <random>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/model/batch_session.h"
#include "squish/model/model.h"

namespace squish {
namespace {

using Clock = std::chrono::steady_clock;

// Random token ids as llama-bench uses them; BOS first when the vocabulary adds it.
std::vector<int32_t> random_tokens(const Model& m, int64_t n, std::mt19937& rng) {
  const int32_t n_vocab = static_cast<int32_t>(m.config().n_vocab);
  std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  if (n > 0 && m.tokenizer().add_bos() && m.tokenizer().bos_id() >= 0) t[0] = m.tokenizer().bos_id();
  return t;
}

double run_prompt(Session& s, const std::vector<int32_t>& tokens) {
  s.reset();
  const auto t0 = Clock::now();
  s.eval(tokens, /*all_logits=*/false);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Generates tokens one at a time; appends each token's latency (seconds) to `latencies`.
double run_generation(Session& s, const std::vector<int32_t>& tokens, std::vector<double>* latencies) {
  s.reset();
  const auto t0 = Clock::now();
  auto last = t0;
  for (int32_t t : tokens) {
    s.eval(std::span<const int32_t>(&t, 1), false);
    const auto now = Clock::now();
    if (latencies) latencies->push_back(std::chrono::duration<double>(now - last).count());
    last = now;
  }
  return std::chrono::duration<double>(last - t0).count();
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * v.size())) - (q > 0 ? 1 : 0));
  return v[i];
}

SpeedTest summarise(std::string name, int64_t n_tokens, std::vector<double> seconds) {
  SpeedTest t;
  t.name = std::move(name);
  t.n_tokens = n_tokens;
  t.seconds = std::move(seconds);
  std::vector<double> rates;
  for (double s : t.seconds) rates.push_back(s > 0 ? n_tokens / s : 0.0);
  double sum = 0;
  for (double r : rates) sum += r;
  t.tokens_per_second = rates.empty() ? 0 : sum / rates.size();
  double var = 0;
  for (double r : rates) var += (r - t.tokens_per_second) * (r - t.tokens_per_second);
  t.stddev = rates.size() > 1 ? std::sqrt(var / (rates.size() - 1)) : 0.0;
  return t;
}

// Sum of p[0..n): vectorized (SSE2 at least), so that the loop is bound by memory, not by adds.
__attribute__((optimize("O3", "tree-vectorize"))) uint64_t sum_words(const uint64_t* p, int64_t n) {
  uint64_t t = 0;
  for (int64_t i = 0; i < n; ++i) t += p[i];
  return t;
}

}  // namespace

ReadBandwidth measure_read_bandwidth(size_t bytes, int passes) {
  constexpr int64_t kLine = 64;  // words read from one stream before switching to the next (512 B)
  const int64_t n = static_cast<int64_t>(bytes / sizeof(uint64_t));
  std::vector<uint64_t> buf(static_cast<size_t>(n));
  parallel_for(n, [&](int64_t b, int64_t e) {  // first touch by the threads that read it
    for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<uint64_t>(i);
  }, 4096);
  ReadBandwidth out;
  std::atomic<uint64_t> sink{0};
  for (int streams : {1, 2, 4, 8}) {
    BandwidthPattern pat{streams, 0.0};
    for (int pass = 0; pass < std::max(1, passes); ++pass) {
      const auto t0 = Clock::now();
      parallel_for(n, [&](int64_t b, int64_t e) {
        // [b, e) as `streams` equal ranges read a line at a time in turn, then the leftover words.
        const int64_t per = (e - b) / streams / kLine * kLine;
        uint64_t t = 0;
        for (int64_t o = 0; o < per; o += kLine)
          for (int s = 0; s < streams; ++s) t += sum_words(buf.data() + b + s * per + o, kLine);
        t += sum_words(buf.data() + b + streams * per, e - b - streams * per);
        sink += t;
      }, 4096);
      const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
      pat.bytes_per_second = std::max(pat.bytes_per_second, static_cast<double>(n * sizeof(uint64_t)) / sec);
    }
    out.patterns.push_back(pat);
    if (pat.bytes_per_second > out.bytes_per_second) {
      out.bytes_per_second = pat.bytes_per_second;
      out.streams_per_thread = streams;
    }
  }
  if (sink.load() == 42) out.bytes_per_second *= 1.0;  // keep the sums observable
  return out;
}

std::vector<SpeedTest> measure_speed(const std::shared_ptr<const Model>& model, const SpeedOptions& opts) {
  if (opts.reps < 1) throw Error("bench", "repetitions must be at least 1");
  if (opts.n_prompt < 0 || opts.n_gen < 0) throw Error("bench", "token counts must not be negative");
  std::mt19937 rng(opts.seed);
  std::vector<SpeedTest> out;
  if (opts.n_prompt > 0) {
    Session s(model, opts.n_prompt, opts.kv_type);
    if (opts.warmup) run_prompt(s, random_tokens(*model, opts.n_prompt, rng));
    std::vector<double> secs;
    for (int r = 0; r < opts.reps; ++r) secs.push_back(run_prompt(s, random_tokens(*model, opts.n_prompt, rng)));
    out.push_back(summarise("pp" + std::to_string(opts.n_prompt), opts.n_prompt, std::move(secs)));
  }
  if (opts.n_gen > 0) {
    Session s(model, opts.n_gen, opts.kv_type);
    if (opts.warmup) run_generation(s, random_tokens(*model, 1, rng), nullptr);
    std::vector<double> secs, lat;
    for (int r = 0; r < opts.reps; ++r)
      secs.push_back(run_generation(s, random_tokens(*model, opts.n_gen, rng), &lat));
    out.push_back(summarise("tg" + std::to_string(opts.n_gen), opts.n_gen, std::move(secs)));
    out.back().latency_p50_ms = 1e3 * percentile(lat, 0.50);
    out.back().latency_p95_ms = 1e3 * percentile(lat, 0.95);
  }
  return out;
}

SpeedTest measure_batched_decode(const std::shared_ptr<const Model>& model, int64_t batch,
                                 const SpeedOptions& opts) {
  if (opts.reps < 1 || opts.n_gen < 1) throw Error("bench", "batched decoding needs -n >= 1 and -r >= 1");
  constexpr int64_t kPrompt = 16;
  std::mt19937 rng(opts.seed);
  BatchSession bs(model, batch, kPrompt + opts.n_gen, opts.kv_type);
  auto run = [&](int64_t steps) {
    bs.reset();
    for (int64_t s = 0; s < batch; ++s) bs.prefill(s, random_tokens(*model, kPrompt, rng));
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < steps; ++i) bs.step(random_tokens(*model, batch, rng));
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  if (opts.warmup) run(1);
  std::vector<double> secs;
  for (int r = 0; r < opts.reps; ++r) secs.push_back(run(opts.n_gen));
  SpeedTest t = summarise("tg" + std::to_string(opts.n_gen) + "@b" + std::to_string(batch),
                          batch * opts.n_gen, std::move(secs));
  t.batch = batch;
  return t;
}

}  // namespace squish
