// Fuzzes the importance-matrix reader (llama.cpp's GGUF imatrix and legacy .dat, told apart by the
// magic) as `squish quantize --imatrix` loads it, then derives every entry's importance.
#include "fuzz_support.h"

#include "squish/quant/imatrix.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = squish::fuzz::input_file(data, size, "imatrix.dat");
  squish::fuzz::expect_clean([&] {
    const squish::ImportanceMatrix m = squish::ImportanceMatrix::load(path);
    for (const auto& [name, e] : m.entries) {
      const std::vector<float> imp = m.importance(name);
      if (!e.counts.empty() && imp.size() != e.sum2.size()) std::abort();
    }
  });
  return 0;
}
