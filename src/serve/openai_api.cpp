// The OpenAI-compatible API: /v1/chat/completions, /v1/completions, /v1/models.
#include <atomic>

#include "api.h"
#include "routes.h"

namespace squish::serve {
namespace {

// Fields shared by chat and text completions.
struct OpenAIRequest {
  GenerationParams params;
  bool stream = false;
  bool include_usage = false;
};

OpenAIRequest parse_common(const ServeContext& ctx, const json& j) {
  OpenAIRequest r;
  if (const auto n = integer_field(j, "n", 1, 128); n && *n != 1)
    throw ApiError(400, "only n = 1 is supported", "n");
  SamplerParams& sp = r.params.sampling;
  sp.temperature = static_cast<float>(number_field(j, "temperature", 0, 2).value_or(1.0));
  sp.top_p = static_cast<float>(number_field(j, "top_p", 0, 1).value_or(1.0));
  sp.top_k = static_cast<int32_t>(integer_field(j, "top_k", 0, 1 << 24).value_or(0));
  const auto seed = integer_field(j, "seed", INT64_MIN, INT64_MAX);
  sp.seed = seed ? static_cast<uint64_t>(*seed) : random_seed();
  number_field(j, "presence_penalty", -2, 2);   // accepted, not applied
  number_field(j, "frequency_penalty", -2, 2);  // accepted, not applied
  std::optional<int64_t> max_tokens = integer_field(j, "max_completion_tokens", 1, INT64_MAX);
  if (!max_tokens) max_tokens = integer_field(j, "max_tokens", 1, INT64_MAX);
  r.params.max_tokens = checked_max_tokens(ctx, max_tokens);
  r.params.stop = stop_field(j, "stop");
  r.params.ignore_eos = bool_field(j, "ignore_eos").value_or(false);  // llama-server's extension
  r.params.cache_prompt = bool_field(j, "cache_prompt").value_or(true);  // likewise
  r.stream = bool_field(j, "stream").value_or(false);
  if (const auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw ApiError(400, "'stream_options' must be an object", "stream_options");
    r.include_usage = bool_field(*it, "include_usage").value_or(false);
  }
  return r;
}

// The text of a message's content: a string, or an array of {"type": "text", "text": ...} parts.
std::string message_text(const json& content) {
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw ApiError(400, "a message's 'content' must be a string or an array of parts", "messages");
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      throw ApiError(400, "only text content parts are supported", "messages");
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

std::vector<ChatMessage> parse_messages(const json& j, const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || !it->is_array() || it->empty())
    throw ApiError(400, std::string("'") + field + "' must be a non-empty array of messages", field);
  std::vector<ChatMessage> messages;
  for (const json& m : *it) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw ApiError(400, "every message needs a string 'role'", field);
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant")
      throw ApiError(400, "unsupported message role '" + role + "'", field);
    messages.push_back({role, message_text(m.contains("content") ? m["content"] : json())});
  }
  return messages;
}

namespace {

std::string next_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  return std::string(prefix) + std::to_string(unix_now()) + "-" + std::to_string(++counter);
}

json usage_json(const Delta& d) {
  return {{"prompt_tokens", d.prompt_tokens}, {"completion_tokens", d.completion_tokens},
          {"total_tokens", d.prompt_tokens + d.completion_tokens}};
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(c);
  return b;
}

// Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [...]}]}.
json chat_logprobs(const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const TokenLogprob& lp : lps) {
    json top = json::array();
    for (const auto& [tok, l] : lp.top) top.push_back({{"token", tok}, {"logprob", l}, {"bytes", bytes_of(tok)}});
    content.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", bytes_of(lp.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

// Legacy completion logprobs: parallel arrays; text_offset counts from `offset` in the text.
json completion_logprobs(const std::vector<TokenLogprob>& lps, size_t offset) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
  for (const TokenLogprob& lp : lps) {
    tokens.push_back(lp.token);
    token_logprobs.push_back(lp.logprob);
    json alternatives = json::object();
    for (const auto& [tok, l] : lp.top) alternatives[tok] = l;
    top.push_back(alternatives);
    offsets.push_back(offset);
    offset += lp.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

std::string sse(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

// The finish_reason clients see (a cancelled stream has nobody left to see it).
std::string visible_reason(const Delta& d) { return d.finish_reason == "length" ? "length" : "stop"; }

// Runs a generation and answers it, streamed or whole; `chat` picks the response shapes.
Reply answer(const ServeContext& ctx, bool chat, std::vector<int32_t> prompt, OpenAIRequest r) {
  std::shared_ptr<RequestStream> stream = submit_generation(ctx, std::move(prompt), r.params);
  const std::string id = next_id(chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = unix_now();
  const std::string object = chat ? "chat.completion" : "text_completion";
  const bool want_logprobs = r.params.top_logprobs >= 0;
  Reply reply;
  if (!r.stream) {
    const Delta d = await_generation(*stream);
    json choice = {{"index", 0}, {"finish_reason", visible_reason(d)}, {"logprobs", nullptr}};
    if (chat) choice["message"] = {{"role", "assistant"}, {"content", d.text}};
    else choice["text"] = d.text;
    if (want_logprobs) choice["logprobs"] = chat ? chat_logprobs(d.logprobs) : completion_logprobs(d.logprobs, 0);
    reply.body = json{{"id", id}, {"object", object}, {"created", created}, {"model", ctx.model_id},
                      {"choices", json::array({choice})}, {"usage", usage_json(d)}}
                     .dump(-1, ' ', false, json::error_handler_t::replace);
    return reply;
  }
  reply.content_type = "text/event-stream";
  const std::string name = ctx.model_id;
  reply.stream = [stream, id, created, name, chat, want_logprobs, include_usage = r.include_usage](const ChunkWriter& write) {
    const std::string chunk_object = chat ? "chat.completion.chunk" : "text_completion";
    auto chunk = [&](json choice) {
      json c = {{"id", id}, {"object", chunk_object}, {"created", created}, {"model", name},
                {"choices", json::array({std::move(choice)})}};
      if (include_usage) c["usage"] = nullptr;
      return c;
    };
    if (chat && !write(sse(chunk({{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                  {"logprobs", nullptr}, {"finish_reason", nullptr}})))) {
      stream->cancel();
      return;
    }
    size_t offset = 0;
    const bool completed = relay(*stream, [&](const Delta& d) {
      if (!d.error.empty()) {
        const int status = d.finish_reason == "cancelled" ? 503 : 500;
        return write(sse(json::parse(error_body(ErrorStyle::OpenAI, status, d.error, ""))));
      }
      if (!d.text.empty() || !d.logprobs.empty() || d.done) {
        json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
        if (chat) choice["delta"] = d.text.empty() ? json::object() : json{{"content", d.text}};
        else choice["text"] = d.text;
        if (want_logprobs) choice["logprobs"] = chat ? chat_logprobs(d.logprobs) : completion_logprobs(d.logprobs, offset);
        if (d.done) choice["finish_reason"] = visible_reason(d);
        offset += d.text.size();
        if (!write(sse(chunk(std::move(choice))))) return false;
      }
      if (d.done && include_usage) {
        json c = {{"id", id}, {"object", chunk_object}, {"created", created}, {"model", name},
                  {"choices", json::array()}, {"usage", usage_json(d)}};
        if (!write(sse(c))) return false;
      }
      return true;
    });
    if (completed) write("data: [DONE]\n\n");
  };
  return reply;
}

Reply chat_completions(const ServeContext& ctx, const std::string& body) {
  const json j = parse_object(body);
  OpenAIRequest r = parse_common(ctx, j);
  if (bool_field(j, "logprobs").value_or(false))
    r.params.top_logprobs = static_cast<int>(integer_field(j, "top_logprobs", 0, 20).value_or(0));
  else if (integer_field(j, "top_logprobs", 0, 20))
    throw ApiError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
  const std::string text = apply_chat_template(ctx, parse_messages(j, "messages"));
  return answer(ctx, /*chat=*/true, tokenize_prompt(ctx, text), std::move(r));
}

Reply completions(const ServeContext& ctx, const std::string& body) {
  const json j = parse_object(body);
  OpenAIRequest r = parse_common(ctx, j);
  if (const auto lp = integer_field(j, "logprobs", 0, 5)) r.params.top_logprobs = static_cast<int>(*lp);
  if (bool_field(j, "echo").value_or(false)) throw ApiError(400, "'echo' is not supported", "echo");
  const auto it = j.find("prompt");
  std::vector<int32_t> prompt;
  if (it == j.end() || it->is_null()) throw ApiError(400, "'prompt' is required", "prompt");
  json p = *it;
  if (p.is_array() && p.size() == 1 && p[0].is_string()) p = p[0];
  if (p.is_string()) {
    prompt = tokenize_prompt(ctx, p.get<std::string>());
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    for (const json& t : p) {
      if (!t.is_number_integer()) throw ApiError(400, "a token-id prompt must hold integers only", "prompt");
      const int64_t id = t.get<int64_t>();
      prompt.push_back(id < INT32_MIN || id > INT32_MAX ? -1 : static_cast<int32_t>(id));
    }
    check_prompt_tokens(ctx, prompt);
  } else {
    throw ApiError(400, "'prompt' must be a string, one string in an array, or an array of token ids", "prompt");
  }
  return answer(ctx, /*chat=*/false, std::move(prompt), std::move(r));
}

}  // namespace

std::vector<Route> openai_routes(const ServeContext& ctx) {
  std::vector<Route> routes;
  routes.push_back({"POST", "/v1/chat/completions", ErrorStyle::OpenAI,
                    [&ctx](const std::string& body) { return chat_completions(ctx, body); }});
  routes.push_back({"POST", "/v1/completions", ErrorStyle::OpenAI,
                    [&ctx](const std::string& body) { return completions(ctx, body); }});
  routes.push_back({"GET", "/v1/models", ErrorStyle::OpenAI, [&ctx](const std::string&) {
                      json model = {{"id", ctx.model_id}, {"object", "model"}, {"created", ctx.created_unix},
                                    {"owned_by", "squish"}};
                      Reply r;
                      r.body = json{{"object", "list"}, {"data", json::array({model})}}.dump();
                      return r;
                    }});
  return routes;
}

}  // namespace squish::serve
