// Quantized HF checkpoints: finding the quantization_config, dispatching to the format readers,
// vLLM's shared static input scale of fused linears, and the helpers the readers share
// (hf_quantized_internal.h).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "hf_quantized_internal.h"
#include "squish/common/parallel.h"

namespace squish {

namespace fs = std::filesystem;

namespace hfq {

json read_json_limited(const std::string& path, uintmax_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(path, "cannot open: " + ec.message());
  if (size > max_bytes) throw Error(path, "file is absurdly large");
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw Error(path, "not valid JSON: " + what);
  }
}

void Reader::fail(const std::string& problem) const { throw Error(dir, problem); }

const SafeTensor* Reader::find(const std::string& module, const std::string& suffix) const {
  return st.find(module + "." + suffix);
}

const SafeTensor& Reader::need(const std::string& module, const std::string& suffix) const {
  const SafeTensor* t = find(module, suffix);
  if (!t) fail("missing tensor " + module + "." + suffix);
  return *t;
}

void Reader::check_dtype(const SafeTensor& t, std::initializer_list<STDType> ok) const {
  if (std::find(ok.begin(), ok.end(), t.dtype) != ok.end()) return;
  std::string want;
  for (STDType d : ok) want += (want.empty() ? "" : " or ") + std::string(st_dtype_name(d));
  fail("tensor " + t.name + " has dtype " + st_dtype_name(t.dtype) + ", expected " + want);
}

void Reader::check_shape(const SafeTensor& t, const std::vector<int64_t>& shape) const {
  if (t.shape != shape)
    fail("tensor " + t.name + " has shape " + shape_str(t.shape) + ", expected " + shape_str(shape));
}

void Reader::check_elements(const SafeTensor& t, int64_t n) const {
  if (t.n_elements() != n)
    fail("tensor " + t.name + " has shape " + shape_str(t.shape) + ", expected " + std::to_string(n) +
         (n == 1 ? " element" : " elements"));
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t json_int(const Reader& r, const json& j, const char* key, int64_t def) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_float()) {  // a whole number within int64 (casting 1e300 is undefined)
    const double d = it->get<double>();
    if (d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d)) return static_cast<int64_t>(d);
  }
  r.fail(std::string("quantization_config: ") + key + " is not an integer");
}

bool json_bool(const Reader& r, const json& j, const char* key, bool def) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) r.fail(std::string("quantization_config: ") + key + " is not a boolean");
  return it->get<bool>();
}

std::string json_str(const Reader& r, const json& j, const char* key, const std::string& def) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_string()) r.fail(std::string("quantization_config: ") + key + " is not a string");
  return it->get<std::string>();
}

int64_t ScaleMap::size() const {
  switch (kind) {
    case Kind::Tensor: return 1;
    case Kind::Channel: return rows;
    case Kind::Group: return rows * per_row;
    case Kind::Block: return (rows + block_rows - 1) / block_rows * per_row;
  }
  return 1;
}

std::vector<int64_t> ScaleMap::shape() const {
  switch (kind) {
    case Kind::Tensor: return {1};
    case Kind::Channel: return {rows, 1};
    case Kind::Group: return group_major ? std::vector<int64_t>{per_row, rows} : std::vector<int64_t>{rows, per_row};
    case Kind::Block: return {(rows + block_rows - 1) / block_rows, per_row};
  }
  return {1};
}

void ScaleMap::set_groups(int64_t group_size, int64_t groups) {
  kind = Kind::Group;
  group = group_size;
  per_row = groups;
}

void ScaleMap::read_g_idx(const Reader& r, const SafeTensor& t) {
  r.check_dtype(t, {STDType::I32});
  r.check_shape(t, {cols});
  g_idx.resize(static_cast<size_t>(cols));
  std::memcpy(g_idx.data(), t.data, g_idx.size() * sizeof(int32_t));
  for (int32_t g : g_idx)
    if (g < 0 || g >= per_row)
      r.fail("tensor " + t.name + " holds group " + std::to_string(g) + " outside [0, " +
             std::to_string(per_row) + ")");
}

void GridLinear::dequantize(float* dst) const {
  std::vector<float> s(static_cast<size_t>(map.size()));
  st_convert_to_f32(scales->dtype, scales->data, s.data(), s.size());
  const std::vector<float> z = zeros();
  const int64_t cols = in_features;
  parallel_for(out_features, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = dst + r * cols;
      row_codes(r, row);
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = map.index(r, c);
        row[c] = s[static_cast<size_t>(i)] * (row[c] - (z.empty() ? default_zero : z[static_cast<size_t>(i)]));
      }
    }
  }, 8);
}

std::vector<std::string> modules_with(const Reader& r, const std::string& suffix) {
  std::vector<std::string> out;
  const std::string dotted = "." + suffix;
  for (const SafeTensor* t : r.st.tensors())
    if (t->name.size() > dotted.size() &&
        t->name.compare(t->name.size() - dotted.size(), dotted.size(), dotted) == 0)
      out.push_back(t->name.substr(0, t->name.size() - dotted.size()));
  return out;
}

namespace {

// vLLM runs q/k/v (and gate/up) as one fused linear with one static input scale: the maximum.
void share_fused_input_scales(HFQuantization& q) {
  static const std::pair<const char*, int> kFused[] = {{"q_proj", 0}, {"k_proj", 0}, {"v_proj", 0},
                                                       {"gate_proj", 1}, {"up_proj", 1}};
  std::map<std::pair<std::string, int>, std::vector<HFQuantizedLinear*>> sets;
  for (auto& l : q.linears) {
    if (l->input_quant != InputQuant::Int8Static && l->input_quant != InputQuant::Fp8Static) continue;
    const size_t dot = l->module.rfind('.');
    const std::string leaf = l->module.substr(dot + 1), parent = l->module.substr(0, dot + 1);
    for (const auto& [name, set] : kFused)
      if (leaf == name) sets[{parent, set}].push_back(l.get());
  }
  for (auto& [key, members] : sets) {
    float m = 0.0f;
    for (const auto* l : members) m = std::max(m, l->input_scale);
    for (auto* l : members)
      if (l->input_quant == members.front()->input_quant) l->input_scale = m;
  }
}

}  // namespace
}  // namespace hfq

const HFQuantizedLinear* HFQuantization::by_weight(const std::string& name) const {
  const auto it = by_weight_.find(name);
  return it == by_weight_.end() ? nullptr : it->second;
}

void HFQuantization::add(std::unique_ptr<HFQuantizedLinear> l, const std::vector<std::string>& tensors) {
  for (const auto& t : tensors) owned_.insert(t);
  by_weight_[l->weight->name] = l.get();
  owned_.insert(l->weight->name);
  linears.push_back(std::move(l));
}

nlohmann::json read_hf_quantization_config(const std::string& dir) {
  const fs::path d(dir);
  const hfq::json config = hfq::read_json_limited((d / "config.json").string(), 64ull << 20);
  if (config.is_object()) {
    if (const auto it = config.find("quantization_config"); it != config.end() && !it->is_null())
      return *it;
    if (const auto it = config.find("compression_config"); it != config.end() && !it->is_null())
      throw Error(dir, "config.json: compression_config (compressed-tensors before 0.6) is not supported");
  }
  std::error_code ec;
  const fs::path qc = d / "quantize_config.json";
  if (!fs::exists(qc, ec)) return nullptr;
  hfq::json j = hfq::read_json_limited(qc.string(), 1ull << 20);
  if (!j.is_object()) throw Error(qc.string(), "not a JSON object");
  if (!j.contains("quant_method")) j["quant_method"] = "gptq";  // AutoGPTQ's own file
  return j;
}

HFQuantization read_hf_quantization(const std::string& dir, const nlohmann::json& qc,
                                    const SafeTensorsSet& st) {
  const hfq::Reader r{dir, st};
  if (!qc.is_object()) r.fail("quantization_config is not a JSON object");
  const std::string method = hfq::json_str(r, qc, "quant_method", "");
  HFQuantization q;
  q.method = method;
  if (method == "compressed-tensors") hfq::read_compressed_tensors(r, qc, q);
  else if (method == "gptq") hfq::read_gptq(r, qc, q);
  else if (method == "awq") hfq::read_awq(r, qc, q);
  else if (method.empty()) r.fail("quantization_config has no quant_method");
  else
    r.fail("quantization method '" + method + "' is not supported (compressed-tensors, gptq, awq)");
  if (q.linears.empty()) r.fail("quantization_config (" + method + ") but no quantized linear tensors");
  hfq::share_fused_input_scales(q);
  for (auto& l : q.linears)
    if (auto* g = dynamic_cast<hfq::GridLinear*>(l.get())) g->plan_repack();
  return q;
}

}  // namespace squish
