// Continuous batching: one thread owns the model and a BatchSession of --parallel slots; every
// step decodes one token for each running request and feeds a chunk of a new request's prompt, in
// a single forward pass. Requests join between steps and leave as soon as they finish or are
// cancelled; beyond the slots a bounded queue waits.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "squish/model/batch_session.h"
#include "squish/model/model.h"
#include "squish/serve/metrics.h"
#include "squish/serve/request_stream.h"

namespace squish::serve {

// Sizes of the scheduler.
struct SchedulerOptions {
  int64_t n_slots = 4;                      // requests decoded together (--parallel)
  int64_t n_ctx = 1024;                     // positions per slot (prompt + generated)
  KVCacheType kv_type = KVCacheType::F32;   // --kv-cache-dtype
  int64_t max_queue = 128;                  // requests waiting for a slot beyond which submit refuses
  int64_t step_tokens = 256;                // rows per forward pass: decode tokens plus prompt chunks
  bool prompt_cache = true;                 // reuse a free slot's cached prefix of a new prompt
};

// The thread that runs every generation.
class Scheduler {
 public:
  Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options, Metrics& metrics);
  // Ends every request and joins the thread.
  ~Scheduler();

  // Queues a prompt; returns null when the queue is full or the server is shutting down.
  std::shared_ptr<RequestStream> submit(std::vector<int32_t> prompt, GenerationParams params);
  // Refuses new requests, ends queued ones, lets running ones finish for up to `timeout` (then
  // ends them with finish_reason "length"), and stops the thread.
  void drain(std::chrono::milliseconds timeout);
  // The live gauges for /metrics and /health.
  SchedulerGauges gauges() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Slot;
  void run();
  bool admit_waiting(std::unique_lock<std::mutex>& lock);
  Slot* slot_for(const std::vector<int32_t>& prompt);
  void step();
  void on_token(Slot& slot, float* logits);
  void finish(Slot& slot, std::string reason, std::string text, std::string error = {});
  void publish_gauges();

  std::shared_ptr<const Model> model_;
  SchedulerOptions options_;
  Metrics& metrics_;
  BatchSession batch_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<int32_t> end_tokens_;  // every end-of-generation id (masked for ignore_eos)

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<RequestStream>> waiting_;
  bool accepting_ = true;
  bool stop_ = false;

  std::atomic<int64_t> busy_{0};
  std::atomic<int64_t> queued_{0};
  std::atomic<size_t> kv_in_use_{0};
  std::thread thread_;
};

}  // namespace squish::serve
