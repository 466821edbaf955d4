// The text of a generation as it grows token by token: what may be sent to the client now, held
// back while it could still be the start of a stop sequence or an unfinished UTF-8 character.
#pragma once
#include <string>
#include <vector>

namespace squish::serve {

// Accumulates generated text and releases it in safe pieces, cut at the first stop sequence.
class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stops);
  // Appends a token's text; returns the text that can be sent now (possibly empty).
  std::string push(const std::string& piece);
  // True once a stop sequence has appeared (the text before it has been released, it has not).
  bool stopped() const { return stopped_; }
  // The held-back rest, released when generation ends for another reason.
  std::string flush();
  // Everything released so far.
  const std::string& released() const { return released_; }

 private:
  std::vector<std::string> stops_;
  std::string text_;      // all generated text
  std::string released_;  // the prefix of text_ already sent
  bool stopped_ = false;
};

// Bytes at the end of s that begin a UTF-8 character not yet complete (0..3).
size_t incomplete_utf8_tail(const std::string& s);

}  // namespace squish::serve
