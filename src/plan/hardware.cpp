#include "squish/plan/hardware.h"

#include <algorithm>
#include <cctype>

#include "squish/common/edit_distance.h"
#include "squish/common/error.h"

namespace squish::plan {
namespace {

constexpr const char* kGpuReason = "vLLM's default gpu_memory_utilization=0.9 (CUDA context, fragmentation)";
constexpr const char* kAppleReason =
    "macOS lets the GPU wire about 75% of unified memory by default (recommendedMaxWorkingSetSize)";
constexpr const char* kCpuReason = "leave ~15% for the OS, page cache and the process itself";

Hardware gpu(const char* name, double mem, double bw, bool fp8, bool int8, const char* note) {
  return {name, DeviceKind::GPU, mem, {}, bw, fp8, int8, 0.9, kGpuReason, note};
}
Hardware apple(const char* name, std::vector<double> mems, double bw, const char* note) {
  return {name, DeviceKind::Apple, mems.back(), mems, bw, false, false, 0.75, kAppleReason, note};
}
Hardware cpu(const char* name, double bw, bool int8, const char* note) {
  return {name, DeviceKind::CPU, 0, {}, bw, false, int8, 0.85, kCpuReason, note};
}

std::string normalise(const std::string& s) {
  std::string r;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c))) r += static_cast<char>(std::tolower(c));
  return r;
}

}  // namespace

const char* device_kind_name(DeviceKind k) {
  switch (k) {
    case DeviceKind::GPU: return "GPU";
    case DeviceKind::Apple: return "Apple";
    case DeviceKind::CPU: return "CPU";
  }
  return "?";
}

const std::vector<Hardware>& hardware_table() {
  // Memory and bandwidth from the vendors' data sheets (GB = 1e9 bytes, GB/s).
  static const std::vector<Hardware> t = {
      gpu("H100", 80, 3350, true, true, "H100 SXM5 80 GB HBM3"),
      gpu("H100 PCIe", 80, 2000, true, true, "H100 PCIe 80 GB HBM2e"),
      gpu("H200", 141, 4800, true, true, "H200 SXM 141 GB HBM3e"),
      gpu("A100-40", 40, 1555, false, true, "A100 SXM 40 GB HBM2"),
      gpu("A100-80", 80, 2039, false, true, "A100 SXM 80 GB HBM2e"),
      gpu("L40S", 48, 864, true, true, "Ada, 48 GB GDDR6"),
      gpu("L4", 24, 300, true, true, "Ada, 24 GB GDDR6"),
      gpu("A10G", 24, 600, false, true, "Ampere, 24 GB GDDR6"),
      gpu("T4", 16, 320, false, true, "Turing, 16 GB GDDR6"),
      gpu("RTX 5090", 32, 1792, true, true, "Blackwell, 32 GB GDDR7"),
      gpu("RTX 4090", 24, 1008, true, true, "Ada, 24 GB GDDR6X"),
      gpu("RTX 3090", 24, 936, false, true, "Ampere, 24 GB GDDR6X"),
      apple("M1", {8, 16}, 68.25, "unified memory"),
      apple("M1 Pro", {16, 32}, 200, "unified memory"),
      apple("M1 Max", {32, 64}, 400, "unified memory"),
      apple("M1 Ultra", {64, 128}, 800, "unified memory"),
      apple("M2", {8, 16, 24}, 100, "unified memory"),
      apple("M2 Pro", {16, 32}, 200, "unified memory"),
      apple("M2 Max", {32, 64, 96}, 400, "unified memory"),
      apple("M2 Ultra", {64, 128, 192}, 800, "unified memory"),
      apple("M3", {8, 16, 24}, 100, "unified memory"),
      apple("M3 Pro", {18, 36}, 150, "unified memory"),
      apple("M3 Max", {36, 48, 64, 96, 128}, 400, "unified memory (300 GB/s on the 36 GB part)"),
      apple("M3 Ultra", {96, 256, 512}, 819, "unified memory"),
      cpu("CPU", 76.8, false, "desktop, dual-channel DDR5-4800"),
      cpu("CPU DDR4", 51.2, false, "desktop, dual-channel DDR4-3200"),
      cpu("Xeon SPR", 307.2, true, "Sapphire Rapids, 8-channel DDR5-4800, AMX/VNNI"),
      cpu("EPYC Genoa", 460.8, true, "Zen 4, 12-channel DDR5-4800, AVX-512 VNNI"),
  };
  return t;
}

std::vector<std::string> closest_hardware(const std::string& name, size_t n) {
  const std::string key = normalise(name);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const Hardware& h : hardware_table()) scored.emplace_back(edit_distance(key, normalise(h.name)), h.name);
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> r;
  for (size_t i = 0; i < scored.size() && i < n; ++i) r.push_back(scored[i].second);
  return r;
}

Hardware find_hardware(const std::string& name) {
  const std::string key = normalise(name);
  for (const Hardware& h : hardware_table())
    if (normalise(h.name) == key) return h;
  std::string hint;
  for (const std::string& s : closest_hardware(name)) hint += (hint.empty() ? "" : ", ") + s;
  throw Error("--hardware", "unknown hardware '" + name + "'; closest known: " + hint);
}

}  // namespace squish::plan
