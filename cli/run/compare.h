// What `squish compare` runs, callable without the command line (the CLI and the Python module).
#pragma once
#include <string>

#include "squish/eval/compare.h"

namespace squish::cli {

// The settings of one `squish compare` run as its flags spell them (lists comma-separated).
struct CompareArgs {
  std::string model;
  std::string types = "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M,Q2_K";
  bool types_given = false;  // --types was given (with --schemes alone the default mixes are not run)
  std::string methods = "rtn";
  std::string schemes, group_sizes, formats = "compressed-tensors";
  CompareOptions opt;  // the rest: calibration, evaluation text, context, chunks, output, cache, force
};

// Runs the matrix `a` names, with the CLI's defaults for what it leaves empty (calibration and
// evaluation text from ../shared/data, the cache under ~/.cache/squish/compare); throws
// squish::Error with a one-line message on bad input before any work.
CompareReport run_compare_args(CompareArgs a);

}  // namespace squish::cli
