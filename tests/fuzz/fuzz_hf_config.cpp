// Fuzzes the Hugging Face config.json loader (and generation_config.json, which shares the JSON
// reading) on arbitrary bytes, as a model directory load reads them.
#include "fuzz_support.h"

#include "squish/io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = squish::fuzz::input_file(data, size, "config.json");
  squish::fuzz::expect_clean([&] {
    squish::HFConfigExtras extras;
    (void)squish::read_hf_config(path, &extras);
  });
  squish::fuzz::expect_clean([&] { (void)squish::read_hf_generation_config(path); });
  return 0;
}
