// Picks the ModelSource for a path: an HF model directory or a GGUF file.
#include <filesystem>

#include "squish/common/error.h"
#include "squish/export/model_source.h"

namespace squish {

std::unique_ptr<ModelSource> open_hf_source(const std::string& dir);  // hf_model_source.cpp

std::unique_ptr<ModelSource> open_model_source(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return open_hf_source(path);
  if (!std::filesystem::exists(path, ec)) throw Error(path, "no such file or directory");
  return open_gguf_source(path);
}

}  // namespace squish
