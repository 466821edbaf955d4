// Scratch files of the fuzz targets: one directory per process under $TMPDIR (or /tmp), removed at exit.
#include "fuzz_support.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace squish::fuzz {
namespace {

// The process's scratch directory, created on first use and removed at exit.
const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("squish-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

}  // namespace

std::string scratch_path(const std::string& suffix) { return (scratch_dir() / suffix).string(); }

void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace squish::fuzz
