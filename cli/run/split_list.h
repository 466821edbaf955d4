// Comma-separated option values (--types Q8_0,Q4_K_M), shared by the CLI and cli/run.
#pragma once
#include <sstream>
#include <string>
#include <vector>

namespace squish::cli {

// The non-empty items of a comma-separated option value ("a,,b" -> {"a", "b"}).
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');)
    if (!t.empty()) out.push_back(t);
  return out;
}

}  // namespace squish::cli
