// compressed-tensors checkpoints (llm-compressor, squish export): config_groups matched to modules
// by their targets (exact name > "re:" pattern > "Linear"), then per module
//   pack-quantized   weight_packed int32 [out, ceil(in·k/32)] — a dense little-endian k-bit
//                    stream per row of codes + 2^(k−1) — with weight_shape, weight_scale, an
//                    optional weight_zero_point packed the same way along the output dimension
//                    (unpacked for per-tensor scales) and an optional weight_g_idx;
//   int-quantized / naive-quantized   int8 weight (+ optional zero point);
//   float-quantized  FP8 E4M3 weight;
// scales per tensor, channel, group or block, decompressed as compressed-tensors' decompressors
// do: scale · (code − zero). input_activations give the linear's input quantization: dynamic per
// token or static per tensor with the stored input_scale.
#include <cmath>
#include <cstdio>

#include "hf_quantized_internal.h"
#include "squish/common/name_pattern.h"

namespace squish::hfq {

namespace {

// compressed-tensors QuantizationArgs, as far as loading needs them.
struct Args {
  int bits = 8;
  std::string type = "int";  // "int" | "float"
  bool symmetric = true;
  std::string strategy;      // "tensor" | "channel" | "group" | "block" | "token" | …
  int64_t group_size = 0;
  std::vector<int64_t> block;  // [rows, cols] for "block"
  bool dynamic = false;
  bool dynamic_local = false;  // dynamic: "local" (tensor-group scales)
  bool actorder_group = false;
};

Args parse_args(const Reader& r, const json& j, const std::string& where) {
  if (!j.is_object()) r.fail("quantization_config: " + where + " is not an object");
  Args a;
  a.bits = static_cast<int>(json_int(r, j, "num_bits", 8));
  a.type = json_str(r, j, "type", "int");
  a.symmetric = json_bool(r, j, "symmetric", true);
  a.group_size = json_int(r, j, "group_size", 0);
  a.strategy = json_str(r, j, "strategy", "");
  if (a.strategy.empty())  // as QuantizationArgs' validator infers it
    a.strategy = a.group_size > 0 ? "group" : a.group_size == -1 ? "channel" : "tensor";
  if (const auto it = j.find("block_structure"); it != j.end() && !it->is_null()) {
    long br = 0, bc = 0;
    if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer())
      br = (*it)[0].get<long>(), bc = (*it)[1].get<long>();
    else if (it->is_string())  // older configs: "128x128"
      std::sscanf(it->get<std::string>().c_str(), "%ldx%ld", &br, &bc);
    if (br <= 0 || bc <= 0) r.fail("quantization_config: " + where + ".block_structure is not [rows, cols]");
    a.block = {br, bc};
  }
  if (const auto it = j.find("dynamic"); it != j.end() && !it->is_null()) {
    if (it->is_boolean()) a.dynamic = it->get<bool>();
    else if (it->is_string() && it->get<std::string>() == "local") a.dynamic = a.dynamic_local = true;
    else r.fail("quantization_config: " + where + ".dynamic is not a boolean");
  }
  if (const auto it = j.find("actorder"); it != j.end() && !it->is_null())
    a.actorder_group = it->is_boolean() ? it->get<bool>() : it->is_string() && it->get<std::string>() == "group";
  if (a.type != "int" && a.type != "float")
    r.fail("quantization_config: " + where + " has type '" + a.type + "' (int, float)");
  return a;
}

// One entry of config_groups.
struct Group {
  std::string name;
  std::vector<std::string> targets;
  json weights, input, output;
  std::string format;
};

// How well `target` selects `module`: 3 exact name, 2 "re:" pattern (re.match: anchored at the
// start), 1 the class name Linear (every quantized module here is a linear), 0 no match.
int match_rank(const Reader& r, const std::string& target, const std::string& module) {
  if (target == module) return 3;
  if (target.rfind("re:", 0) == 0) {
    try {
      return NamePattern(target.substr(3)).match_prefix(module) ? 2 : 0;
    } catch (const Error& e) {
      r.fail("quantization_config: cannot parse target pattern '" + target + "' (" + e.problem() + ")");
    }
  }
  return target == "Linear" ? 1 : 0;
}

int best_rank(const Reader& r, const std::vector<std::string>& targets, const std::string& module) {
  int best = 0;
  for (const auto& t : targets) best = std::max(best, match_rank(r, t, module));
  return best;
}

std::vector<std::string> string_list(const Reader& r, const json& j, const std::string& where) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (j.is_string()) return {j.get<std::string>()};
  if (!j.is_array()) r.fail("quantization_config: " + where + " is not a list");
  for (const auto& e : j) {
    if (!e.is_string()) r.fail("quantization_config: " + where + " holds a non-string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

// Codes read as stored (int8 or FP8 E4M3) by the SafeTensors conversion.
class NaiveLinear final : public GridLinear {
 public:
  const SafeTensor* zero = nullptr;  // optional zero points, map.size() values
  void row_codes(int64_t r, float* dst) const override {
    const size_t n = static_cast<size_t>(in_features);
    st_convert_to_f32(weight->dtype, weight->data + static_cast<size_t>(r) * n * st_dtype_size(weight->dtype), dst, n);
  }
  std::vector<float> zeros() const override {
    if (!zero) return {};
    std::vector<float> z(static_cast<size_t>(map.size()));
    st_convert_to_f32(zero->dtype, zero->data, z.data(), z.size());
    return z;
  }
};

// Codes packed by pack_to_int32 (offset by 2^(bits−1)).
class PackedLinear final : public GridLinear {
 public:
  int bits = 4;
  int64_t words = 0;                 // int32 words per row
  const SafeTensor* zero = nullptr;  // optional zero points
  bool zero_packed = false;          // packed along the output dimension, [ceil(out·bits/32), groups]

  void row_codes(int64_t r, float* dst) const override {
    const uint8_t* w = weight->data + static_cast<size_t>(r * words) * 4;
    for (int64_t c = 0; c < in_features; ++c)
      dst[c] = static_cast<float>(stream_bits(w, static_cast<uint64_t>(c) * bits, bits));
  }
  std::vector<float> zeros() const override {
    if (!zero) return {};
    std::vector<float> z(static_cast<size_t>(map.size()));
    if (!zero_packed) {  // signed zero points as compressed-tensors computes them
      st_convert_to_f32(zero->dtype, zero->data, z.data(), z.size());
      for (float& v : z) v += default_zero;
      return z;
    }
    const int64_t g_n = zero->shape[1], zw = zero->shape[0];
    std::vector<uint8_t> column(static_cast<size_t>(zw) * 4);
    for (int64_t g = 0; g < g_n; ++g) {
      for (int64_t k = 0; k < zw; ++k) std::memcpy(&column[static_cast<size_t>(k) * 4], zero->data + (k * g_n + g) * 4, 4);
      for (int64_t r = 0; r < out_features; ++r)
        z[static_cast<size_t>(r * g_n + g)] = static_cast<float>(stream_bits(column.data(), static_cast<uint64_t>(r) * bits, bits));
    }
    return z;
  }
};

// The scale grid the weight args describe, with the stored scale tensor checked against it.
void set_scale_map(const Reader& r, const Args& a, const std::string& module, GridLinear& l) {
  ScaleMap& m = l.map;
  m.rows = l.out_features;
  m.cols = l.in_features;
  if (a.strategy == "tensor") {
    m.kind = ScaleMap::Kind::Tensor;
  } else if (a.strategy == "channel") {
    m.kind = ScaleMap::Kind::Channel;
  } else if (a.strategy == "group") {
    if (a.group_size <= 0) r.fail(module + ": group strategy without a positive group_size");
    m.set_groups(a.group_size, (m.cols + a.group_size - 1) / a.group_size);
  } else if (a.strategy == "block") {
    if (a.block.size() != 2 || a.block[0] <= 0 || a.block[1] <= 0)
      r.fail(module + ": block strategy without a block_structure");
    m.kind = ScaleMap::Kind::Block;
    m.block_rows = a.block[0];
    m.group = a.block[1];
    m.per_row = (m.cols + a.block[1] - 1) / a.block[1];
  } else {
    r.fail(module + ": weight strategy '" + a.strategy + "' is not supported (tensor, channel, group, block)");
  }
  const SafeTensor& s = r.need(module, "weight_scale");
  r.check_dtype(s, {STDType::F32, STDType::F16, STDType::BF16});
  if (m.kind == ScaleMap::Kind::Group || m.kind == ScaleMap::Kind::Block) r.check_shape(s, m.shape());
  else r.check_elements(s, m.size());
  l.scales = &s;
}

// The input quantization vLLM applies for input_activations `ia`.
void set_input_quant(const Reader& r, const Group& g, const std::string& module, HFQuantizedLinear& l) {
  if (g.input.is_null()) return;
  const Args a = parse_args(r, g.input, g.name + ".input_activations");
  const bool fp8 = a.type == "float";
  if (a.bits != 8) r.fail(module + ": " + std::to_string(a.bits) + "-bit input activations are not supported (8)");
  if (!a.symmetric) r.fail(module + ": asymmetric input activations are not supported");
  if (a.dynamic && !a.dynamic_local && a.strategy == "token") {
    l.input_quant = fp8 ? InputQuant::Fp8PerToken : InputQuant::Int8PerToken;
  } else if (!a.dynamic && a.strategy == "tensor") {
    const SafeTensor& s = r.need(module, "input_scale");
    r.check_dtype(s, {STDType::F32, STDType::F16, STDType::BF16});
    r.check_elements(s, 1);
    float v = 0.0f;
    st_convert_to_f32(s.dtype, s.data, &v, 1);
    if (!(v > 0.0f) || !std::isfinite(v)) r.fail("tensor " + s.name + " is not a positive finite scale");
    l.input_quant = fp8 ? InputQuant::Fp8Static : InputQuant::Int8Static;
    l.input_scale = v;
  } else {
    r.fail(module + ": " + std::string(a.dynamic ? "dynamic " : "static ") + a.strategy +
           " input activations are not supported (dynamic per token, static per tensor)");
  }
}

std::string scheme_text(const std::string& format, const Args& a, bool g_idx, InputQuant iq) {
  std::string s = "compressed-tensors " + format + " " + (a.type == "float" ? "fp" : "int") +
                  std::to_string(a.bits) + (a.symmetric ? " sym " : " asym ") + a.strategy;
  if (a.strategy == "group") s += " " + std::to_string(a.group_size);
  if (a.strategy == "block") s += " " + std::to_string(a.block[0]) + "x" + std::to_string(a.block[1]);
  if (g_idx) s += " g_idx";
  if (iq != InputQuant::None) s += ", input " + input_quant_name(iq);
  return s;
}

// One quantized module of group g in `format`.
void add_module(const Reader& r, const Group& g, const std::string& format, const std::string& module,
                HFQuantization& out) {
  if (g.weights.is_null()) r.fail(module + ": config group " + g.name + " quantizes no weights");
  const Args a = parse_args(r, g.weights, g.name + ".weights");
  std::vector<std::string> owned;
  for (const char* s : {"weight_scale", "weight_zero_point", "weight_g_idx", "weight_shape", "input_scale"})
    if (r.find(module, s)) owned.push_back(module + "." + s);
  if (r.find(module, "input_zero_point")) r.fail(module + ": asymmetric input activations are not supported");
  std::unique_ptr<GridLinear> lin;
  bool has_g_idx = false;
  if (format == "pack-quantized") {
    if (a.type != "int" || a.bits < 1 || a.bits > 8)
      r.fail(module + ": pack-quantized holds int1..int8, not " + a.type + std::to_string(a.bits));
    auto p = std::make_unique<PackedLinear>();
    const SafeTensor& w = r.need(module, "weight_packed");
    const SafeTensor& shape = r.need(module, "weight_shape");
    r.check_dtype(w, {STDType::I32});
    r.check_dtype(shape, {STDType::I64, STDType::I32});
    r.check_elements(shape, 2);
    const auto read_dim = [&](int i) -> int64_t {
      if (shape.dtype == STDType::I32) return static_cast<int32_t>(load_u32(shape.data, i));
      int64_t v;
      std::memcpy(&v, shape.data + 8 * i, 8);
      return v;
    };
    p->out_features = read_dim(0);
    p->in_features = read_dim(1);
    if (p->out_features <= 0 || p->in_features <= 0 || p->out_features > (1 << 24) || p->in_features > (1 << 24))
      r.fail("tensor " + shape.name + " holds an impossible shape");
    p->bits = a.bits;
    p->code_hi = (1 << a.bits) - 1;
    p->words = (p->in_features * a.bits + 31) / 32;
    r.check_shape(w, {p->out_features, p->words});
    p->weight = &w;
    p->default_zero = static_cast<float>(1 << (a.bits - 1));
    set_scale_map(r, a, module, *p);
    if (const SafeTensor* z = r.find(module, "weight_zero_point")) {
      const int64_t groups = p->map.kind == ScaleMap::Kind::Group ? p->map.per_row : 1;
      const std::vector<int64_t> packed = {(p->out_features * a.bits + 31) / 32, groups};
      p->zero = z;
      if (z->dtype == STDType::I32 && z->shape == packed && p->map.kind != ScaleMap::Kind::Tensor &&
          p->map.kind != ScaleMap::Kind::Block) {
        p->zero_packed = true;
      } else {
        r.check_dtype(*z, {STDType::I8, STDType::I32, STDType::I64, STDType::F32, STDType::F16, STDType::BF16});
        if (p->map.kind == ScaleMap::Kind::Tensor) r.check_elements(*z, 1);
        else r.check_shape(*z, z->dtype == STDType::I32 ? packed : p->map.shape());
      }
    } else if (!a.symmetric) {
      r.fail("missing tensor " + module + ".weight_zero_point (asymmetric weights)");
    }
    lin = std::move(p);
  } else if (format == "int-quantized" || format == "naive-quantized" || format == "float-quantized") {
    auto n = std::make_unique<NaiveLinear>();
    const SafeTensor& w = r.need(module, "weight");
    if (a.type == "float") {
      if (a.bits != 8) r.fail(module + ": float weights of " + std::to_string(a.bits) + " bits are not supported (FP8 E4M3)");
      r.check_dtype(w, {STDType::F8_E4M3});
    } else {
      if (a.bits < 1 || a.bits > 8) r.fail(module + ": int" + std::to_string(a.bits) + " weights are not supported");
      r.check_dtype(w, {STDType::I8});
      n->code_lo = -128;
      n->code_hi = 127;
    }
    if (w.shape.size() != 2) r.fail("tensor " + w.name + " has shape " + shape_str(w.shape) + ", expected a matrix");
    n->out_features = w.shape[0];
    n->in_features = w.shape[1];
    n->weight = &w;
    set_scale_map(r, a, module, *n);
    if (const SafeTensor* z = r.find(module, "weight_zero_point")) {
      r.check_dtype(*z, {STDType::I8, STDType::I32, STDType::I64, STDType::F32, STDType::F16, STDType::BF16});
      r.check_elements(*z, n->map.size());
      n->zero = z;
    } else if (!a.symmetric) {
      r.fail("missing tensor " + module + ".weight_zero_point (asymmetric weights)");
    }
    lin = std::move(n);
  } else {
    r.fail(module + ": compressed-tensors format '" + format +
           "' is not supported (pack-quantized, int-quantized, float-quantized, naive-quantized)");
  }
  if (const SafeTensor* gi = r.find(module, "weight_g_idx")) {
    if (lin->map.kind != ScaleMap::Kind::Group) r.fail("tensor " + gi->name + " without group scales");
    lin->map.read_g_idx(r, *gi);
    has_g_idx = true;
  }
  set_input_quant(r, g, module, *lin);
  lin->module = module;
  lin->scheme = scheme_text(format, a, has_g_idx, lin->input_quant);
  out.add(std::move(lin), owned);
}

}  // namespace

void read_compressed_tensors(const Reader& r, const json& qc, HFQuantization& out) {
  const std::string status = json_str(r, qc, "quantization_status", "compressed");
  if (status != "compressed")
    r.fail("compressed-tensors quantization_status '" + status + "' is not supported (compressed)");
  // A static 8-bit KV-cache scheme (k_scale / v_scale per attention module, as squish and
  // llm-compressor write it) loads: with type float an FP8 cache (--kv-cache-dtype fp8) uses the
  // scales as vLLM does; INT8 scales are for other runtimes. Without a scheme such tensors are
  // left alone, as transformers leaves them.
  bool fp8_kv = false;
  if (const auto it = qc.find("kv_cache_scheme"); it != qc.end() && !it->is_null()) {
    const std::string type = it->is_object() ? json_str(r, *it, "type", "") : "";
    const bool ok = it->is_object() && it->value("num_bits", 0) == 8 && (type == "float" || type == "int") &&
                    json_str(r, *it, "strategy", "") == "tensor" && !it->value("dynamic", false);
    if (!ok)
      r.fail("compressed-tensors kv_cache_scheme other than static 8-bit per-tensor is not supported (use --kv-cache-dtype)");
    fp8_kv = type == "float";
  }
  for (const char* s : {"k_scale", "v_scale"})
    for (const std::string& m : modules_with(r, s)) {
      out.claim(m + "." + s);
      if (!fp8_kv) continue;
      const SafeTensor& t = r.need(m, s);
      r.check_dtype(t, {STDType::F32, STDType::F16, STDType::BF16});
      r.check_elements(t, 1);
      float v = 0.0f;
      st_convert_to_f32(t.dtype, t.data, &v, 1);
      if (!(v > 0.0f) || !std::isfinite(v)) r.fail("tensor " + t.name + " is not a positive finite scale");
      auto& e = out.kv_fp8_scales[m];
      (s[0] == 'k' ? e.first : e.second) = v;
    }
  if (const auto it = qc.find("transform_config");
      it != qc.end() && !it->is_null() && !it->empty() && !(it->is_object() && it->contains("config_groups") &&
                                                               (*it)["config_groups"].empty()))
    r.fail("compressed-tensors transform_config (rotations) is not supported");
  if (const auto it = qc.find("sparsity_config"); it != qc.end() && !it->is_null() && it->is_object() &&
      json_str(r, *it, "format", "dense") != "dense")
    r.fail("compressed-tensors sparsity_config (" + json_str(r, *it, "format", "") + ") is not supported");
  const std::string top_format = json_str(r, qc, "format", "");
  const auto cg = qc.find("config_groups");
  if (cg == qc.end() || !cg->is_object() || cg->empty()) r.fail("compressed-tensors config has no config_groups");
  std::vector<Group> groups;
  for (const auto& [name, g] : cg->items()) {
    if (!g.is_object()) r.fail("quantization_config: config group " + name + " is not an object");
    Group gr;
    gr.name = name;
    gr.targets = string_list(r, g.value("targets", json()), name + ".targets");
    gr.weights = g.value("weights", json());
    gr.input = g.value("input_activations", json());
    gr.output = g.value("output_activations", json());
    gr.format = json_str(r, g, "format", "");
    if (!gr.output.is_null()) r.fail("compressed-tensors output_activations (group " + name + ") are not supported");
    groups.push_back(std::move(gr));
  }
  const std::vector<std::string> ignore = string_list(r, qc.value("ignore", json()), "ignore");

  // Quantized modules: those with packed weights, weight scales or int8 / FP8 weights.
  std::vector<std::string> modules = modules_with(r, "weight_packed");
  for (const auto& m : modules_with(r, "weight_scale"))
    if (std::find(modules.begin(), modules.end(), m) == modules.end()) modules.push_back(m);
  for (const auto& m : modules_with(r, "weight")) {
    const STDType t = r.find(m, "weight")->dtype;
    if ((t == STDType::I8 || t == STDType::F8_E4M3) && std::find(modules.begin(), modules.end(), m) == modules.end())
      modules.push_back(m);
  }
  for (const auto& m : modules) {
    const Group* best = nullptr;
    int rank = 0;
    for (const auto& g : groups)
      if (const int k = best_rank(r, g.targets, m); k > rank) best = &g, rank = k;
    if (!best) r.fail(m + " is stored quantized but no config group targets it");
    if (best_rank(r, ignore, m) > 0) r.fail(m + " is stored quantized but listed in ignore");
    std::string format = best->format.empty() ? top_format : best->format;
    if (format.empty() || format == "mixed-precision")  // per-group format missing: what is stored says it
      format = r.find(m, "weight_packed") ? "pack-quantized"
               : r.find(m, "weight") && r.find(m, "weight")->dtype == STDType::F8_E4M3 ? "float-quantized"
                                                                                       : "int-quantized";
    add_module(r, *best, format, m, out);
  }
}

}  // namespace squish::hfq
