// `squish plan`: memory breakdown (weights per scheme, KV cache, activations), which schemes fit
// the hardware, and a recommendation (scheme, KV-cache format, serving engine) with its reasons.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "squish/plan/hardware.h"
#include "squish/plan/model_shape.h"
#include "squish/plan/weight_schemes.h"

namespace squish::plan {

// What the deployment optimises for.
enum class Goal { Balanced, Latency, Throughput };
// Parses "latency" | "throughput" | "balanced"; throws squish::Error("--goal", ...).
Goal parse_goal(const std::string& s);
const char* goal_name(Goal g);

// The serving workload.
struct Workload {
  int64_t context = 4096;  // tokens per sequence (prompt + output)
  int64_t users = 1;       // concurrent sequences (batch)
  Goal goal = Goal::Balanced;
};

// The hardware with its memory settled.
struct Target {
  Hardware hw;
  int gpus = 1;             // devices (tensor parallel); memory and bandwidth multiply
  double memory_gb = 0;     // per device, GB
  std::string memory_note;  // where the memory figure comes from
  double usable_bytes() const { return memory_gb * 1e9 * gpus * hw.usable_fraction; }
  double bandwidth_bytes() const { return hw.bandwidth_gbs * 1e9 * gpus; }
};

// Builds a Target: `hardware` name (may be empty), --vram / --ram in GB (0: not given), GPUs.
// Throws squish::Error for unknown names or a missing memory size; nullopt when nothing is given.
std::optional<Target> make_target(const std::string& hardware, double vram_gb, double ram_gb,
                                  int gpus, double bandwidth_gbs);

// KV cache size in one format.
struct KvSize {
  KvFormat format;
  double bytes = 0;        // for all users at the full context
  double bytes_per_seq = 0;
};

// One scheme's line of the breakdown.
struct SchemeRow {
  WeightScheme scheme;
  std::string bits_formula;     // linear layers at the model's hidden size
  double bits_linear = 0;       // bits per weight of the linear layers
  double bits_effective = 0;    // weight bytes · 8 / parameters (embeddings etc. included)
  double weight_bytes = 0;
  double total_fp16_kv = 0;     // weights + FP16 KV + activations
  bool fits = false;            // with FP16 KV (only when a target is known)
  double short_bytes = 0;       // how much is missing when it does not fit
  double decode_tps = 0;        // single-sequence decode upper bound (tokens/s), 0: unknown
};

// The recommendation.
struct Recommendation {
  std::string scheme;
  std::string kv_cache;
  std::string engine;
  double total_bytes = 0;
  double decode_tps_single = 0;  // upper bound for one sequence
  double decode_tps_batch = 0;   // upper bound for all users together
  std::vector<std::string> reasons;
};

// The whole plan.
struct Plan {
  ModelShape model;
  Workload work;
  std::optional<Target> target;
  std::vector<KvSize> kv;
  std::string kv_arithmetic;         // FP16 formula with the numbers
  double activation_bytes = 0;
  std::string activation_arithmetic;
  std::vector<SchemeRow> rows;
  std::optional<Recommendation> rec;
};

// Computes the plan. Throws squish::Error("plan", "... needs X GB, has Y GB: Z GB short") when
// no scheme with any KV format fits the target.
Plan make_plan(const ModelShape& model, const Workload& work, const std::optional<Target>& target);

// Markdown report with the arithmetic shown.
std::string render_markdown(const Plan& p);
// The same as JSON.
nlohmann::json render_json(const Plan& p);

// "14.00 GB" style (GB = 1e9 bytes).
std::string format_gb(double bytes);

}  // namespace squish::plan
