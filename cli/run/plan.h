// What `squish plan` computes, callable without the command line (the CLI and the Python module).
#pragma once
#include <string>

#include "squish/plan/planner.h"

namespace squish::cli {

// The settings of one `squish plan` run, as its flags name them (numbers as the user typed them).
struct PlanArgs {
  std::string model, params, layers, kv_heads, head_dim, heads, hidden, ffn, vocab;
  std::string hardware, vram, ram, gpus = "1", bandwidth, context = "4096", users = "1", goal = "balanced";
  bool json = false, list = false;
};

// The model's shape from a.model (GGUF file, config.json, HF directory or built-in name) or from
// --params and the shape flags; throws squish::Error with a one-line message on bad input.
plan::ModelShape resolve_plan_model(const PlanArgs& a);

// The plan for a's model, workload and hardware.
plan::Plan make_plan(const PlanArgs& a);

}  // namespace squish::cli
