// Fuzzes model.safetensors.index.json of a sharded checkpoint: the input is the index; the shards
// it may name are the three small ones of tests/goldens/safetensors/dtypes/sharded, copied beside it.
#include "fuzz_support.h"

#include <filesystem>

#include "squish/io/safetensors.h"

namespace {
const char* const kShards[] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                               "model-00003-of-00003.safetensors"};
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::filesystem::path src = std::filesystem::path(SQUISH_SOURCE_DIR) / "tests/goldens/safetensors/dtypes/sharded";
  for (const char* s : kShards)
    std::filesystem::copy_file(src / s, squish::fuzz::scratch_path(s), std::filesystem::copy_options::overwrite_existing);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = squish::fuzz::input_file(data, size, "model.safetensors.index.json");
  squish::fuzz::expect_clean([&] {
    const squish::SafeTensorsSet set = squish::SafeTensorsSet::open(path);
    for (const squish::SafeTensor* t : set.tensors()) {
      if (set.find(t->name) != t) std::abort();
      (void)set.tensor(t->name).to_f32();
    }
    (void)set.metadata().size();
  });
  return 0;
}
