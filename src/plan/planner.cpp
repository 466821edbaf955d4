#include "squish/plan/planner.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "squish/common/error.h"

namespace squish::plan {
namespace {

constexpr int64_t kLongContext = 32768;      // from here on, quantize the KV cache
constexpr int64_t kPrefillChunk = 2048;      // tokens per prefill step (vLLM chunked prefill, llama.cpp n_batch)

// KV bytes of one sequence at `context` tokens in a format of `bits` per element.
double kv_seq_bytes(const ModelShape& m, int64_t context, double bits) {
  const int64_t swa = std::min(m.n_swa_layers, m.n_layer);
  const double tokens = double(m.n_layer - swa) * double(context) +
                        double(swa) * double(std::min(context, m.sliding_window > 0 ? m.sliding_window : context));
  return 2.0 * tokens * double(m.n_head_kv) * double(m.head_dim) * bits / 8.0;
}

std::string kv_formula(const ModelShape& m, const Workload& w, double bytes) {
  std::string layers;
  const int64_t swa = std::min(m.n_swa_layers, m.n_layer);
  if (swa > 0 && m.sliding_window > 0 && m.sliding_window < w.context)
    layers = fmt::format("({} global layers × {} tokens + {} sliding-window layers × {} window)",
                         m.n_layer - swa, w.context, swa, m.sliding_window);
  else
    layers = fmt::format("{} layers × {} tokens", m.n_layer, w.context);
  return fmt::format("2 (K and V) × {} × {} KV heads × {} head dim × {} users × 2 bytes = {:.0f} bytes = "
                     "{:.2f} GB ({:.2f} GiB)",
                     layers, m.n_head_kv, m.head_dim, w.users, bytes, bytes / 1e9,
                     bytes / double(1ull << 30));
}

struct Candidate {
  const char* scheme;
  const char* why;
};

// "80 GB × 2 GPUs × 0.90: why" or "96 GB × 0.75: why".
std::string usable_text(const Target& t) {
  return fmt::format("{:g} GB{} × {:.2f}: {}", t.memory_gb, t.gpus > 1 ? fmt::format(" × {} GPUs", t.gpus) : "",
                     t.hw.usable_fraction, t.hw.usable_reason);
}

bool is_h100_class(const Hardware& h) { return h.name.rfind("H100", 0) == 0 || h.name == "H200"; }

}  // namespace

Goal parse_goal(const std::string& s) {
  if (s == "latency") return Goal::Latency;
  if (s == "throughput") return Goal::Throughput;
  if (s == "balanced") return Goal::Balanced;
  throw Error("--goal", "unknown goal '" + s + "' (latency, throughput or balanced)");
}

const char* goal_name(Goal g) {
  switch (g) {
    case Goal::Latency: return "latency";
    case Goal::Throughput: return "throughput";
    case Goal::Balanced: return "balanced";
  }
  return "?";
}

std::optional<Target> make_target(const std::string& hardware, double vram_gb, double ram_gb,
                                  int gpus, double bandwidth_gbs) {
  if (gpus < 1 || gpus > 1024) throw Error("--gpus", fmt::format("{} GPUs is out of range", gpus));
  if (vram_gb < 0 || ram_gb < 0 || vram_gb > 1e6 || ram_gb > 1e6)
    throw Error(vram_gb ? "--vram" : "--ram", "memory size out of range");
  if (bandwidth_gbs < 0 || bandwidth_gbs > 1e6) throw Error("--bandwidth", "bandwidth out of range");
  if (hardware.empty() && vram_gb == 0 && ram_gb == 0) return std::nullopt;
  Target t;
  t.gpus = gpus;
  if (!hardware.empty()) {
    t.hw = find_hardware(hardware);
  } else if (vram_gb > 0) {
    t.hw = {"GPU", DeviceKind::GPU, 0, {}, 0, false, true, 0.9,
            "vLLM's default gpu_memory_utilization=0.9 (CUDA context, fragmentation)", "unspecified GPU"};
  } else {
    t.hw = find_hardware("CPU");
  }
  if (t.hw.kind != DeviceKind::GPU && gpus != 1) throw Error("--gpus", "--gpus applies to GPUs only");
  const double given = t.hw.kind == DeviceKind::GPU ? (vram_gb ? vram_gb : ram_gb) : (ram_gb ? ram_gb : vram_gb);
  if (given > 0) {
    t.memory_gb = given;
    t.memory_note = "given on the command line";
  } else if (t.hw.memory_gb > 0) {
    t.memory_gb = t.hw.memory_gb;
    t.memory_note = t.hw.memory_options_gb.size() > 1
                        ? fmt::format("largest configuration assumed (sold with {} GB); give --ram",
                                      fmt::join(t.hw.memory_options_gb, "/"))
                        : "data sheet";
  } else {
    throw Error(t.hw.kind == DeviceKind::GPU ? "--vram" : "--ram",
                "memory size of '" + t.hw.name + "' unknown; give --ram GB");
  }
  if (bandwidth_gbs > 0) t.hw.bandwidth_gbs = bandwidth_gbs;
  return t;
}

Plan make_plan(const ModelShape& model, const Workload& work, const std::optional<Target>& target) {
  if (work.context < 1 || work.context > (int64_t(1) << 26))
    throw Error("--context", fmt::format("context {} is out of range", work.context));
  if (work.users < 1 || work.users > 1000000)
    throw Error("--users", fmt::format("{} users is out of range", work.users));
  Plan p;
  p.model = model;
  p.work = work;
  p.target = target;
  for (const KvFormat& f : kv_formats(model.head_dim)) {
    const double seq = kv_seq_bytes(model, work.context, f.bits);
    p.kv.push_back({f, seq * double(work.users), seq});
  }
  p.kv_arithmetic = kv_formula(model, work, p.kv[0].bytes);
  // Activations: hidden states of one prefill step (residual, normed input, attention output,
  // FFN input as 4·hidden, gate and up as 2·ffn, 16-bit) plus FP32 logits of one token per user.
  const double t = double(std::min<int64_t>(work.context * work.users, kPrefillChunk));
  const double hidden = double(model.n_embd), ff = double(model.n_ff), vocab = double(model.n_vocab);
  p.activation_bytes = t * (4 * hidden + 2 * ff) * 2 + double(work.users) * vocab * 4;
  p.activation_arithmetic = fmt::format(
      "{:.0f} tokens per prefill step × (4 × {} hidden + 2 × {} FFN) × 2 bytes + {} users × {} vocab "
      "× 4 bytes (logits) = {:.3f} GB (estimate)",
      t, model.n_embd, model.n_ff, work.users, model.n_vocab, p.activation_bytes / 1e9);

  const double usable = target ? target->usable_bytes() : 0;
  const double bw = target ? target->bandwidth_bytes() : 0;
  for (const WeightScheme& s : weight_schemes()) {
    SchemeRow r;
    r.scheme = s;
    r.bits_linear = linear_bits_per_weight(s, model.n_embd);
    r.bits_formula = bits_formula(s, model.n_embd);
    r.weight_bytes = weight_bytes(s, model);
    r.bits_effective = r.weight_bytes * 8 / model.n_params;
    r.total_fp16_kv = r.weight_bytes + p.kv[0].bytes + p.activation_bytes;
    if (target) {
      r.fits = r.total_fp16_kv <= usable;
      r.short_bytes = r.fits ? 0 : r.total_fp16_kv - usable;
    }
    if (bw > 0) r.decode_tps = bw / (r.weight_bytes + p.kv[0].bytes_per_seq);
    p.rows.push_back(r);
  }
  if (!target) return p;

  // Candidate schemes in the playbook's order of preference for this hardware and goal.
  const Hardware& hw = target->hw;
  std::vector<Candidate> order;
  std::string engine;
  if (hw.kind != DeviceKind::GPU) {
    engine = hw.kind == DeviceKind::Apple ? "llama.cpp (Metal) — or Ollama for a one-command setup"
                                          : "llama.cpp (llama-server) — or Ollama for a one-command setup";
    if (work.goal != Goal::Latency)
      order.push_back({"Q5_K_M", "GGUF Q5_K_M on CPU/Apple: near-Q6 quality with room to spare"});
    order.push_back({"Q4_K_M", "GGUF Q4_K_M on CPU/Apple: the usual balance of size, speed and quality"});
    order.push_back({"Q3_K_M", "only Q3_K_M fits: expect noticeable quality loss"});
    order.push_back({"Q2_K", "only Q2_K fits: expect large quality loss"});
  } else {
    const bool big_tp = work.goal == Goal::Throughput && is_h100_class(hw);
    engine = big_tp ? "TensorRT-LLM (peak FP8 throughput on Hopper) — or vLLM" : "vLLM";
    if (work.goal == Goal::Latency) {
      order.push_back({"W4A16 g128", "single-user latency: decoding is memory-bound, and W4A16 reads "
                                     "~3.9× fewer bytes per token than FP16"});
    } else if (work.goal == Goal::Throughput) {
      if (hw.fp8) order.push_back({"FP8", "high-throughput peaks on a GPU with FP8 tensor cores: FP8 W8A8 "
                                          "uses them and is near-lossless"});
      if (hw.int8) order.push_back({"W8A8", "high-throughput peaks: batched decoding is compute-bound, "
                                            "W8A8 runs INT8 GEMMs"});
    } else {
      if (is_h100_class(hw)) order.push_back({"FP8", "H100-class GPU: FP8 is near-lossless and runs on "
                                                     "its FP8 tensor cores"});
      order.push_back({"W8A16", "the safe default: 8-bit weights are near-lossless and halve memory"});
    }
    if (work.goal != Goal::Latency)
      order.push_back({"W4A16 g128", "8-bit weights do not fit: W4A16 g128 (GPTQ/AWQ) is the next step"});
  }

  std::vector<std::string> kv_order = {"FP16", hw.kind == DeviceKind::GPU && hw.fp8 ? "FP8" : "INT8", "INT4"};
  const bool long_ctx = work.context >= kLongContext;
  auto find_row = [&](const std::string& name) -> const SchemeRow& {
    for (const SchemeRow& r : p.rows) if (r.scheme.name == name) return r;
    throw std::logic_error("scheme " + name);
  };
  auto find_kv = [&](const std::string& name) -> const KvSize& {
    for (const KvSize& k : p.kv) if (k.format.name == name) return k;
    throw std::logic_error("kv " + name);
  };
  for (const Candidate& c : order) {
    const SchemeRow& r = find_row(c.scheme);
    for (size_t ki = long_ctx ? 1 : 0; ki < kv_order.size(); ++ki) {
      const KvSize& kv = find_kv(kv_order[ki]);
      const double total = r.weight_bytes + kv.bytes + p.activation_bytes;
      if (total > usable) continue;
      Recommendation rec;
      rec.scheme = c.scheme;
      rec.kv_cache = kv.format.name;
      rec.engine = engine;
      rec.total_bytes = total;
      if (bw > 0) {
        rec.decode_tps_single = bw / (r.weight_bytes + kv.bytes_per_seq);
        rec.decode_tps_batch = double(work.users) * bw / (r.weight_bytes + kv.bytes);
      }
      rec.reasons.push_back(c.why + std::string("."));
      if (r.scheme.family == SchemeFamily::Integer && r.scheme.group)
        rec.reasons.push_back("Group size 128 is the starting point; if the quality loss is too high "
                              "go to 64 or 32 (+0.125 / +0.375 bits per weight).");
      if (ki > 0)
        rec.reasons.push_back(fmt::format(
            "{} KV cache ({:.4g} bits per element): {}.", kv.format.name, kv.format.bits,
            long_ctx ? fmt::format("long context ({} tokens): the FP16 cache would be {}", work.context,
                                   format_gb(p.kv[0].bytes))
                     : fmt::format("the FP16 cache ({}) does not fit next to the weights",
                                   format_gb(p.kv[0].bytes))));
      if (target->gpus > 1) rec.reasons.push_back(fmt::format("Tensor parallel over {} GPUs.", target->gpus));
      rec.reasons.push_back(fmt::format("Needs {} of {} usable ({}).", format_gb(total), format_gb(usable),
                                        usable_text(*target)));
      p.rec = rec;
      return p;
    }
  }
  // Nothing in the preferred list fits: report the smallest configuration and the shortfall.
  const SchemeRow* best = &p.rows[0];
  for (const SchemeRow& r : p.rows) if (r.weight_bytes < best->weight_bytes) best = &r;
  const KvSize& kv4 = find_kv("INT4");
  const double need = best->weight_bytes + kv4.bytes + p.activation_bytes;
  const double smallest_pref = find_row(order.back().scheme).weight_bytes + kv4.bytes + p.activation_bytes;
  const SchemeRow& pref = find_row(order.back().scheme);
  std::string what = fmt::format("{} weights {} + INT4 KV cache {} + activations {}", pref.scheme.name,
                                 format_gb(pref.weight_bytes), format_gb(kv4.bytes),
                                 format_gb(p.activation_bytes));
  throw Error("plan", fmt::format("does not fit on {}: {} needs {}, has {} usable ({}): {} short; the smallest "
                                  "option, {} with INT4 KV, needs {}",
                                  target->hw.name, what, format_gb(smallest_pref), format_gb(usable),
                                  usable_text(*target), format_gb(smallest_pref - usable), best->scheme.name,
                                  format_gb(need)));
}

}  // namespace squish::plan
