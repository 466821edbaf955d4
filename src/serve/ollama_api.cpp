// The Ollama-compatible API: /api/generate, /api/chat (NDJSON streams), /api/tags, /api/show,
// /api/version, with Ollama's field names and `options`.
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <filesystem>

#include "api.h"
#include "routes.h"

namespace squish::serve {
namespace {

// RFC 3339 UTC time with nanoseconds, as Ollama writes created_at.
std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ns % 1000000000));
  return buf;
}

// Ollama's `options` (temperature 0.8, top_k 40, top_p 0.9 unless given) into generation parameters.
GenerationParams parse_options(const ServeContext& ctx, const json& j) {
  json opts = json::object();
  if (const auto it = j.find("options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw ApiError(400, "'options' must be an object", "options");
    opts = *it;
  }
  GenerationParams p;
  p.sampling.temperature = static_cast<float>(number_field(opts, "temperature", 0, 100).value_or(0.8));
  p.sampling.top_k = static_cast<int32_t>(integer_field(opts, "top_k", 0, 1 << 24).value_or(40));
  p.sampling.top_p = static_cast<float>(number_field(opts, "top_p", 0, 1).value_or(0.9));
  const auto seed = integer_field(opts, "seed", INT64_MIN, INT64_MAX);
  p.sampling.seed = seed ? static_cast<uint64_t>(*seed) : random_seed();
  const int64_t num_predict = integer_field(opts, "num_predict", -2, INT64_MAX).value_or(-1);
  p.max_tokens = checked_max_tokens(ctx, num_predict < 0 ? std::nullopt : std::optional<int64_t>(num_predict));
  if (num_predict == 0) p.max_tokens = 0;
  p.stop = stop_field(opts, "stop");
  return p;
}

// The final NDJSON object's counters (durations in nanoseconds).
void add_final_fields(json& out, const Delta& d, const RequestStream& s, std::chrono::steady_clock::time_point first) {
  using ns = std::chrono::nanoseconds;
  const auto now = std::chrono::steady_clock::now();
  if (first.time_since_epoch().count() == 0) first = now;
  out["done_reason"] = d.finish_reason == "length" ? "length" : "stop";
  out["total_duration"] = std::chrono::duration_cast<ns>(now - s.arrived).count();
  out["load_duration"] = 0;
  out["prompt_eval_count"] = d.prompt_tokens;
  out["prompt_eval_duration"] = std::chrono::duration_cast<ns>(first - s.arrived).count();
  out["eval_count"] = d.completion_tokens;
  out["eval_duration"] = std::chrono::duration_cast<ns>(now - first).count();
}

// Runs a generation for /api/generate (chat = false) or /api/chat and answers it, NDJSON or whole.
Reply answer(const ServeContext& ctx, bool chat, std::vector<int32_t> prompt, GenerationParams params, bool stream_out) {
  if (params.max_tokens == 0) {
    // Ollama answers num_predict 0 with an empty response; nothing to generate.
    Delta d;
    d.prompt_tokens = static_cast<int64_t>(prompt.size());
    d.finish_reason = "length";
    RequestStream s(prompt, params);
    json out = {{"model", ctx.model_id}, {"created_at", rfc3339(std::chrono::system_clock::now())}, {"done", true}};
    if (chat) out["message"] = {{"role", "assistant"}, {"content", ""}};
    else out["response"] = "";
    add_final_fields(out, d, s, {});
    Reply r;
    r.content_type = stream_out ? "application/x-ndjson" : "application/json";
    r.body = out.dump() + (stream_out ? "\n" : "");
    return r;
  }
  std::shared_ptr<RequestStream> stream = submit_generation(ctx, std::move(prompt), std::move(params));
  const std::string name = ctx.model_id;
  auto object = [name, chat](const std::string& text, bool done) {
    json out = {{"model", name}, {"created_at", rfc3339(std::chrono::system_clock::now())}, {"done", done}};
    if (chat) out["message"] = {{"role", "assistant"}, {"content", text}};
    else out["response"] = text;
    return out;
  };
  Reply reply;
  if (!stream_out) {
    const Delta d = await_generation(*stream);
    json out = object(d.text, true);
    add_final_fields(out, d, *stream, {});
    reply.body = out.dump(-1, ' ', false, json::error_handler_t::replace);
    return reply;
  }
  reply.content_type = "application/x-ndjson";
  reply.stream = [stream, object](const ChunkWriter& write) {
    std::chrono::steady_clock::time_point first{};
    relay(*stream, [&](const Delta& d) {
      if (first.time_since_epoch().count() == 0) first = std::chrono::steady_clock::now();
      if (!d.error.empty()) return write(json{{"error", d.error}}.dump() + "\n");
      if (!d.text.empty() && !write(object(d.text, false).dump(-1, ' ', false, json::error_handler_t::replace) + "\n"))
        return false;
      if (!d.done) return true;
      json last = object("", true);
      add_final_fields(last, d, *stream, first);
      return write(last.dump() + "\n");
    });
  };
  return reply;
}

Reply generate(const ServeContext& ctx, const std::string& body) {
  const json j = parse_object(body);
  const std::string prompt = string_field(j, "prompt").value_or("");
  const std::string system = string_field(j, "system").value_or("");
  const bool raw = bool_field(j, "raw").value_or(false);
  const bool stream = bool_field(j, "stream").value_or(true);
  GenerationParams params = parse_options(ctx, j);
  if (prompt.empty()) {
    // Ollama loads the model and answers done_reason "load" for an empty prompt.
    json out = {{"model", ctx.model_id}, {"created_at", rfc3339(std::chrono::system_clock::now())},
                {"response", ""}, {"done", true}, {"done_reason", "load"}};
    Reply r;
    r.body = out.dump();
    return r;
  }
  std::string text = prompt;
  if (!raw) {
    std::vector<ChatMessage> messages;
    if (!system.empty()) messages.push_back({"system", system});
    messages.push_back({"user", prompt});
    text = apply_chat_template(ctx, messages);
  }
  return answer(ctx, /*chat=*/false, tokenize_prompt(ctx, text), std::move(params), stream);
}

Reply chat(const ServeContext& ctx, const std::string& body) {
  const json j = parse_object(body);
  const bool stream = bool_field(j, "stream").value_or(true);
  GenerationParams params = parse_options(ctx, j);
  const std::string text = apply_chat_template(ctx, parse_messages(j, "messages"));
  return answer(ctx, /*chat=*/true, tokenize_prompt(ctx, text), std::move(params), stream);
}

// The model's description shared by /api/tags and /api/show.
json model_details(const ServeContext& ctx) {
  const std::string arch = arch_name(ctx.model->config().arch);
  const bool gguf = std::filesystem::path(ctx.model->path()).extension() == ".gguf";
  return {{"parent_model", ""}, {"format", gguf ? "gguf" : "safetensors"}, {"family", arch},
          {"families", json::array({arch})}, {"parameter_size", ""}, {"quantization_level", ""}};
}

std::string modified_at(const ServeContext& ctx) {
  struct stat st {};
  if (::stat(ctx.model->path().c_str(), &st) != 0) return rfc3339(std::chrono::system_clock::now());
  return rfc3339(std::chrono::system_clock::from_time_t(st.st_mtime));
}

int64_t model_size(const ServeContext& ctx) {
  std::error_code ec;
  const std::filesystem::path p(ctx.model->path());
  if (std::filesystem::is_regular_file(p, ec)) return static_cast<int64_t>(std::filesystem::file_size(p, ec));
  int64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(p, ec))
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  return total;
}

Reply json_reply(const json& j) {
  Reply r;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

}  // namespace

std::vector<Route> ollama_routes(const ServeContext& ctx) {
  std::vector<Route> routes;
  routes.push_back({"POST", "/api/generate", ErrorStyle::Ollama, [&ctx](const std::string& b) { return generate(ctx, b); }});
  routes.push_back({"POST", "/api/chat", ErrorStyle::Ollama, [&ctx](const std::string& b) { return chat(ctx, b); }});
  routes.push_back({"GET", "/api/tags", ErrorStyle::Ollama, [&ctx](const std::string&) {
                      json m = {{"name", ctx.model_id}, {"model", ctx.model_id}, {"modified_at", modified_at(ctx)},
                                {"size", model_size(ctx)}, {"digest", ""}, {"details", model_details(ctx)}};
                      return json_reply({{"models", json::array({m})}});
                    }});
  routes.push_back({"POST", "/api/show", ErrorStyle::Ollama, [&ctx](const std::string& b) {
                      const json j = parse_object(b);
                      const std::string name = string_field(j, "model").value_or(string_field(j, "name").value_or(""));
                      if (name != ctx.model_id && name != ctx.model_id + ":latest")
                        throw ApiError(404, "model '" + name + "' not found");
                      const ModelConfig& c = ctx.model->config();
                      const std::string arch = arch_name(c.arch);
                      json info = {{"general.architecture", arch},
                                   {arch + ".context_length", c.n_ctx_train},
                                   {arch + ".block_count", c.n_layer},
                                   {arch + ".embedding_length", c.n_embd}};
                      return json_reply({{"modelfile", ""}, {"parameters", ""}, {"template", ctx.model->chat_template()},
                                         {"details", model_details(ctx)}, {"model_info", info},
                                         {"modified_at", modified_at(ctx)}, {"capabilities", json::array({"completion"})}});
                    }});
  routes.push_back({"GET", "/api/version", ErrorStyle::Ollama,
                    [](const std::string&) { return json_reply({{"version", "0.1.0"}}); }});
  return routes;
}

}  // namespace squish::serve
