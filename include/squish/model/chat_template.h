// Chat templates: the GGUF's tokenizer.chat_template recognised as one of the known formats
// (ChatML as in SmolLM2 / Qwen2, Gemma's <start_of_turn>) and applied without a Jinja engine.
#pragma once
#include <string>
#include <vector>

namespace squish {

// One chat message.
struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// A recognised template.
class ChatTemplate {
 public:
  enum class Kind { ChatML, Gemma };

  // Recognises `source` (Jinja text from the model; may be empty, in which case the
  // architecture's usual format is used: gemma3 -> Gemma). Throws Error naming `model_path`
  // when the template is not one squish supports.
  static ChatTemplate recognise(const std::string& source, const std::string& arch,
                                const std::string& model_path);

  // The prompt text for `messages`, ending with the assistant's turn opener when
  // add_generation_prompt. Special tokens appear as text (encode with parse_special); BOS is not
  // included (encode with add_special so the tokenizer adds it as the model's metadata says).
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  Kind kind() const { return kind_; }
  // ChatML: the system prompt inserted when the conversation has none ("" for none).
  const std::string& default_system() const { return default_system_; }

 private:
  Kind kind_ = Kind::ChatML;
  std::string default_system_;
};

}  // namespace squish
