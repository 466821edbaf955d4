#include "squish/common/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace squish {
namespace {

// Spins before sleeping: how many pause-loop rounds a worker (about half a millisecond) or the
// caller waits on an atomic before a condition variable. Decoding runs hundreds of short jobs per
// token; a futex wake-up for each costs more than the work.
constexpr int kSpinRounds = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// One round of a spin-wait: a pause, and every kYieldEvery rounds a yield of the core. On an idle
// machine the yield returns at once (the wait still reacts within ~a microsecond); on an
// oversubscribed one it hands the core to the thread being waited for instead of burning the time
// slice (profiled under load ~16 on 2 cores: half of decoding's CPU samples were these spins).
constexpr int kYieldEvery = 64;
inline void spin_round(int i) {
  if (i % kYieldEvery == kYieldEvery - 1) std::this_thread::yield();
  else cpu_relax();
}

// Workers wait on a generation counter (spinning, then sleeping); each job is split into one chunk
// per participant.
class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    stop();
    stopping_.store(false);
    const uint64_t g = generation_.load();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, g] { loop(i, g); });
  }

  void run(const std::function<void(int)>& job) {
    job_ = &job;
    error_ = nullptr;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> g(mu_);  // a worker about to sleep sees the new generation
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    try {
      job(0);
    } catch (...) {
      record(std::current_exception());
    }
    for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
      if (i < kSpinRounds) {
        spin_round(i);
      } else {
        std::unique_lock<std::mutex> lk(mu_);
        done_cv_.wait(lk, [this] { return pending_.load(std::memory_order_acquire) == 0; });
      }
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void record(std::exception_ptr e) {
    std::lock_guard<std::mutex> g(error_mu_);
    if (!error_) error_ = e;
  }

  // seen: the generation when this worker was created (earlier jobs are not its business).
  void loop(int index, uint64_t seen) {
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (int i = 0; g == seen && i < kSpinRounds && !stopping_.load(std::memory_order_relaxed); ++i) {
        spin_round(i);
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stopping_.load() || generation_.load() != seen; });
        g = generation_.load(std::memory_order_acquire);
      }
      if (stopping_.load()) return;
      seen = g;
      try {
        (*job_)(index);
      } catch (...) {
        record(std::current_exception());
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(mu_);  // the caller may be asleep on done_cv_
        done_cv_.notify_one();
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stopping_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_, error_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

ThreadPool& pool() {
  static ThreadPool p(default_threads());
  return p;
}

std::mutex& run_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  std::lock_guard<std::mutex> g(run_mutex());
  pool().resize(n <= 0 ? default_threads() : n);
}

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), units));
  if (threads <= 1) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> lk(run_mutex(), std::try_to_lock);
  if (!lk.owns_lock()) {  // nested call from inside a job: run serially
    fn(0, n);
    return;
  }
  const int64_t per = (units + threads - 1) / threads;
  pool().run([&](int t) {
    if (t >= threads) return;
    const int64_t b = std::min(n, t * per * grain);
    const int64_t e = std::min(n, (t + 1) * per * grain);
    if (b < e) fn(b, e);
  });
}

}  // namespace squish
