// `squish compare`: quantize one model into a matrix of configurations, evaluate each against the
// model itself (perplexity and KL divergence on the same text), and report a table and charts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "squish/quant/calibration_data.h"

namespace squish {

// The matrix and how to measure it.
struct CompareOptions {
  std::vector<std::string> types;  // GGUF mixes (Q4_K_M, Q8_0, ...); "TYPE:METHOD" for one method
  std::vector<std::string> schemes;  // SafeTensors schemes (W4A16, W8A8, FP8, ...); "SCHEME/gN:METHOD"
  std::vector<std::string> methods = {"rtn"};  // rtn, gptq, awq, smoothquant, "smoothquant+gptq"
  std::vector<int64_t> group_sizes;  // weight-only INT schemes: each size (empty: the scheme's default)
  std::vector<std::string> formats = {"compressed-tensors"};  // schemes: compressed-tensors, gptq, awq
  CalibrationSpec calib;           // calibration samples for gptq (never the evaluation text)
  double gptq_damp = 0.01;         // GPTQ dampening (fraction of the mean Hessian diagonal)
  std::string text_path;           // evaluation text
  int64_t n_ctx = 512;
  int64_t chunks = 8;
  std::string cache_dir;           // quantized files and per-configuration results are reused
  std::string out_dir;             // report.md, results.json and the charts
  bool overwrite = false;
  bool progress = true;
};

// One measured configuration (the first row is the model itself, the reference).
struct CompareRow {
  std::string config;
  std::string path;
  uint64_t bytes = 0;
  double bpw = 0;            // file bits per weight
  double ppl = 0, ppl_stderr = 0;
  double kld = 0, kld_stderr = 0;
  double same_top = 1;       // fraction of positions whose top token equals the reference's
  double tokens_per_second = 0;
  bool cached = false;       // taken from the cache

  // As JSON.
  nlohmann::json to_json() const;
  // From JSON (a cached result).
  static CompareRow from_json(const nlohmann::json& j);
};

// Outcome of a comparison.
struct CompareReport {
  std::string model_path;
  std::vector<CompareRow> rows;
  std::vector<std::string> skipped;  // matrix combinations left out, each with its reason
  // The Markdown table (size, bpw, PPL, ΔPPL, KLD, top-1 %, tokens/s) with notes.
  std::string to_markdown() const;
  // The rows as a JSON array (results.json's content, `squish compare --json`).
  nlohmann::json rows_json() const;
};

// Runs the matrix; writes report.md, results.json, kld_vs_size.{svg,png}, ppl_vs_bpw.{svg,png}
// into options.out_dir (atomically each). Throws Error on unknown types (with suggestions) before
// any work.
CompareReport run_compare(const std::string& model_path, const CompareOptions& options);

}  // namespace squish
