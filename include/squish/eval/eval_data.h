// Locating the shared evaluation data (<repo>/../shared/data) from the running executable.
#pragma once
#include <string>

namespace squish {

// Path of <repo>/../shared/data/<name>: the first existing `shared/data/<name>` above the
// executable's directory or the working directory (the repository's parent holds `shared/`).
// $SQUISH_SHARED_DATA overrides the directory. Returns the best guess when none exists.
std::string shared_data_path(const std::string& name);

}  // namespace squish
