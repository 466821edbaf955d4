// What the libFuzzer targets share: the input written to a per-process scratch file (for readers
// that take paths, as the CLI calls them), and the rule that squish::Error is the only accepted
// way to refuse an input (anything else escaping a reader is a finding).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "squish/common/error.h"

namespace squish::fuzz {

// A scratch path unique to this process, ending in `suffix` (e.g. "config.json").
std::string scratch_path(const std::string& suffix);
// Writes bytes to `path`, replacing it.
void write_bytes(const std::string& path, const uint8_t* data, size_t size);
// Writes the input to this process's scratch file named `suffix`; returns its path.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& suffix) {
  std::string p = scratch_path(suffix);
  write_bytes(p, data, size);
  return p;
}

// Runs f; a squish::Error is a clean refusal. Any other exception aborts, so libFuzzer records the
// input: every reader is meant to turn bad input into squish::Error naming the file.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const squish::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception other than squish::Error escaped: %s\n", e.what());
    std::abort();
  }
}

// Reads a little-endian u32 selector from the input's first bytes (0 when too short), for targets
// that split the input into a mode and a payload.
inline uint32_t take_u8(const uint8_t*& data, size_t& size) {
  if (size == 0) return 0;
  uint32_t v = data[0];
  ++data;
  --size;
  return v;
}

}  // namespace squish::fuzz
