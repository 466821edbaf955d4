// Fuzzes the tokenizers on arbitrary text: the byte-level BPE of the tiny test models' GGUF and
// tokenizer.json (gpt2 / Qwen2 pre-tokenizers) and the SentencePiece of tiny Gemma 3. The first
// input byte picks the tokenizer and the flags. Every id must be in the vocabulary; a byte-level BPE
// encoding of valid UTF-8 without special-token parsing must decode back to the same text when the
// vocabulary holds every byte of it (the tiny test vocabularies lack 21 of the 256 byte tokens, and
// a byte without a token is dropped, so the round trip is defined only for texts of the others).
#include "fuzz_support.h"

#include <memory>
#include <vector>

#include "squish/io/gguf_reader.h"
#include "squish/model/tokenizer.h"
#include "squish/model/unicode.h"

namespace {

struct Loaded {
  std::unique_ptr<squish::Tokenizer> tok;
  bool byte_level;            // decode(encode(valid UTF-8)) == text
  bool has_byte[256] = {};    // the vocabulary holds a token for this byte
};
std::vector<Loaded> g_tokenizers;

// True when s is well-formed UTF-8.
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

// A short valid UTF-8 text holding byte b (b alone when no valid text holds it).
std::string utf8_sample(int b) {
  auto s = [](std::initializer_list<int> v) { std::string o; for (int c : v) o += static_cast<char>(c); return o; };
  if (b < 0x80) return s({b});
  if (b < 0xC0) return s({0xC2, b});
  if (b >= 0xC2 && b <= 0xDF) return s({b, 0x80});
  if (b == 0xE0) return s({b, 0xA0, 0x80});
  if (b >= 0xE1 && b <= 0xEF) return s({b, 0x80, 0x80});
  if (b == 0xF0) return s({b, 0x90, 0x80, 0x80});
  if (b >= 0xF1 && b <= 0xF4) return s({b, 0x80, 0x80, 0x80});
  return s({b});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string goldens = std::string(SQUISH_SOURCE_DIR) + "/tests/goldens/";
  for (const char* name : {"tiny_llama", "tiny_qwen2"})
    g_tokenizers.push_back({squish::Tokenizer::from_gguf(squish::GGUFFile(goldens + "model/" + name + ".gguf")), true});
  g_tokenizers.push_back({squish::Tokenizer::from_gguf(squish::GGUFFile(goldens + "model/tiny_gemma3.gguf")), false});
  g_tokenizers.push_back({squish::Tokenizer::from_hf_json(goldens + "safetensors/tiny/qwen2/hf/tokenizer.json"), true});
  g_tokenizers.push_back({squish::Tokenizer::from_hf_json(goldens + "safetensors/tiny/gemma3/hf/tokenizer.json"), false});
  for (Loaded& t : g_tokenizers)
    for (int b = 0; b < 256; ++b) {
      const std::string sample = utf8_sample(b);
      t.has_byte[b] = t.tok->decode(t.tok->encode(sample, false, false)) == sample;
    }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint32_t mode = squish::fuzz::take_u8(data, size);
  const Loaded& t = g_tokenizers[mode % g_tokenizers.size()];
  const bool add_special = mode & 0x40, parse_special = mode & 0x80;
  const std::string text(reinterpret_cast<const char*>(data), size);
  squish::fuzz::expect_clean([&] {
    const std::vector<int32_t> ids = t.tok->encode(text, add_special, parse_special);
    for (int32_t id : ids)
      if (id < 0 || id >= t.tok->vocab_size()) std::abort();
    const std::string back = t.tok->decode(ids);
    bool covered = true;
    for (unsigned char c : text) covered = covered && t.has_byte[c];
    if (t.byte_level && !add_special && !parse_special && covered && valid_utf8(text) && back != text) {
      std::fprintf(stderr, "fuzz: byte-level BPE round trip changed the text\n");
      std::abort();
    }
  });
  return 0;
}
