// Fuzzes chat-template recognition and rendering: the input holds the template source, then the
// messages, separated by NUL bytes (role, content, role, content ...); the first byte picks the
// architecture and add_generation_prompt.
#include "fuzz_support.h"

#include <string_view>
#include <vector>

#include "squish/model/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint32_t mode = squish::fuzz::take_u8(data, size);
  static const char* const kArch[] = {"llama", "gemma3", "qwen2", "gemma2"};
  std::vector<std::string> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (;;) {
    const size_t nul = rest.find('\0');
    parts.emplace_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) break;
    rest.remove_prefix(nul + 1);
  }
  squish::fuzz::expect_clean([&] {
    const auto t = squish::ChatTemplate::recognise(parts[0], kArch[mode % 4], "fuzz.gguf");
    std::vector<squish::ChatMessage> messages;
    for (size_t i = 1; i + 1 < parts.size(); i += 2) messages.push_back({parts[i], parts[i + 1]});
    (void)t.apply(messages, mode & 0x80);
  });
  return 0;
}
