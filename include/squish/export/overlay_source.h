// A ModelSource with some tensors' values replaced by F32 data (e.g. norms into which SmoothQuant
// or AWQ folded their scales); everything else reads through to the base source.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squish/export/model_source.h"

namespace squish {

// Wraps `base` (which must outlive the result); replaced values must have the tensor's size.
// Throws Error naming the base's path for an unknown tensor or a wrong size.
std::unique_ptr<ModelSource> overlay_source(const ModelSource& base,
                                            std::map<std::string, std::vector<float>> replaced);

}  // namespace squish
