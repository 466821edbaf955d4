// Recognising and applying the chat templates of the supported models.
#include "squish/model/chat_template.h"

#include "squish/common/error.h"

namespace squish {

namespace {

// Gemma's template trims message content.
std::string trim(const std::string& s) {
  const char* ws = " \t\n\r";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

// The literal system prompt a ChatML template inserts when there is none, e.g. SmolLM2's
// "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM...<|im_end|>\n' }}".
std::string chatml_default_system(const std::string& src) {
  const std::string open = "<|im_start|>system\n";
  for (size_t p = src.find(open); p != std::string::npos; p = src.find(open, p + 1)) {
    const size_t b = p + open.size();
    const size_t e = src.find("<|im_end|>", b);
    if (e == std::string::npos) break;
    const std::string text = src.substr(b, e - b);
    // A literal only: no Jinja expressions or string concatenation inside.
    if (text.find_first_of("{}'\"+") == std::string::npos) return text;
  }
  return "";
}

}  // namespace

ChatTemplate ChatTemplate::recognise(const std::string& source, const std::string& arch,
                                     const std::string& model_path) {
  ChatTemplate t;
  if (source.find("<|im_start|>") != std::string::npos) {
    t.kind_ = Kind::ChatML;
    t.default_system_ = chatml_default_system(source);
    return t;
  }
  if (source.find("<start_of_turn>") != std::string::npos || (source.empty() && arch == "gemma3")) {
    t.kind_ = Kind::Gemma;
    return t;
  }
  if (source.empty())
    throw Error(model_path, "the model has no chat template (tokenizer.chat_template); run without --chat");
  throw Error(model_path,
              "chat template not supported: squish recognises ChatML (<|im_start|>) and Gemma "
              "(<start_of_turn>) templates; run without --chat");
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) const {
  std::string out;
  if (kind_ == Kind::ChatML) {
    if (!default_system_.empty() && (messages.empty() || messages[0].role != "system"))
      out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
    for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
  // Gemma: a system message becomes a prefix of the first user turn; assistant is "model".
  size_t first = 0;
  std::string prefix;
  if (!messages.empty() && messages[0].role == "system") {
    prefix = trim(messages[0].content) + "\n\n";
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const std::string role = m.role == "assistant" ? "model" : m.role;
    out += "<start_of_turn>" + role + "\n" + (i == first ? prefix : "") + trim(m.content) +
           "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace squish
