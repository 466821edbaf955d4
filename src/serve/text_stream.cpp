// TextStream: stop-sequence search over the generated text, with a held-back tail.
#include "squish/serve/text_stream.h"

#include <algorithm>

namespace squish::serve {

size_t incomplete_utf8_tail(const std::string& s) {
  // Walk back over at most 3 continuation bytes to the lead byte and compare its length.
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

TextStream::TextStream(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string TextStream::push(const std::string& piece) {
  if (stopped_) return {};
  text_ += piece;
  const size_t sent = released_.size();
  // The earliest stop sequence that now appears (it may start inside text already held back).
  size_t cut = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t from = sent;  // released text never contains a stop sequence
    const size_t at = text_.find(stop, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    stopped_ = true;
    std::string out = text_.substr(sent, cut - sent);
    released_ += out;
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop sequence.
  size_t hold = 0;
  for (const std::string& stop : stops_)
    for (size_t len = std::min(stop.size() - 1, text_.size() - sent); len > hold; --len)
      if (text_.compare(text_.size() - len, len, stop, 0, len) == 0) {
        hold = len;
        break;
      }
  size_t safe = text_.size() - hold;
  safe -= incomplete_utf8_tail(text_.substr(0, safe));
  if (safe <= sent) return {};
  std::string out = text_.substr(sent, safe - sent);
  released_ += out;
  return out;
}

std::string TextStream::flush() {
  if (stopped_) return {};
  std::string out = text_.substr(released_.size());
  released_ += out;
  return out;
}

}  // namespace squish::serve
