// Shared request handling: field parsing, prompts, submitting and relaying generations.
#include "api.h"

#include <algorithm>
#include <mutex>
#include <random>

#include "client_connection.h"

namespace squish::serve {

std::string error_body(ErrorStyle style, int status, const std::string& message, const std::string& param) {
  // Messages may quote the request's bytes, which need not be UTF-8: replaced, never thrown over.
  const auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  if (style == ErrorStyle::Ollama) return dump(json{{"error", message}});
  const char* type = status == 401   ? "authentication_error"
                     : status == 404 ? "not_found_error"
                     : status == 503 ? "server_overloaded"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  json err = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) err["param"] = param;
  err["code"] = status;
  return dump(json{{"error", err}});
}

json parse_object(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object");
  return j;
}

std::optional<double> number_field(const json& j, const char* name, double lo, double hi) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw ApiError(400, std::string("'") + name + "' must be a number", name);
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi))
    throw ApiError(400, std::string("'") + name + "' must be between " + json(lo).dump() + " and " + json(hi).dump(), name);
  return v;
}

std::optional<int64_t> integer_field(const json& j, const char* name, int64_t lo, int64_t hi) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw ApiError(400, std::string("'") + name + "' must be an integer", name);
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw ApiError(400, std::string("'") + name + "' is out of range", name);
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    throw ApiError(400, std::string("'") + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi), name);
  return v;
}

std::optional<bool> bool_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw ApiError(400, std::string("'") + name + "' must be a boolean", name);
  return it->get<bool>();
}

std::optional<std::string> string_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ApiError(400, std::string("'") + name + "' must be a string", name);
  return it->get<std::string>();
}

std::vector<std::string> stop_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_string()) return {it->get<std::string>()};
  if (!it->is_array() || it->size() > 16)
    throw ApiError(400, std::string("'") + name + "' must be a string or an array of at most 16 strings", name);
  std::vector<std::string> out;
  for (const json& s : *it) {
    if (!s.is_string()) throw ApiError(400, std::string("'") + name + "' must hold strings", name);
    out.push_back(s.get<std::string>());
  }
  return out;
}

void check_prompt_tokens(const ServeContext& ctx, const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw ApiError(400, "the prompt is empty", "prompt");
  const int64_t n_vocab = ctx.model->config().n_vocab;
  for (int32_t id : tokens)
    if (id < 0 || id >= n_vocab)
      throw ApiError(400, "token id " + std::to_string(id) + " is outside the vocabulary", "prompt");
  const int64_t n_ctx = ctx.scheduler->options().n_ctx;
  if (static_cast<int64_t>(tokens.size()) >= n_ctx)
    throw ApiError(400, "the prompt has " + std::to_string(tokens.size()) + " tokens; the context of a slot holds " +
                            std::to_string(n_ctx) + " (prompt plus at least one generated token)",
                   "prompt");
}

std::vector<int32_t> tokenize_prompt(const ServeContext& ctx, const std::string& text) {
  std::vector<int32_t> tokens = ctx.model->tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/true);
  check_prompt_tokens(ctx, tokens);
  return tokens;
}

std::string apply_chat_template(const ServeContext& ctx, const std::vector<ChatMessage>& messages) {
  if (!ctx.chat_template) throw ApiError(400, "this model has no supported chat template: " + ctx.chat_template_problem);
  return ctx.chat_template->apply(messages, /*add_generation_prompt=*/true);
}

uint64_t random_seed() {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> g(m);
  return rng();
}

int64_t checked_max_tokens(const ServeContext& ctx, std::optional<int64_t> requested) {
  const int64_t n_ctx = ctx.scheduler->options().n_ctx;
  const int64_t cap = ctx.max_tokens_limit >= 0 ? std::min(ctx.max_tokens_limit, n_ctx) : n_ctx;
  if (!requested) return ctx.max_tokens_limit >= 0 ? cap : -1;
  if (*requested > cap)
    throw ApiError(400, "max_tokens " + std::to_string(*requested) + " exceeds this server's limit of " + std::to_string(cap),
                   "max_tokens");
  return *requested;
}

std::shared_ptr<RequestStream> submit_generation(const ServeContext& ctx, std::vector<int32_t> prompt,
                                                 GenerationParams params) {
  std::shared_ptr<RequestStream> s = ctx.scheduler->submit(std::move(prompt), std::move(params));
  if (!s) throw ApiError(503, "the server is busy (every slot and the queue are full) or shutting down; retry later");
  return s;
}

namespace {

// client_gone(), asked at most every 250 ms (it polls the connection).
class ClientCheck {
 public:
  bool gone() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return false;
    next_ = now + kInterval;
    return client_gone();
  }

 private:
  static constexpr std::chrono::milliseconds kInterval{250};
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now() + kInterval;
};

}  // namespace

bool relay(RequestStream& stream, const std::function<bool(const Delta&)>& emit) {
  ClientCheck client;
  for (;;) {
    std::optional<Delta> d = stream.pop(std::chrono::milliseconds(250));
    if (client.gone() || (d && !emit(*d))) {
      stream.cancel();
      return false;
    }
    if (d && d->done) return true;
  }
}

Delta await_generation(RequestStream& stream) {
  ClientCheck client;
  Delta all;
  for (;;) {
    std::optional<Delta> d = stream.pop(std::chrono::milliseconds(250));
    if (client.gone()) {
      stream.cancel();  // the scheduler drops it from its slot or the queue at its next step
      throw ApiError(499, "the client closed the connection");
    }
    if (!d) continue;
    all.text += d->text;
    for (TokenLogprob& lp : d->logprobs) all.logprobs.push_back(std::move(lp));
    if (!d->done) continue;
    all.done = true;
    all.finish_reason = d->finish_reason;
    all.error = d->error;
    all.prompt_tokens = d->prompt_tokens;
    all.completion_tokens = d->completion_tokens;
    if (!all.error.empty()) throw ApiError(all.finish_reason == "cancelled" ? 503 : 500, all.error);
    return all;
  }
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace squish::serve
