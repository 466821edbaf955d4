// KL divergence of a quantized model against its base model, with llama.cpp's statistics
// (tools/perplexity --kl-divergence), and the saved-base-logits file that lets the base run once.
//
// Per position (all arithmetic in double):
//   ln p = log_softmax(base logits),  ln q = log_softmax(quantized logits)
//   KLD      = sum_i p_i (ln p_i - ln q_i)              (full vocabulary; llama.cpp skips ln p_i <= -16)
//   nll      = -ln q[token],  nll_base = -ln p[token]  (token = the text's next token)
//   dp       = q[token] - p[token]
//   same_top = argmax q == argmax p                    (first index on ties, as llama.cpp)
// Aggregates follow llama.cpp: mean ± uncertainty with u = sqrt((E[x²] - E[x]²)/(n-1)) (0 when
// n <= 10), percentiles with linear interpolation at fraction·(n-1) over the sorted values,
// median = mean of the two middle values for even n, RMS Δp = sqrt(E[dp²]) with
// u = u(E[dp²]) / (2·RMS), same-top fraction f ± sqrt(f(1-f)/(n-1)), PPL = exp(mean nll) ±
// PPL·u, ln(PPL(Q)/PPL(base)) ± sqrt(u_q² + u_b² - 2·cov), cov = (E[nll·nll_base] -
// E[nll]E[nll_base])/(n-1) (0 when n < 10).
//
// Saved base logits file ("squish base logits", little-endian, version 1):
//   offset  size  field
//   0       8     magic "SQLOGITS"
//   8       4     u32 version = 1
//   12      4     u32 encoding: 0 = F32 log-probs, 1 = U16 log-probs (affine, per position)
//   16      4     u32 n_vocab (2 … 2^24)
//   20      4     u32 n_ctx (context length of the run that produced it; informational)
//   24      8     u64 n_positions (scored positions, one record each)
//   32      8     u64 n_tokens (length of the evaluated token stream stored below; may be 0)
//   40      4     u32 meta_bytes (≤ 1 MiB: UTF-8 JSON describing the run, e.g. model, text)
//   44      4     u32 reserved = 0
//   48            meta (meta_bytes), then tokens (n_tokens × i32), then zero padding to 8 bytes
//   then n_positions records, each:
//     F32: i32 token, f32 ln p[n_vocab]                          (4 + 4·n_vocab bytes)
//     U16: i32 token, f32 ln p[token], f32 floor, f32 step, u16 code[n_vocab],
//          zero padding to 4 bytes                               (16 + 2·n_vocab, rounded up to 4)
//          ln p_i = floor + step·code_i, except ln p[token] which is stored exactly (so the base
//          NLL/PPL of improbable tokens is not clipped); floor = max(min ln p, max ln p - 32),
//          step = (max ln p - floor)/65535 (quantization error ≤ 2.5e-4 nats; tokens below the
//          floor read as the floor, mass ≤ n_vocab·e^-32). Decoded values are re-normalised
//          (their log-sum-exp subtracted) before use.
// The file size must equal exactly what the header implies; records are validated when read
// (token in range, finite values, a normalised distribution).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "squish/io/mapped_file.h"

namespace squish {

// Comparison of the quantized and the base next-token distribution at one position.
struct KldPosition {
  double kld = 0;       // KL(base ‖ quant), nats
  double nll = 0;       // -ln q(token)
  double nll_base = 0;  // -ln p(token)
  double p_diff = 0;    // q(token) - p(token)
  bool same_top = false;  // argmax of both distributions equal
};

// Writes log_softmax(logits[0..n)) in double into out[0..n).
void log_softmax(const float* logits, int64_t n, double* out);

// Compares one position given base log-probs (normalised) and the quantized model's raw logits.
KldPosition compare_position(const double* base_log_probs, const float* quant_logits,
                             int64_t n_vocab, int32_t token);

// Compares one position given both models' raw logits.
KldPosition compare_logits(const float* base_logits, const float* quant_logits, int64_t n_vocab,
                           int32_t token);

// A value with its one-sigma uncertainty.
struct Uncertain {
  double value = 0;
  double error = 0;
};

// Order statistics of a sample, as llama.cpp prints them.
struct Quantiles {
  double max = 0, p999 = 0, p99 = 0, p95 = 0, p90 = 0, p75 = 0, median = 0, p25 = 0, p10 = 0,
         p05 = 0, p01 = 0, p001 = 0, min = 0;
};

// llama.cpp's percentile: linear interpolation at fraction·(n-1) in sorted values (n ≥ 1).
double percentile_sorted(const std::vector<double>& sorted, double fraction);

// Every statistic of llama.cpp's KL-divergence summary. Δp values are fractions (not %).
struct KldStats {
  size_t count = 0;
  Uncertain ppl, ppl_base;         // exp(mean nll)
  double ln_ppl_correlation = 0;   // Cor(ln PPL(Q), ln PPL(base))
  Uncertain ln_ppl_ratio;          // mean ln(PPL(Q)/PPL(base))
  Uncertain ppl_ratio;             // PPL(Q)/PPL(base)
  Uncertain ppl_diff;              // PPL(Q) - PPL(base)
  Uncertain kld_mean;
  Quantiles kld;
  Uncertain p_diff_mean;
  Quantiles p_diff;
  Uncertain p_diff_rms;
  Uncertain same_top;              // fraction of positions with the same top token

  // JSON object with every field (names as in the members).
  nlohmann::json to_json() const;
  // Markdown table of the statistics (percent where llama.cpp prints percent).
  std::string to_markdown() const;
};

// Collects positions and computes the statistics. add() is not thread-safe: compare positions in
// parallel, then add them in order.
class KldAccumulator {
 public:
  // Adds one compared position.
  void add(const KldPosition& p);
  // Positions added so far.
  const std::vector<KldPosition>& positions() const { return positions_; }
  // The statistics over all positions (throws std::logic_error when none were added).
  KldStats finish() const;

 private:
  std::vector<KldPosition> positions_;
};

// How a base logits file stores each position's log-probs.
enum class LogitsEncoding : uint32_t { F32 = 0, U16 = 1 };

// Header fields of a base logits file.
struct BaseLogitsInfo {
  LogitsEncoding encoding = LogitsEncoding::U16;
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  uint64_t n_positions = 0;
  std::vector<int32_t> tokens;  // evaluated token stream (optional)
  std::string meta;             // JSON text describing the run
};

// Writes a base logits file atomically: nothing appears at `path` until commit(), which
// checks that exactly info.n_positions records were added.
class BaseLogitsWriter {
 public:
  BaseLogitsWriter(const std::string& path, const BaseLogitsInfo& info, bool overwrite);
  ~BaseLogitsWriter();
  // Appends the record of one position from the base model's raw logits (n_vocab values).
  void add(const float* logits, int32_t token);
  // Finishes the file.
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a base logits file (memory-mapped); throws squish::Error naming the file on bad input.
class BaseLogitsReader {
 public:
  explicit BaseLogitsReader(const std::string& path);
  // Header fields, tokens and meta.
  const BaseLogitsInfo& info() const { return info_; }
  // The target token of record i.
  int32_t token(uint64_t i) const;
  // Decodes record i into normalised base log-probs (n_vocab doubles); returns its token.
  int32_t log_probs(uint64_t i, double* out) const;

 private:
  const uint8_t* record(uint64_t i) const;
  MappedFile map_;
  BaseLogitsInfo info_;
  uint64_t records_offset_ = 0;
  uint64_t record_bytes_ = 0;
};

}  // namespace squish
