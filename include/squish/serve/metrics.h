// Server metrics in Prometheus' text exposition format: counters, gauges and histograms.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace squish::serve {

// A cumulative histogram with fixed upper bounds (seconds), thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  // Records one observation.
  void observe(double value);
  // The Prometheus lines for metric `name` (bucket, sum, count).
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Live state the scheduler reports when /metrics is read.
struct SchedulerGauges {
  int64_t slots_total = 0;
  int64_t slots_busy = 0;
  int64_t queue_length = 0;
  size_t kv_cache_bytes_allocated = 0;
  size_t kv_cache_bytes_in_use = 0;  // the share of the caches holding positions
};

// Every metric the server exports.
class Metrics {
 public:
  Metrics();
  // Counts one finished HTTP request with its status code.
  void count_request(int status);
  std::atomic<uint64_t> prompt_tokens{0};     // prompt tokens evaluated
  std::atomic<uint64_t> prompt_tokens_cached{0};  // prompt tokens whose cache a slot still held
  std::atomic<uint64_t> generated_tokens{0};  // tokens generated
  Histogram time_to_first_token;              // seconds from arrival to the first token
  Histogram inter_token_latency;              // seconds between a request's consecutive tokens
  Histogram request_duration;                 // seconds from arrival to the last token
  // The whole exposition text.
  std::string render(const SchedulerGauges& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<int, uint64_t> requests_by_status_;
};

}  // namespace squish::serve
