// Markdown and JSON rendering of a deployment plan, with the arithmetic shown.
#include <cmath>

#include <fmt/format.h>

#include "squish/plan/planner.h"

namespace squish::plan {
namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

// Rule-of-thumb sizes: every parameter at the same width.
struct Thumb {
  const char* name;
  double bits;
};
constexpr Thumb kThumbs[] = {{"FP16", 16}, {"INT8", 8}, {"INT4 g128 + FP16 scales", 4.125}, {"INT4 (payload only)", 4}};

std::string params_text(double n) {
  if (n >= 1e9) return fmt::format("{:.4g}e9", n / 1e9);
  return fmt::format("{:.4g}e6", n / 1e6);
}

// First-level NF4 overhead, double-quantized overhead, and the saving for n parameters.
struct DoubleQuant {
  double plain = 32.0 / 64, dq = 8.0 / 64 + 32.0 / (64.0 * 256);
  double saving_bytes(double n) const { return (plain - dq) * n / 8; }
};

}  // namespace

std::string format_gb(double bytes) {
  const double gb = bytes / 1e9;
  if (gb >= 100) return fmt::format("{:.1f} GB", gb);
  if (gb >= 1) return fmt::format("{:.2f} GB", gb);
  return fmt::format("{:.3f} GB", gb);
}

std::string render_markdown(const Plan& p) {
  const ModelShape& m = p.model;
  std::string o = fmt::format("# squish plan: {}\n\n## Model\n\n", m.name);
  o += fmt::format("- source: {}\n- architecture: {}; parameters: {} ({:.4g} B)\n", m.source, m.arch,
                   params_text(m.n_params), m.n_params / 1e9);
  o += fmt::format("- layers {}, attention heads {}, KV heads {}, head dim {}, hidden {}, FFN {}, vocab {}{}\n",
                   m.n_layer, m.n_head, m.n_head_kv, m.head_dim, m.n_embd, m.n_ff, m.n_vocab,
                   m.tied_embeddings ? " (tied embeddings)" : "");
  if (m.n_swa_layers > 0 && m.sliding_window > 0)
    o += fmt::format("- {} of {} layers use sliding-window attention (window {})\n", m.n_swa_layers, m.n_layer,
                     m.sliding_window);
  if (m.shape_estimated)
    o += "- hidden/FFN/vocab not given: estimated for a Llama-style layout (FFN = 3.5 × hidden, vocab 32000); "
         "only the split between embeddings and linear layers depends on it\n";
  o += fmt::format("\n## Workload\n\n- context {} tokens, {} concurrent users, goal: {}\n", p.work.context,
                   p.work.users, goal_name(p.work.goal));
  if (m.n_ctx_train > 0 && p.work.context > m.n_ctx_train)
    o += fmt::format("- note: the model was trained for {} tokens of context\n", m.n_ctx_train);
  if (p.target) {
    const Target& t = *p.target;
    o += fmt::format("\n## Hardware\n\n- {} ({}; {}){}\n", t.hw.name, device_kind_name(t.hw.kind), t.hw.note,
                     t.gpus > 1 ? fmt::format(" × {}", t.gpus) : "");
    o += fmt::format("- memory {:g} GB per device ({}); usable {} = {:g} GB{} × {:.2f} ({})\n", t.memory_gb,
                     t.memory_note, format_gb(t.usable_bytes()), t.memory_gb,
                     t.gpus > 1 ? fmt::format(" × {} GPUs", t.gpus) : "", t.hw.usable_fraction,
                     t.hw.usable_reason);
    o += fmt::format("- memory bandwidth {}; FP8 tensor cores: {}; INT8: {}\n",
                     t.hw.bandwidth_gbs > 0 ? fmt::format("{:g} GB/s", t.hw.bandwidth_gbs) : "unknown",
                     yes_no(t.hw.fp8), yes_no(t.hw.int8));
  }

  o += "\n## Rule of thumb: parameters × bits / 8\n\n| precision | arithmetic | size |\n|---|---|---|\n";
  for (const Thumb& t : kThumbs)
    o += fmt::format("| {} | {} × {:g} / 8 | {} |\n", t.name, params_text(m.n_params), t.bits,
                     format_gb(m.n_params * t.bits / 8));
  o += "\nScale overhead of INT4 g128 with FP16 scales, two views of the same bytes:\n"
       "- per weight: 4 bits + 16 bits of scale / 128 weights = 4 + 0.125 = **4.125 bits per weight** "
       "(3.1% over the 4-bit payload: 2 bytes per 64 bytes of packed INT4);\n"
       "- the common \"2/128 ≈ 1.6%\": 2 bytes of scale per 128 weights, counted against one byte per "
       "weight (128 bytes, the INT8 size) = 1.56% — the same 2 bytes, a different denominator.\n";

  o += "\n## Weights per scheme\n\nLinear layers quantized; embeddings, output and norms stay 16-bit for "
       "the W*/FP8/NF4 schemes (llm-compressor and bitsandbytes defaults); GGUF mixes choose per-tensor "
       "types by llama.cpp's rules.\n\n";
  o += "| scheme | bits/weight (linear) | bits/param (all) | weights | + FP16 KV + activations | fits | "
       "decode ≤ tok/s |\n|---|---|---|---|---|---|---|\n";
  for (const SchemeRow& r : p.rows) {
    std::string fits = "—";
    if (p.target) fits = r.fits ? "yes" : fmt::format("no ({} short)", format_gb(r.short_bytes));
    o += fmt::format("| {} | {} | {:.3f} | {} | {} | {} | {} |\n", r.scheme.name, r.bits_formula,
                     r.bits_effective, format_gb(r.weight_bytes), format_gb(r.total_fp16_kv), fits,
                     r.decode_tps > 0 ? fmt::format("{:.1f}", r.decode_tps) : "—");
  }
  if (p.target && p.target->hw.bandwidth_gbs > 0)
    o += "\nDecode speed is an **upper bound**: memory bandwidth / bytes read per token (all weights plus "
         "one sequence's KV cache at the full context); real engines reach 50–80% of it.\n";

  o += fmt::format("\n## KV cache\n\n{}\n\n| format | bits/element | per sequence | all users |\n|---|---|---|---|\n",
                   p.kv_arithmetic);
  for (const KvSize& k : p.kv)
    o += fmt::format("| {} ({}) | {:.4g} | {} | {} |\n", k.format.name, k.format.layout, k.format.bits,
                     format_gb(k.bytes_per_seq), format_gb(k.bytes));
  o += fmt::format("\n## Activations\n\n{}\n", p.activation_arithmetic);

  const DoubleQuant dq;
  o += fmt::format(
      "\n## NF4 double quantization, from the block sizes\n\n"
      "- NF4: block of 64 weights with an FP32 absmax: 32/64 = {:.3f} bit/param of overhead\n"
      "- double quantization: 8-bit absmax per block + FP32 scale per 256 blocks: 8/64 + 32/(64·256) = "
      "{:.4f} bit/param\n"
      "- saving {:.4f} bit/param × {} params / 8 = **{}** for this model; for 70e9 params: {}\n"
      "- the ≈3.3 GB figure for 70B is this arithmetic (QLoRA: 0.373 bit/param); a ≈0.5 GB figure does "
      "not follow from the block sizes — it matches the 0.5 bit/param first-level overhead read as GB, or "
      "the saving of a 7–13B model (0.33–0.61 GB)\n",
      dq.plain, dq.dq, dq.plain - dq.dq, params_text(m.n_params), format_gb(dq.saving_bytes(m.n_params)),
      format_gb(dq.saving_bytes(70e9)));

  if (p.rec) {
    const Recommendation& r = *p.rec;
    o += fmt::format("\n## Recommendation\n\n- **scheme: {}**, KV cache {}, engine: {}\n- memory: {}\n", r.scheme,
                     r.kv_cache, r.engine, format_gb(r.total_bytes));
    if (r.decode_tps_single > 0)
      o += fmt::format("- decode speed upper bound (bandwidth / bytes per token): {:.1f} tokens/s per sequence{}\n",
                       r.decode_tps_single,
                       p.work.users > 1 ? fmt::format(", {:.1f} tokens/s for all {} users together",
                                                      r.decode_tps_batch, p.work.users)
                                        : "");
    for (const std::string& s : r.reasons) o += "- " + s + "\n";
  } else if (!p.target) {
    o += "\nNo hardware given (--hardware, --vram or --ram): no fit check or recommendation.\n";
  }
  return o;
}

nlohmann::json render_json(const Plan& p) {
  const ModelShape& m = p.model;
  nlohmann::json j;
  j["model"] = {{"name", m.name},       {"source", m.source},         {"arch", m.arch},
                {"params", m.n_params}, {"layers", m.n_layer},        {"heads", m.n_head},
                {"kv_heads", m.n_head_kv}, {"head_dim", m.head_dim},  {"hidden", m.n_embd},
                {"ffn", m.n_ff},        {"vocab", m.n_vocab},         {"tied_embeddings", m.tied_embeddings},
                {"sliding_window", m.sliding_window}, {"swa_layers", m.n_swa_layers},
                {"shape_estimated", m.shape_estimated}};
  j["workload"] = {{"context", p.work.context}, {"users", p.work.users}, {"goal", goal_name(p.work.goal)}};
  if (p.target) {
    const Target& t = *p.target;
    j["hardware"] = {{"name", t.hw.name}, {"kind", device_kind_name(t.hw.kind)}, {"gpus", t.gpus},
                     {"memory_gb", t.memory_gb}, {"usable_bytes", t.usable_bytes()},
                     {"usable_fraction", t.hw.usable_fraction}, {"bandwidth_gbs", t.hw.bandwidth_gbs},
                     {"fp8", t.hw.fp8}, {"int8", t.hw.int8}};
  }
  nlohmann::json thumbs = nlohmann::json::object();
  for (const Thumb& t : kThumbs) thumbs[t.name] = m.n_params * t.bits / 8;
  j["rule_of_thumb_bytes"] = thumbs;
  j["int4_g128_scale_overhead"] = {{"bits_per_weight", 4 + 16.0 / 128},
                                   {"overhead_vs_int4_payload", 2.0 / 64},
                                   {"overhead_vs_one_byte_per_weight", 2.0 / 128}};
  nlohmann::json rows = nlohmann::json::array();
  for (const SchemeRow& r : p.rows) {
    nlohmann::json row = {{"scheme", r.scheme.name}, {"bits_linear", r.bits_linear},
                          {"bits_formula", r.bits_formula}, {"bits_effective", r.bits_effective},
                          {"weight_bytes", r.weight_bytes}, {"total_bytes_fp16_kv", r.total_fp16_kv},
                          {"layout", r.scheme.layout}, {"activations", r.scheme.activations}};
    if (p.target) {
      row["fits"] = r.fits;
      row["short_bytes"] = r.short_bytes;
    }
    if (r.decode_tps > 0) row["decode_tokens_per_s_upper_bound"] = r.decode_tps;
    rows.push_back(row);
  }
  j["schemes"] = rows;
  nlohmann::json kv = nlohmann::json::array();
  for (const KvSize& k : p.kv)
    kv.push_back({{"format", k.format.name}, {"bits", k.format.bits}, {"bytes", k.bytes},
                  {"bytes_per_sequence", k.bytes_per_seq}});
  j["kv_cache"] = kv;
  j["kv_arithmetic"] = p.kv_arithmetic;
  j["activation_bytes"] = p.activation_bytes;
  j["activation_arithmetic"] = p.activation_arithmetic;
  const DoubleQuant dq;
  j["nf4_double_quant"] = {{"overhead_bits", dq.plain}, {"overhead_bits_dq", dq.dq},
                           {"saving_bits", dq.plain - dq.dq}, {"saving_bytes", dq.saving_bytes(m.n_params)},
                           {"saving_bytes_70e9", dq.saving_bytes(70e9)}};
  if (p.rec) {
    const Recommendation& r = *p.rec;
    j["recommendation"] = {{"scheme", r.scheme}, {"kv_cache", r.kv_cache}, {"engine", r.engine},
                           {"total_bytes", r.total_bytes}, {"reasons", r.reasons},
                           {"decode_tokens_per_s_upper_bound", r.decode_tps_single},
                           {"batch_tokens_per_s_upper_bound", r.decode_tps_batch}};
  }
  return j;
}

}  // namespace squish::plan
