// Deployment hardware for the planner: memory, memory bandwidth and low-precision support.
#pragma once
#include <string>
#include <vector>

namespace squish::plan {

// What kind of device runs the model.
enum class DeviceKind { GPU, Apple, CPU };

// "GPU", "Apple", "CPU".
const char* device_kind_name(DeviceKind k);

// One hardware entry (per device; multi-GPU multiplies memory and bandwidth).
struct Hardware {
  std::string name;                 // canonical name ("H100", "RTX 4090", "M2 Max")
  DeviceKind kind = DeviceKind::GPU;
  double memory_gb = 0;             // default memory (GB = 1e9 bytes); 0: must be given
  std::vector<double> memory_options_gb;  // configurations sold (Apple unified memory sizes)
  double bandwidth_gbs = 0;         // memory bandwidth, GB/s (0: unknown)
  bool fp8 = false;                 // FP8 tensor cores (Hopper, Ada)
  bool int8 = false;                // INT8 tensor cores / fast integer dot products
  double usable_fraction = 0.9;     // share of memory a serving engine can use
  std::string usable_reason;        // why that share
  std::string note;                 // e.g. "SXM5, HBM3"
};

// The built-in table.
const std::vector<Hardware>& hardware_table();

// Finds an entry by name, ignoring case, spaces, '-' and '_' ("rtx4090", "A100-80").
// Throws squish::Error("--hardware", "unknown hardware 'X'; closest: A, B, C") otherwise.
Hardware find_hardware(const std::string& name);

// Up to `n` known names closest to `name` by edit distance of the normalised names.
std::vector<std::string> closest_hardware(const std::string& name, size_t n = 3);


}  // namespace squish::plan
