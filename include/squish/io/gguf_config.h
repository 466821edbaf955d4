// ModelConfig read from a GGUF file's metadata (general.architecture and the <arch>.* keys).
#pragma once
#include "squish/arch/config.h"

namespace squish {

class GGUFFile;

// Reads the config from GGUF metadata; throws Error naming the file for unknown architectures
// or missing keys.
ModelConfig read_gguf_config(const GGUFFile& file);

}  // namespace squish
