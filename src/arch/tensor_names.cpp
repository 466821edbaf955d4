// GGUF -> HF tensor names (see tensor_names.h), read from the tensor registry.
#include "squish/arch/tensor_names.h"

#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace squish {

std::string hf_tensor_name(const std::string& arch, const std::string& g) {
  if (const ArchSpec* a = find_arch(arch)) {
    std::string layer;
    if (const TensorSpec* t = tensor_by_gguf_name(*a, g, &layer))
      return layer.empty() ? std::string(t->hf) : "model.layers." + layer + "." + t->hf;
  }
  throw Error("", "tensor '" + g + "' has no HF name for architecture " + arch);
}

}  // namespace squish
