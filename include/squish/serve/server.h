// `squish serve`: an HTTP server (cpp-httplib) with the OpenAI and Ollama APIs in front of the
// continuous-batching scheduler, plus /health and /metrics.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "squish/model/model.h"
#include "squish/serve/scheduler.h"

namespace squish::serve {

// Everything the server is configured with.
struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;                       // empty: no authentication
  std::string model_id;                      // the name clients see (the model file's stem)
  SchedulerOptions scheduler;
  int64_t max_tokens_limit = -1;             // --n-predict: cap on generated tokens (-1: the context)
  size_t max_body_bytes = 1 << 20;           // larger request bodies get 413
  int64_t shutdown_grace_ms = 30000;         // SIGTERM / SIGINT: how long running streams may finish
};

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts later, so that serve()
// alone receives them; call it before anything starts threads (the model's worker pool).
void block_stop_signals();

// Serves `model` until SIGINT or SIGTERM (then refuses new requests, lets running ones finish and
// returns). Throws squish::Error when the address cannot be bound.
void serve(std::shared_ptr<const Model> model, const ServeOptions& options);

}  // namespace squish::serve
