#include "squish/eval/inspect.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "squish/common/error.h"
#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_reader.h"
#include "squish/io/hf_quantized.h"
#include "squish/io/safetensors.h"

namespace squish {
namespace fs = std::filesystem;
namespace {

constexpr size_t kArrayHead = 8;

// Control characters (and newlines) shown as spaces so every entry stays on one line.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

nlohmann::json gguf_value_json(const GGUFValue& v) {
  if (auto* u = std::get_if<uint64_t>(&v.v)) return *u;
  if (auto* i = std::get_if<int64_t>(&v.v)) return *i;
  if (auto* d = std::get_if<double>(&v.v)) return *d;
  if (auto* b = std::get_if<bool>(&v.v)) return *b;
  if (auto* s = std::get_if<std::string>(&v.v)) return *s;
  const GGUFArray& a = std::get<GGUFArray>(v.v);
  nlohmann::json head = nlohmann::json::array();
  for (size_t k = 0; k < a.items.size() && k < kArrayHead; ++k) head.push_back(gguf_value_json(a.items[k]));
  return {{"type", value_type_name(a.elem_type)}, {"length", a.items.size()}, {"head", head}};
}

std::string gguf_type_label(const GGUFValue& v) {
  if (auto* a = std::get_if<GGUFArray>(&v.v)) return std::string("array[") + value_type_name(a->elem_type) + "]";
  return value_type_name(v.type);
}

void add_tensor(InspectReport& r, std::string name, std::string type, std::vector<int64_t> shape,
                uint64_t bytes) {
  InspectTensor t;
  t.name = std::move(name);
  t.type = std::move(type);
  t.n_elements = 1;
  for (int64_t d : shape) t.n_elements *= d;
  t.shape = std::move(shape);
  t.bytes = bytes;
  t.bits_per_weight = t.n_elements > 0 ? 8.0 * static_cast<double>(bytes) / t.n_elements : 0.0;
  r.tensors.push_back(std::move(t));
}

void finish_totals(InspectReport& r) {
  std::map<std::string, InspectTypeTotal> by;
  for (const InspectTensor& t : r.tensors) {
    r.total_elements += t.n_elements;
    r.total_bytes += t.bytes;
    InspectTypeTotal& b = by[t.type];
    b.type = t.type;
    ++b.n_tensors;
    b.n_elements += t.n_elements;
    b.bytes += t.bytes;
  }
  for (auto& [k, v] : by) r.by_type.push_back(v);
  std::sort(r.by_type.begin(), r.by_type.end(),
            [](const InspectTypeTotal& a, const InspectTypeTotal& b) { return a.bytes > b.bytes; });
  r.bits_per_weight = r.total_elements > 0 ? 8.0 * static_cast<double>(r.total_bytes) / r.total_elements : 0.0;
}

InspectReport inspect_gguf(const std::string& path) {
  GGUFFile f(path);
  InspectReport r;
  r.path = path;
  r.format = "GGUF v" + std::to_string(f.version());
  r.file_bytes = f.file_size();
  const GGUFValue* arch = f.find("general.architecture");
  r.architecture = arch && std::holds_alternative<std::string>(arch->v) ? one_line(arch->as_string()) : "unknown";
  for (const auto& [key, v] : f.metadata())
    r.metadata.push_back({key, gguf_type_label(v), one_line(v.to_display(kArrayHead)), gguf_value_json(v)});
  for (const GGUFTensor& t : f.tensors()) add_tensor(r, t.name, type_name(t.type), t.shape, t.nbytes);
  return r;
}

// config.json of an HF directory: top-level entries as metadata, model_type as the architecture.
void add_hf_config(InspectReport& r, const fs::path& dir) {
  const fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg)) return;
  std::ifstream in(cfg);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw Error(cfg.string(), "not a valid JSON object");
  if (j.contains("model_type") && j["model_type"].is_string()) r.architecture = j["model_type"].get<std::string>();
  else if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
           j["architectures"][0].is_string())
    r.architecture = j["architectures"][0].get<std::string>();
  for (auto& [key, v] : j.items()) {
    InspectMetadata m{"config." + key, v.type_name(), one_line(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), v};
    if (m.display.size() > 80) m.display = m.display.substr(0, 77) + "...";
    if (v.is_array() && v.size() > kArrayHead) {
      nlohmann::json head(v.begin(), v.begin() + kArrayHead);
      m.value = {{"type", "json"}, {"length", v.size()}, {"head", head}};
    }
    r.metadata.push_back(std::move(m));
  }
}

// The quantization scheme of each quantized linear of an HF directory (its quantization_config) as
// metadata "quantization.<module>"; a checkpoint the loader would refuse gets "quantization.error".
void add_hf_quantization(InspectReport& r, const fs::path& dir, const SafeTensorsSet& set) {
  if (!fs::exists(dir / "config.json")) return;
  try {
    const nlohmann::json qc = read_hf_quantization_config(dir.string());
    if (qc.is_null()) return;
    const HFQuantization q = read_hf_quantization(dir.string(), qc, set);
    r.metadata.push_back({"quantization.method", "string", q.method, q.method});
    for (const auto& l : q.linears) {
      nlohmann::json v = {{"scheme", l->scheme},
                          {"shape", {l->out_features, l->in_features}},
                          {"input_quant", input_quant_name(l->input_quant)}};
      if (l->input_quant == InputQuant::Int8Static || l->input_quant == InputQuant::Fp8Static)
        v["input_scale"] = l->input_scale;
      const std::string display = l->scheme + " [" + std::to_string(l->out_features) + " x " +
                                  std::to_string(l->in_features) + "]";
      r.metadata.push_back({"quantization." + l->module, "scheme", display, v});
    }
  } catch (const Error& e) {
    r.metadata.push_back({"quantization.error", "string", one_line(e.problem()), e.problem()});
  }
}

InspectReport inspect_safetensors(const std::string& path) {
  SafeTensorsSet set = SafeTensorsSet::open(path);
  InspectReport r;
  r.path = path;
  r.architecture = "unknown";
  r.format = set.files().size() > 1 ? "SafeTensors (" + std::to_string(set.files().size()) + " shards)"
                                    : "SafeTensors";
  for (const auto& f : set.files()) r.file_bytes += f->file_size();
  const fs::path p(path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  add_hf_config(r, dir.empty() ? fs::path(".") : dir);
  add_hf_quantization(r, dir.empty() ? fs::path(".") : dir, set);
  for (const auto& [k, v] : set.metadata())
    r.metadata.push_back({"safetensors." + k, "string", one_line(v.size() > 80 ? v.substr(0, 77) + "..." : v), v});
  for (const SafeTensor* t : set.tensors()) add_tensor(r, t->name, st_dtype_name(t->dtype), t->shape, t->nbytes);
  return r;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  else if (b >= (uint64_t{1} << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", b / 1048576.0);
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.2f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out.empty() ? "scalar" : out;
}

}  // namespace

InspectReport inspect_model(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path, "no such file or directory");
  InspectReport r;
  if (fs::is_directory(path, ec) || ends_with(path, ".safetensors") || ends_with(path, ".json"))
    r = inspect_safetensors(path);
  else
    r = inspect_gguf(path);  // anything else is read as GGUF, which names a bad magic
  finish_totals(r);
  return r;
}

std::string format_inspect_text(const InspectReport& r) {
  std::ostringstream os;
  char line[512];
  os << "file:          " << r.path << " (" << human_bytes(r.file_bytes) << ")\n";
  os << "format:        " << r.format << "\n";
  os << "architecture:  " << r.architecture << "\n";
  os << "metadata:      " << r.metadata.size() << " entries\n";
  for (const InspectMetadata& m : r.metadata) {
    std::snprintf(line, sizeof line, "  %-44s %-14s ", m.key.c_str(), m.type.c_str());
    os << line << m.display << "\n";
  }
  os << "tensors:       " << r.tensors.size() << "\n";
  std::snprintf(line, sizeof line, "  %-44s %-6s %-22s %14s %7s\n", "name", "type", "shape", "bytes", "bpw");
  os << line;
  for (const InspectTensor& t : r.tensors) {
    std::snprintf(line, sizeof line, "  %-44s %-6s %-22s %14llu %7.3f\n", t.name.c_str(), t.type.c_str(),
                  shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.bytes), t.bits_per_weight);
    os << line;
  }
  os << "by type:\n";
  for (const InspectTypeTotal& b : r.by_type) {
    std::snprintf(line, sizeof line, "  %-6s %5lld tensors %14lld weights %12s %7.3f bpw\n", b.type.c_str(),
                  static_cast<long long>(b.n_tensors), static_cast<long long>(b.n_elements),
                  human_bytes(b.bytes).c_str(), b.n_elements ? 8.0 * b.bytes / b.n_elements : 0.0);
    os << line;
  }
  std::snprintf(line, sizeof line, "total:         %zu tensors, %lld weights (%.1f M), %s, %.3f bits per weight\n",
                r.tensors.size(), static_cast<long long>(r.total_elements), r.total_elements / 1e6,
                human_bytes(r.total_bytes).c_str(), r.bits_per_weight);
  os << line;
  return os.str();
}

nlohmann::json inspect_to_json(const InspectReport& r) {
  nlohmann::json j;
  j["path"] = r.path;
  j["format"] = r.format;
  j["architecture"] = r.architecture;
  j["file_bytes"] = r.file_bytes;
  nlohmann::json md = nlohmann::json::array();
  for (const InspectMetadata& m : r.metadata) md.push_back({{"key", m.key}, {"type", m.type}, {"value", m.value}});
  j["metadata"] = md;
  nlohmann::json ts = nlohmann::json::array();
  for (const InspectTensor& t : r.tensors)
    ts.push_back({{"name", t.name}, {"type", t.type}, {"shape", t.shape}, {"n_elements", t.n_elements},
                  {"bytes", t.bytes}, {"bits_per_weight", t.bits_per_weight}});
  j["tensors"] = ts;
  nlohmann::json bt = nlohmann::json::array();
  for (const InspectTypeTotal& b : r.by_type)
    bt.push_back({{"type", b.type}, {"n_tensors", b.n_tensors}, {"n_elements", b.n_elements}, {"bytes", b.bytes}});
  j["by_type"] = bt;
  j["n_tensors"] = r.tensors.size();
  j["total_elements"] = r.total_elements;
  j["total_bytes"] = r.total_bytes;
  j["bits_per_weight"] = r.bits_per_weight;
  return j;
}

}  // namespace squish
