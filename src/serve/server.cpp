// serve(): routes on cpp-httplib, authentication, limits, request log, /health, /metrics, signals.
#include "squish/serve/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "api.h"
#include "client_connection.h"
#include "routes.h"
#include "squish/arch/config.h"
#include "squish/common/error.h"

namespace squish::serve {
namespace {

using Clock = std::chrono::steady_clock;
thread_local Clock::time_point request_start;  // set per request by the pre-routing handler

ErrorStyle style_for(const std::string& path) {
  return path.rfind("/api/", 0) == 0 ? ErrorStyle::Ollama : ErrorStyle::OpenAI;
}

void set_error(httplib::Response& res, ErrorStyle style, int status, const std::string& message,
               const std::string& param = {}) {
  res.status = status;
  res.set_content(error_body(style, status, message, param), "application/json");
  if (status == 503) res.set_header("Retry-After", "1");
}

// Hands a Reply to httplib: a whole body, or a chunked stream written from this worker thread
// (watching, as the handler did, for its client going away while it waits for tokens).
void send_reply(httplib::Response& res, Reply reply, std::function<bool()> client_closed) {
  res.status = reply.status;
  if (!reply.stream) {
    res.set_content(reply.body, reply.content_type);
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  auto stream = std::make_shared<std::function<void(const ChunkWriter&)>>(std::move(reply.stream));
  res.set_chunked_content_provider(reply.content_type, [stream, client_closed](size_t, httplib::DataSink& sink) {
    const ClientWatch watch(client_closed);
    bool alive = true;
    (*stream)([&](const std::string& chunk) {
      alive = alive && sink.write(chunk.data(), chunk.size());
      return alive;
    });
    if (alive) sink.done();
    return alive;
  });
}

// Runs a route's handler, turning ApiError (and any other failure) into the route's error shape.
void dispatch(const Route& route, const httplib::Request& req, httplib::Response& res) {
  std::function<bool()> client_closed = connection_closed_probe(req);
  try {
    Reply reply = [&] {
      const ClientWatch watch(client_closed);
      return route.handle(req.body);
    }();
    send_reply(res, std::move(reply), std::move(client_closed));
  } catch (const ApiError& e) {
    set_error(res, route.style, e.status, e.what(), e.param);
  } catch (const std::exception& e) {
    set_error(res, route.style, 500, e.what());
  }
}

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

void serve(std::shared_ptr<const Model> model, const ServeOptions& options) {
  block_stop_signals();
  const sigset_t stop_signals = stop_signal_set();
  Metrics metrics;
  Scheduler scheduler(model, options.scheduler, metrics);
  ServeContext ctx;
  ctx.model = model;
  ctx.model_id = options.model_id;
  try {
    ctx.chat_template = ChatTemplate::recognise(model->chat_template(), arch_name(model->config().arch), model->path());
  } catch (const std::exception& e) {
    ctx.chat_template_problem = e.what();
  }
  ctx.scheduler = &scheduler;
  ctx.metrics = &metrics;
  ctx.max_tokens_limit = options.max_tokens_limit;
  ctx.created_unix = unix_now();

  httplib::Server svr;
  // Enough workers for every slot and every queued request, so the queue bound (503) is what
  // limits load rather than connections waiting for a worker.
  const size_t workers = static_cast<size_t>(options.scheduler.n_slots + options.scheduler.max_queue + 8);
  svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  svr.set_payload_max_length(options.max_body_bytes);
  svr.set_keep_alive_timeout(5);
  svr.set_write_timeout(30);
  std::atomic<bool> shutting_down{false};

  svr.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    if (options.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") != "Bearer " + options.api_key) {
      set_error(res, style_for(req.path), 401, "invalid or missing API key (send 'Authorization: Bearer <key>')");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error
    const char* message = res.status == 404   ? "no such endpoint"
                          : res.status == 413 ? "the request body is too large"
                          : res.status == 405 ? "method not allowed"
                                              : "bad request";
    set_error(res, style_for(req.path), res.status, std::string(message) + ": " + req.method + " " + req.path);
  });
  svr.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    metrics.count_request(res.status);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - request_start).count();
    std::fprintf(stderr, "squish serve: %s \"%s %s\" %d %.1f ms\n", req.remote_addr.c_str(), req.method.c_str(),
                 req.path.c_str(), res.status, ms);
  });

  std::vector<Route> routes = openai_routes(ctx);
  for (Route& r : ollama_routes(ctx)) routes.push_back(std::move(r));
  for (const Route& route : routes) {
    auto handler = [&route](const httplib::Request& req, httplib::Response& res) { dispatch(route, req, res); };
    if (route.method == "GET") svr.Get(route.path, handler);
    else svr.Post(route.path, handler);
  }
  svr.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    if (shutting_down) return set_error(res, ErrorStyle::OpenAI, 503, "shutting down");
    const SchedulerGauges g = scheduler.gauges();
    res.set_content(json{{"status", "ok"}, {"slots_idle", g.slots_total - g.slots_busy}, {"slots_processing", g.slots_busy},
                         {"queue_length", g.queue_length}}
                        .dump(),
                    "application/json");
  });
  svr.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(scheduler.gauges()), "text/plain; version=0.0.4");
  });
  svr.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content("squish serve: " + ctx.model_id + "\n", "text/plain");
  });

  if (!svr.bind_to_port(options.host, options.port))
    throw Error(options.host + ":" + std::to_string(options.port), "cannot listen on this address");
  std::fprintf(stderr, "squish serve: %s on http://%s:%d (%lld slots of %lld positions)\n", ctx.model_id.c_str(),
               options.host.c_str(), options.port, static_cast<long long>(options.scheduler.n_slots),
               static_cast<long long>(options.scheduler.n_ctx));
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == 0) return;
    std::fprintf(stderr, "squish serve: signal %d: finishing running requests\n", sig);
    shutting_down = true;
    scheduler.drain(std::chrono::milliseconds(options.shutdown_grace_ms));
    svr.stop();
  });
  svr.listen_after_bind();
  // listen returned without a signal (it failed): wake the waiter so it can be joined.
  if (!shutting_down) pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  std::fprintf(stderr, "squish serve: stopped\n");
}

}  // namespace squish::serve
