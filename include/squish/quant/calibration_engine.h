// The layer-by-layer calibration engine: calibration samples are embedded once, then each decoder
// layer in turn gathers its input statistics on the activations the previous — already quantized —
// layers produced, is quantized by a LayerQuantizer, and is run again with its quantized weights to
// produce the next layer's inputs. Only one layer's F32 weights are held at a time (GGUF inputs stay
// in their mapped blocks); activations beyond the memory budget spill to a scratch file; after each
// layer its results and the activations are saved so that --resume continues from the last finished
// layer with output identical to an uninterrupted run.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "squish/model/model.h"
#include "squish/model/weights.h"
#include "squish/quant/calibration_data.h"
#include "squish/quant/layer_result.h"
#include "squish/quant/layer_stats.h"

namespace squish {

// Quantizes one layer given its statistics (one implementation per output kind).
class LayerQuantizer {
 public:
  virtual ~LayerQuantizer() = default;
  // The statistics it needs.
  virtual LayerStatsOptions stats_options() const = 0;
  // Quantizes layer il: L holds its F32 weights and must be left as the next layer must see it
  // (quantized values, folded scales, input quantization); returns what to write.
  virtual LayerResult quantize(int64_t il, LayerWeights& L, LayerStats& stats) = 0;
  // Identifies the settings, so a resume never mixes results of different runs.
  virtual std::string fingerprint() const = 0;
};

// Settings of a calibration run.
struct EngineOptions {
  CalibrationSpec calib;
  uint64_t max_memory = 0;   // bytes for activations and statistics (0: no limit)
  std::string state_dir;     // resumable state (e.g. OUT + ".partial"); "" = a temporary one
  bool resume = false;       // continue from state_dir's last finished layer
  bool progress = true;      // progress bar with ETA
  // Read every layer's results back into EngineReport::result. Off, the results stay in the layer
  // files (EngineReport::layer_files, under a non-empty state_dir) for a writer to stream.
  bool gather_results = true;
};

// What the run did.
struct EngineReport {
  LayerResult result;           // every layer's results merged (gather_results only)
  std::vector<std::string> layer_files;  // each layer's result file in state_dir, in layer order
  size_t n_matrices = 0, n_blocks = 0;   // quantized matrices / encoded tensors produced
  int64_t n_samples = 0, seq_len = 0;
  uint64_t activation_bytes = 0;  // of the whole calibration set
  bool spilled = false;           // activations lived in the scratch file
  int64_t resumed_layers = 0;     // layers taken from a previous run's state
  double seconds = 0;
  uint64_t peak_rss = 0;          // bytes: the process's high-water mark when the last layer was done
                                  // (the calibrated exports update it once the output is written)
};

// Runs the engine over `model` (loaded with keep_quantized for GGUF inputs). Throws Error before
// any long work for bad calibration input or a state_dir of a different run.
EngineReport run_calibration(const std::shared_ptr<const Model>& model, LayerQuantizer& quantizer,
                             const EngineOptions& opt);

// Peak resident set size of this process so far, in bytes.
uint64_t peak_rss_bytes();

// Parses a size such as "512M", "2G", "1.5GiB", "100000" (bytes); throws Error naming `what`.
uint64_t parse_byte_size(const std::string& text, const std::string& what);

}  // namespace squish
