#include "squish/eval/eval_data.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace squish {
namespace fs = std::filesystem;

std::string shared_data_path(const std::string& name) {
  if (const char* dir = std::getenv("SQUISH_SHARED_DATA")) return (fs::path(dir) / name).string();
  std::error_code ec;
  std::vector<fs::path> starts;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  const fs::path cwd = fs::current_path(ec);
  if (!ec) starts.push_back(cwd);
  for (const fs::path& start : starts) {
    for (fs::path d = start; !d.empty(); d = d.parent_path()) {
      const fs::path candidate = d / "shared" / "data" / name;
      if (fs::exists(candidate, ec)) return candidate.string();
      if (d == d.root_path()) break;
    }
  }
  return (fs::path("..") / "shared" / "data" / name).string();
}

}  // namespace squish
