// Scheduler: the step loop of continuous batching over a BatchSession.
#include "squish/serve/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "squish/serve/text_stream.h"

namespace squish::serve {

using Clock = RequestStream::Clock;

namespace {

// How many leading tokens a and b share.
size_t shared_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  return static_cast<size_t>(std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first - a.begin());
}

}  // namespace

// One running request and where it stands.
struct Scheduler::Slot {
  int64_t index = 0;
  std::shared_ptr<RequestStream> request;  // null: free
  size_t prefilled = 0;                    // prompt tokens already in the cache
  std::vector<int32_t> cached;             // the tokens the slot's cache holds, in order
  int32_t last_token = -1;                 // the token to feed next (decode phase)
  int64_t generated = 0;                   // tokens sampled
  std::optional<Sampler> sampler;
  std::optional<TextStream> text;
  std::vector<TokenLogprob> logprobs;  // not yet sent
  Clock::time_point last_token_time;
  bool prefilling() const { return prefilled < request->prompt.size(); }
};

Scheduler::Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options, Metrics& metrics)
    : model_(std::move(model)), options_(options), metrics_(metrics),
      batch_(model_, options.n_slots, options.n_ctx, options.kv_type) {
  const Tokenizer& tok = model_->tokenizer();
  for (int32_t id = 0; id < tok.vocab_size(); ++id)
    if (tok.is_end_of_generation(id)) end_tokens_.push_back(id);
  for (int64_t s = 0; s < options_.n_slots; ++s) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->index = s;
  }
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> g(mutex_);
    accepting_ = false;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<RequestStream> Scheduler::submit(std::vector<int32_t> prompt, GenerationParams params) {
  auto stream = std::make_shared<RequestStream>(std::move(prompt), std::move(params));
  {
    std::lock_guard<std::mutex> g(mutex_);
    if (!accepting_ || static_cast<int64_t>(waiting_.size()) >= options_.max_queue) return nullptr;
    waiting_.push_back(stream);
    queued_ = static_cast<int64_t>(waiting_.size());
  }
  wake_.notify_all();
  return stream;
}

void Scheduler::drain(std::chrono::milliseconds timeout) {
  std::deque<std::shared_ptr<RequestStream>> dropped;
  {
    std::lock_guard<std::mutex> g(mutex_);
    accepting_ = false;
    dropped.swap(waiting_);
    queued_ = 0;
  }
  for (auto& r : dropped) {
    Delta d;
    d.done = true;
    d.finish_reason = "cancelled";
    d.error = "the server is shutting down";
    r->push(std::move(d));
  }
  const auto deadline = Clock::now() + timeout;
  while (busy_ > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    std::lock_guard<std::mutex> g(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SchedulerGauges Scheduler::gauges() const {
  SchedulerGauges g;
  g.slots_total = options_.n_slots;
  g.slots_busy = busy_;
  g.queue_length = queued_;
  g.kv_cache_bytes_allocated = batch_.kv_cache_bytes();
  g.kv_cache_bytes_in_use = kv_in_use_;
  return g;
}

void Scheduler::publish_gauges() {
  int64_t busy = 0, positions = 0;
  for (const auto& s : slots_)
    if (s->request) {
      ++busy;
      positions += batch_.n_past(s->index);
    }
  busy_ = busy;
  const double share = static_cast<double>(positions) / static_cast<double>(options_.n_slots * options_.n_ctx);
  kv_in_use_ = static_cast<size_t>(share * static_cast<double>(batch_.kv_cache_bytes()));
}

bool Scheduler::admit_waiting(std::unique_lock<std::mutex>& lock) {
  // Requests whose client left while they waited leave the queue now, freeing their places.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (!(*it)->cancelled()) { ++it; continue; }
    Delta d;
    d.done = true;
    d.finish_reason = "cancelled";
    d.prompt_tokens = static_cast<int64_t>((*it)->prompt.size());
    (*it)->push(std::move(d));
    it = waiting_.erase(it);
  }
  while (!waiting_.empty()) {
    Slot* s = slot_for(waiting_.front()->prompt);
    if (!s) break;
    std::shared_ptr<RequestStream> r = std::move(waiting_.front());
    waiting_.pop_front();
    if (r->cancelled()) continue;
    // The longest prefix of the prompt the slot still holds stays in its cache, or, where another
    // slot (running or free) holds a longer one, that slot's positions are copied: all but the
    // last prompt token at most (its logits give the first token).
    size_t keep = 0;
    Slot* from = nullptr;
    if (options_.prompt_cache && r->params.cache_prompt && !r->prompt.empty()) {
      const size_t most = r->prompt.size() - 1;
      keep = std::min(shared_prefix(s->cached, r->prompt), most);
      for (auto& o : slots_) {
        const size_t n = o.get() == s ? 0 : std::min(shared_prefix(o->cached, r->prompt), most);
        if (n > keep) keep = n, from = o.get();
      }
    }
    if (from) {
      batch_.copy_prefix(from->index, s->index, static_cast<int64_t>(keep));
      s->cached.assign(r->prompt.begin(), r->prompt.begin() + static_cast<std::ptrdiff_t>(keep));
    } else {
      batch_.truncate(s->index, static_cast<int64_t>(keep));
      s->cached.resize(keep);
    }
    metrics_.prompt_tokens_cached += keep;
    s->request = std::move(r);
    s->prefilled = keep;
    s->generated = 0;
      s->last_token = -1;
    s->sampler.emplace(s->request->params.sampling);
    s->text.emplace(s->request->params.stop);
    s->logprobs.clear();
  }
  int64_t busy = 0;
  for (const auto& s : slots_) busy += s->request != nullptr;
  queued_ = static_cast<int64_t>(waiting_.size());
  busy_ = busy;  // before the lock is released, so drain() sees admitted requests as running
  return busy > 0;
}

Scheduler::Slot* Scheduler::slot_for(const std::vector<int32_t>& prompt) {
  Slot* best = nullptr;
  size_t best_common = 0;
  for (auto& s : slots_) {
    if (s->request) continue;
    const size_t common = shared_prefix(s->cached, prompt);
    if (!best || common > best_common) {
      best = s.get();
      best_common = common;
    }
  }
  return best;
}

void Scheduler::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      bool running = admit_waiting(lock);
      while (!running && !stop_) {
        publish_gauges();
        wake_.wait(lock);
        running = admit_waiting(lock);
      }
      if (stop_) {
        lock.unlock();
        for (auto& s : slots_)
          if (s->request) finish(*s, "length", s->text->flush());
        publish_gauges();
        return;
      }
    }
    step();
    publish_gauges();
  }
}

void Scheduler::step() {
  for (auto& s : slots_)
    if (s->request && s->request->cancelled()) finish(*s, "cancelled", {});
  // Decode tokens first (every running stream advances each step), then prompt chunks with the rest.
  std::vector<BatchSession::SeqTokens> parts;
  std::vector<Slot*> owners;
  int64_t budget = options_.step_tokens;
  for (auto& s : slots_)
    if (s->request && !s->prefilling()) {
      parts.push_back({s->index, std::span<const int32_t>(&s->last_token, 1)});
      owners.push_back(s.get());
      --budget;
    }
  for (auto& s : slots_) {
    if (!s->request || !s->prefilling() || budget <= 0) continue;
    const auto& prompt = s->request->prompt;
    const size_t n = std::min<size_t>(static_cast<size_t>(budget), prompt.size() - s->prefilled);
    parts.push_back({s->index, std::span<const int32_t>(prompt).subspan(s->prefilled, n)});
    owners.push_back(s.get());
    budget -= static_cast<int64_t>(n);
  }
  if (parts.empty()) return;
  std::vector<float> logits;
  try {
    logits = batch_.advance(parts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "squish serve: error: %s\n", e.what());
    for (Slot* s : owners) {
      s->cached.clear();  // what the failed pass left in the cache is unknown
      batch_.reset(s->index);
      finish(*s, "stop", {}, e.what());
    }
    return;
  }
  const size_t V = static_cast<size_t>(model_->config().n_vocab);
  for (size_t i = 0; i < owners.size(); ++i) {
    Slot& s = *owners[i];
    s.cached.insert(s.cached.end(), parts[i].tokens.begin(), parts[i].tokens.end());
    if (s.prefilling()) {
      s.prefilled += parts[i].tokens.size();
      metrics_.prompt_tokens += parts[i].tokens.size();
      if (s.prefilling()) continue;  // more chunks to come
    }
    on_token(s, logits.data() + i * V);
  }
}

// The chosen token's log-probability and the `top` best alternatives, under log-softmax(logits).
static TokenLogprob token_logprob(const Tokenizer& tok, std::span<const float> logits, int32_t id, int top) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x - mx));
  const float log_z = mx + static_cast<float>(std::log(sum));
  TokenLogprob lp;
  lp.token = tok.token_to_piece(id);
  lp.logprob = logits[static_cast<size_t>(id)] - log_z;
  if (top > 0) {
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    const size_t k = std::min(ids.size(), static_cast<size_t>(top));
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
      return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
             (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
    });
    for (size_t i = 0; i < k; ++i)
      lp.top.emplace_back(tok.token_to_piece(ids[i]), logits[static_cast<size_t>(ids[i])] - log_z);
  }
  return lp;
}

void Scheduler::on_token(Slot& s, float* row) {
  const Tokenizer& tok = model_->tokenizer();
  const std::span<const float> logits(row, static_cast<size_t>(model_->config().n_vocab));
  if (s.request->params.ignore_eos)
    for (int32_t id : end_tokens_)
      if (id < model_->config().n_vocab) row[id] = -INFINITY;
  const int32_t id = s.sampler->sample(logits);
  const auto now = Clock::now();
  if (s.generated == 0)
    metrics_.time_to_first_token.observe(std::chrono::duration<double>(now - s.request->arrived).count());
  else
    metrics_.inter_token_latency.observe(std::chrono::duration<double>(now - s.last_token_time).count());
  s.last_token_time = now;
  if (tok.is_end_of_generation(id)) {
    finish(s, "stop", s.text->flush());
    return;
  }
  ++s.generated;
  ++metrics_.generated_tokens;
  if (s.request->params.top_logprobs >= 0)
    s.logprobs.push_back(token_logprob(tok, logits, id, s.request->params.top_logprobs));
  std::string out = s.text->push(tok.is_special(id) ? std::string() : tok.token_to_piece(id));
  if (s.text->stopped()) {
    finish(s, "stop", std::move(out));
    return;
  }
  const int64_t max_tokens = s.request->params.max_tokens;
  if ((max_tokens >= 0 && s.generated >= max_tokens) || batch_.n_past(s.index) >= options_.n_ctx) {
    finish(s, "length", out + s.text->flush());
    return;
  }
  if (!out.empty() || !s.logprobs.empty()) {
    Delta d;
    d.text = std::move(out);
    d.logprobs = std::move(s.logprobs);
    s.logprobs.clear();
    s.request->push(std::move(d));
  }
  s.last_token = id;
}

void Scheduler::finish(Slot& s, std::string reason, std::string text, std::string error) {
  Delta d;
  d.text = std::move(text);
  d.logprobs = std::move(s.logprobs);
  s.logprobs.clear();
  d.done = true;
  d.finish_reason = std::move(reason);
  d.error = std::move(error);
  d.prompt_tokens = static_cast<int64_t>(s.request->prompt.size());
  d.completion_tokens = s.generated;
  if (d.finish_reason != "cancelled")
    metrics_.request_duration.observe(std::chrono::duration<double>(Clock::now() - s.request->arrived).count());
  s.request->push(std::move(d));
  s.request.reset();
}

}  // namespace squish::serve
