// Fuzzes the serve layer's request parsing (the part independent of a loaded model): the body as a
// JSON object, the OpenAI / Ollama sampling fields with their ranges, stop lists, chat messages, and
// the ChatML rendering of the messages. An ApiError (a 400 to the client) is a clean refusal.
#include "fuzz_support.h"

#include <climits>

#include "serve/api.h"
#include "serve/routes.h"

namespace sv = squish::serve;

namespace {

// The fields parse_common / parse_options read, with their ranges.
void parse_fields(const sv::json& j) {
  (void)sv::integer_field(j, "n", 1, 128);
  (void)sv::number_field(j, "temperature", 0, 2);
  (void)sv::number_field(j, "top_p", 0, 1);
  (void)sv::integer_field(j, "top_k", 0, 1 << 24);
  (void)sv::integer_field(j, "seed", INT64_MIN, INT64_MAX);
  (void)sv::number_field(j, "presence_penalty", -2, 2);
  (void)sv::integer_field(j, "max_tokens", 1, INT64_MAX);
  (void)sv::integer_field(j, "num_predict", -2, INT64_MAX);
  (void)sv::stop_field(j, "stop");
  (void)sv::bool_field(j, "stream");
  (void)sv::string_field(j, "prompt");
  if (const auto it = j.find("options"); it != j.end() && it->is_object()) parse_fields(*it);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto chatml = squish::ChatTemplate::recognise("{{ '<|im_start|>' }}", "llama", "fuzz.gguf");
  const std::string body(reinterpret_cast<const char*>(data), size);
  squish::fuzz::expect_clean([&] {
    try {
      const sv::json j = sv::parse_object(body);
      parse_fields(j);
      (void)chatml.apply(sv::parse_messages(j, "messages"), true);
      (void)sv::error_body(sv::ErrorStyle::OpenAI, 400, body, "messages");
    } catch (const sv::ApiError& e) {
      if (e.status < 400 || e.status > 599) std::abort();
      (void)sv::error_body(sv::ErrorStyle::Ollama, e.status, e.what(), e.param);
    }
  });
  return 0;
}
