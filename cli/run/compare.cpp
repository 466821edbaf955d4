// run_compare_args(): `squish compare`'s flags turned into CompareOptions, then the matrix run.
#include "run/compare.h"

#include <cstdlib>
#include <string>

#include "run/split_list.h"
#include "squish/common/error.h"
#include "squish/eval/eval_data.h"

namespace squish::cli {

CompareReport run_compare_args(CompareArgs a) {
  // With --schemes alone, the default GGUF mixes are not run.
  if (a.types_given || a.schemes.empty()) a.opt.types = split_list(a.types);
  a.opt.schemes = split_list(a.schemes);
  a.opt.methods = split_list(a.methods);
  a.opt.formats = split_list(a.formats);
  for (const std::string& g : split_list(a.group_sizes)) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(g, &used);
    } catch (const std::exception&) {
    }
    if (v < 0 || used != g.size()) throw Error("--group-sizes " + a.group_sizes, "'" + g + "' is not a group size (0 = per channel)");
    a.opt.group_sizes.push_back(v);
  }
  if (a.opt.calib.path.empty()) a.opt.calib.path = shared_data_path("calibration-mix.txt");
  if (a.opt.text_path.empty()) a.opt.text_path = shared_data_path("wikitext-2-test.txt");
  if (a.opt.cache_dir.empty()) {
    const char* home = std::getenv("HOME");
    a.opt.cache_dir = std::string(home ? home : ".") + "/.cache/squish/compare";
  }
  return run_compare(a.model, a.opt);
}

}  // namespace squish::cli
