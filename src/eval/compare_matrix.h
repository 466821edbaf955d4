// Internal: the configurations of `squish compare` — GGUF mixes × methods, and SafeTensors schemes ×
// group sizes × methods × checkpoint formats — expanded and checked against the model up front.
#pragma once
#include <string>
#include <vector>

#include "squish/eval/compare.h"
#include "squish/export/checkpoint_writer.h"
#include "squish/quant/file_type.h"
#include "squish/quant/recipe.h"

namespace squish {

// One configuration to quantize and measure.
struct CompareConfig {
  bool checkpoint = false;         // a SafeTensors checkpoint (else a GGUF file)
  FileType ftype{};                // GGUF: the mix
  Recipe recipe;                   // checkpoint: scheme, group size, steps
  CheckpointFormat format = CheckpointFormat::CompressedTensors;
  std::string method;              // "rtn", "gptq", "awq", "smoothquant+gptq", ...
  std::string name;                // the table's row label
  std::string stem;                // cache name; calibrated ones get the calibration tag appended

  // Whether producing it reads calibration text (GPTQ in GGUF blocks; every checkpoint, whose
  // engine also records activation ranges).
  bool calibrated() const { return checkpoint || method != "rtn"; }
};

// The expanded matrix and the combinations left out (with why).
struct CompareMatrix {
  std::vector<CompareConfig> configs;
  std::vector<std::string> skipped;  // "W4A16/g128 gptq [ct]: <reason>"
};

// Expands options into configurations. Combinations the axes produce that cannot work (AWQ on a
// W8A8 scheme, a group size not dividing the model's inputs, GGUF with AWQ, ...) are skipped with
// a reason; the same problems in an entry that names a single combination, unknown names and
// unknown methods throw Error before any work.
CompareMatrix expand_compare_matrix(const std::string& model_path, const CompareOptions& o);

}  // namespace squish
