// Metrics: Prometheus text exposition (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "squish/serve/metrics.h"

#include <fmt/format.h>

namespace squish::serve {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t b = 0;
  while (b < bounds_.size() && value > bounds_[b]) ++b;
  std::lock_guard<std::mutex> g(mutex_);
  ++counts_[b];
  sum_ += value;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::lock_guard<std::mutex> g(mutex_);
  std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < bounds_.size(); ++b) {
    cumulative += counts_[b];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[b], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
  return out;
}

static std::vector<double> latency_bounds() {
  return {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60};
}

Metrics::Metrics()
    : time_to_first_token(latency_bounds()), inter_token_latency(latency_bounds()), request_duration(latency_bounds()) {}

void Metrics::count_request(int status) {
  std::lock_guard<std::mutex> g(mutex_);
  ++requests_by_status_[status];
}

// One counter or gauge with its HELP and TYPE lines.
static std::string scalar(const std::string& name, const char* type, const std::string& help, double value) {
  return fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

std::string Metrics::render(const SchedulerGauges& gauges) const {
  std::string out = "# HELP squish_requests_total HTTP requests answered, by status code\n"
                    "# TYPE squish_requests_total counter\n";
  {
    std::lock_guard<std::mutex> g(mutex_);
    for (const auto& [status, n] : requests_by_status_)
      out += fmt::format("squish_requests_total{{status=\"{}\"}} {}\n", status, n);
  }
  out += scalar("squish_prompt_tokens_total", "counter", "Prompt tokens evaluated", static_cast<double>(prompt_tokens.load()));
  out += scalar("squish_prompt_tokens_cached_total", "counter", "Prompt tokens reused from a slot's cache",
                static_cast<double>(prompt_tokens_cached.load()));
  out += scalar("squish_generated_tokens_total", "counter", "Tokens generated", static_cast<double>(generated_tokens.load()));
  out += time_to_first_token.render("squish_time_to_first_token_seconds", "Time from a request's arrival to its first token");
  out += inter_token_latency.render("squish_inter_token_latency_seconds", "Time between consecutive tokens of one request");
  out += request_duration.render("squish_request_duration_seconds", "Time from a request's arrival to its last token");
  out += scalar("squish_slots_total", "gauge", "Decoding slots (--parallel)", static_cast<double>(gauges.slots_total));
  out += scalar("squish_slots_busy", "gauge", "Slots serving a request", static_cast<double>(gauges.slots_busy));
  out += scalar("squish_queue_length", "gauge", "Requests waiting for a slot", static_cast<double>(gauges.queue_length));
  out += scalar("squish_kv_cache_bytes_allocated", "gauge", "Bytes allocated for the KV caches",
                static_cast<double>(gauges.kv_cache_bytes_allocated));
  out += scalar("squish_kv_cache_bytes_in_use", "gauge", "Bytes of the KV caches holding positions",
                static_cast<double>(gauges.kv_cache_bytes_in_use));
  return out;
}

}  // namespace squish::serve
