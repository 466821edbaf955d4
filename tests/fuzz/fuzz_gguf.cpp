// Fuzzes the GGUF reader as `squish inspect` / every model load uses it: header, metadata, tensor
// table, the model config derived from the metadata, then every tensor of an accepted file
// dequantized (tensors above a size cap are skipped so one input cannot take seconds).
#include "fuzz_support.h"

#include "squish/io/gguf_config.h"
#include "squish/io/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = squish::fuzz::input_file(data, size, "model.gguf");
  squish::fuzz::expect_clean([&] {
    squish::GGUFFile f(path);
    size_t touched = 0;
    for (const auto& [key, value] : f.metadata()) touched += key.size() + (f.find(key) != nullptr);
    (void)f.get_string("general.architecture", "");
    (void)f.get_int("general.alignment", 32);
    for (const auto& t : f.tensors()) {
      touched += f.find_tensor(t.name) == &t;
      if (t.n_elements() > (1 << 16)) continue;
      std::vector<float> v = f.dequantize(t);
      if (static_cast<int64_t>(v.size()) != t.n_elements()) std::abort();
    }
    (void)squish::read_gguf_config(f);
    (void)touched;
  });
  return 0;
}
