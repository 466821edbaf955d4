// Computing an importance matrix the way llama.cpp's imatrix tool does: the calibration text is
// tokenized once, cut into chunks of n_ctx tokens (the first token of each replaced by BOS when
// the model adds one), each chunk evaluated from an empty cache, and every block linear layer's
// input accumulated (Σx², Σx and the token count per column).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "squish/quant/imatrix.h"

namespace squish {

class Model;

// Options of a calibration run.
struct ImatrixOptions {
  int64_t n_ctx = 512;       // tokens per chunk
  int64_t max_chunks = -1;   // < 0: every whole chunk of the text
  int64_t n_batch = 512;     // tokens per Session::eval call
  bool process_output = false;  // also collect output.weight's input (llama.cpp: --process-output)
  std::string dataset;       // recorded in imatrix.datasets
  // Called after each chunk with (chunks done, chunks total).
  std::function<void(int64_t, int64_t)> on_chunk;
};

// Evaluates `text` with `model` and returns the accumulated statistics. Throws squish::Error
// naming `source` when the text is shorter than one chunk.
ImportanceMatrix collect_imatrix(const std::shared_ptr<const Model>& model, const std::string& text,
                                 const ImatrixOptions& options, const std::string& source);

}  // namespace squish
