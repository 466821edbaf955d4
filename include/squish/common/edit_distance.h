// Levenshtein distance, for "did you mean" suggestions on unknown names.
#pragma once
#include <cstddef>
#include <string>

namespace squish {

// Insertions, deletions and substitutions turning a into b.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace squish
