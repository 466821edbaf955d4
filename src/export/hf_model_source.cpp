// ModelSource over an HF SafeTensors directory (conversion to GGUF names and metadata).
#include "squish/common/error.h"
#include "squish/export/model_source.h"

namespace squish {

std::unique_ptr<ModelSource> open_hf_source(const std::string& dir) {
  throw Error(dir, "HF directory input is not supported by squish quantize yet");
}

}  // namespace squish
