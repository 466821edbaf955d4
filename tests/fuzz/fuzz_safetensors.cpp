// Fuzzes the SafeTensors reader as a checkpoint load opens it: the input is one .safetensors file,
// opened through SafeTensorsSet (as a directory's single file is), every tensor converted to F32
// (tensors above a size cap skipped).
#include "fuzz_support.h"

#include "squish/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = squish::fuzz::input_file(data, size, "model.safetensors");
  squish::fuzz::expect_clean([&] {
    const squish::SafeTensorsSet set = squish::SafeTensorsSet::open(path);
    for (const squish::SafeTensor* t : set.tensors()) {
      if (set.find(t->name) != t) std::abort();
      if (t->n_elements() > (1 << 16)) continue;
      const std::vector<float> v = t->to_f32();
      if (static_cast<int64_t>(v.size()) != t->n_elements()) std::abort();
    }
    (void)set.total_bytes();
  });
  return 0;
}
