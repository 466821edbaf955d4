// Fuzzes the HF tokenizer.json loader on arbitrary bytes; an accepted tokenizer then encodes and
// decodes a fixed text with and without special tokens.
#include "fuzz_support.h"

#include "squish/model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = squish::fuzz::input_file(data, size, "tokenizer.json");
  squish::fuzz::expect_clean([&] {
    const auto tok = squish::Tokenizer::from_hf_json(path);
    const std::string text = "Hello world! <|im_start|>user\n 12345 \xC3\xA9t\xC3\xA9\t\t  x";
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tok->encode(text, special, special);
      for (int32_t id : ids)
        if (id < 0 || id >= tok->vocab_size()) std::abort();
      (void)tok->decode(ids, !special);
    }
  });
  return 0;
}
