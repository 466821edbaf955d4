// The route tables of each API, and helpers the adapters share.
#pragma once
#include <vector>

#include "api.h"

namespace squish::serve {

// POST /v1/chat/completions, POST /v1/completions, GET /v1/models.
std::vector<Route> openai_routes(const ServeContext& ctx);
// /api/generate, /api/chat, /api/tags, /api/show, /api/version.
std::vector<Route> ollama_routes(const ServeContext& ctx);
// The chat messages of request field `field` (OpenAI and Ollama share the shape); 400 when malformed.
std::vector<ChatMessage> parse_messages(const json& j, const char* field);

}  // namespace squish::serve
