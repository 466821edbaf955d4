// What the HTTP routes share: replies independent of the HTTP library, API errors, the parsing of
// request fields with OpenAI-style 400s, and the loop that relays a generation to the client.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "squish/model/chat_template.h"
#include "squish/model/model.h"
#include "squish/serve/metrics.h"
#include "squish/serve/scheduler.h"

namespace squish::serve {

using json = nlohmann::json;

// A request the server refuses: HTTP status, message, the field at fault ("" for none).
struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& message, std::string param = {})
      : std::runtime_error(message), status(status), param(std::move(param)) {}
  int status;
  std::string param;
};

// Writes one piece of a streamed body; returns false once the client is gone.
using ChunkWriter = std::function<bool(const std::string&)>;

// An answer: a whole body, or (when `stream` is set) a body streamed by `stream`.
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::function<void(const ChunkWriter& write)> stream;
};

// How a route's errors are shaped: OpenAI's {"error": {"message", "type", ...}} or Ollama's {"error": "..."}.
enum class ErrorStyle { OpenAI, Ollama };

// A route: method, path, handler from the request body.
struct Route {
  std::string method;  // "GET" or "POST"
  std::string path;
  ErrorStyle style;
  std::function<Reply(const std::string& body)> handle;
};

// What every handler needs.
struct ServeContext {
  std::shared_ptr<const Model> model;
  std::string model_id;                      // the name clients use (the file's stem)
  std::optional<ChatTemplate> chat_template; // unset when the model's is not supported
  std::string chat_template_problem;         // why it is unset
  Scheduler* scheduler = nullptr;
  Metrics* metrics = nullptr;
  int64_t max_tokens_limit = -1;             // --n-predict: cap on generated tokens (-1: the context)
  int64_t created_unix = 0;                  // server start, seconds since the epoch
};

// The error body for `e` in `style`.
std::string error_body(ErrorStyle style, int status, const std::string& message, const std::string& param);

// The body parsed as a JSON object (400 otherwise).
json parse_object(const std::string& body);

// Typed optional fields of a request object: absent or null gives nothing; a wrong type or a value
// outside [lo, hi] is a 400 naming the field.
std::optional<double> number_field(const json& j, const char* name, double lo, double hi);
std::optional<int64_t> integer_field(const json& j, const char* name, int64_t lo, int64_t hi);
std::optional<bool> bool_field(const json& j, const char* name);
std::optional<std::string> string_field(const json& j, const char* name);
// A stop field: a string or an array of strings (at most 16).
std::vector<std::string> stop_field(const json& j, const char* name);

// The prompt's tokens (with BOS as the model wants, special tokens parsed); 400 when empty or when
// it does not leave room for one generated token in a slot's context.
std::vector<int32_t> tokenize_prompt(const ServeContext& ctx, const std::string& text);
// 400 when any id is outside the vocabulary, or the prompt does not fit (as tokenize_prompt).
void check_prompt_tokens(const ServeContext& ctx, const std::vector<int32_t>& tokens);
// The chat template applied to `messages` (400 when the model has no supported template).
std::string apply_chat_template(const ServeContext& ctx, const std::vector<ChatMessage>& messages);
// A seed for requests that give none.
uint64_t random_seed();
// 400 when max_tokens exceeds what a slot can hold or the --n-predict cap.
int64_t checked_max_tokens(const ServeContext& ctx, std::optional<int64_t> requested);

// Queues a generation (503 when the queue is full or the server is shutting down).
std::shared_ptr<RequestStream> submit_generation(const ServeContext& ctx, std::vector<int32_t> prompt,
                                                 GenerationParams params);
// Relays deltas to `emit` until the last; when emit returns false or client_gone() turns true
// while it waits (the client left) cancels the request and returns false.
bool relay(RequestStream& stream, const std::function<bool(const Delta&)>& emit);
// Waits for the whole generation; throws 503 / 500 ApiError when it ended in an error, and cancels
// the request and throws 499 (nginx's "client closed request") when client_gone() turns true.
Delta await_generation(RequestStream& stream);

// Seconds since the epoch, now.
int64_t unix_now();

}  // namespace squish::serve
