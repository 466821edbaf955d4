// One request's generation as seen from both sides: the parameters the HTTP handler sets, the
// pieces of output the scheduler pushes, and a cancel flag the handler raises when its client
// goes away.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "squish/model/sampler.h"

namespace squish::serve {

// What to generate for a prompt.
struct GenerationParams {
  SamplerParams sampling;
  int64_t max_tokens = -1;         // -1: until the context is full
  std::vector<std::string> stop;   // stop sequences (not included in the output)
  int top_logprobs = -1;           // -1: no log-probabilities; >= 0: chosen token's plus this many alternatives
  bool ignore_eos = false;         // never sample an end-of-generation token (fixed output lengths)
  bool cache_prompt = true;        // may reuse a slot's cached prefix of the prompt (llama-server's field)
};

// The log-probability of one generated token (under the model's untempered distribution).
struct TokenLogprob {
  std::string token;
  float logprob = 0.f;
  std::vector<std::pair<std::string, float>> top;  // the most likely alternatives, best first
};

// A piece of output pushed by the scheduler; the last one has `done` set.
struct Delta {
  std::string text;
  std::vector<TokenLogprob> logprobs;  // one per token generated since the previous delta
  bool done = false;
  std::string finish_reason;  // "stop" (end token or stop sequence), "length", "cancelled"
  std::string error;          // set when generation failed
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// The channel between one HTTP handler and the scheduler.
class RequestStream {
 public:
  using Clock = std::chrono::steady_clock;
  RequestStream(std::vector<int32_t> prompt, GenerationParams params)
      : prompt(std::move(prompt)), params(std::move(params)) {}

  const std::vector<int32_t> prompt;
  const GenerationParams params;
  const Clock::time_point arrived = Clock::now();

  // Scheduler side: appends a delta and wakes the reader.
  void push(Delta d) {
    {
      std::lock_guard<std::mutex> g(mutex_);
      deltas_.push_back(std::move(d));
    }
    cv_.notify_all();
  }
  // Handler side: the next delta, or nothing if none came within `timeout`.
  std::optional<Delta> pop(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mutex_);
    if (!cv_.wait_for(lk, timeout, [&] { return !deltas_.empty(); })) return std::nullopt;
    Delta d = std::move(deltas_.front());
    deltas_.pop_front();
    return d;
  }
  // Handler side: the client is gone; the scheduler drops the request at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Delta> deltas_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace squish::serve
