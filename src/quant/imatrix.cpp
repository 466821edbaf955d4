#include "squish/quant/imatrix.h"

#include <cmath>
#include <cstring>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/io/gguf_writer.h"
#include "squish/io/mapped_file.h"

namespace squish {
namespace {

const std::string kSum2Suffix = ".in_sum2";
const std::string kSumSuffix = ".in_sum";
const std::string kCountsSuffix = ".counts";

bool strip_suffix(std::string& s, const std::string& suffix) {
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  s.resize(s.size() - suffix.size());
  return true;
}

std::vector<float> tensor_f32(const GGUFFile& f, const GGUFTensor& t) {
  if (t.type != GGMLType::F32)
    throw Error(f.path(), "imatrix tensor '" + t.name + "' is " + type_name(t.type) + ", expected F32");
  std::vector<float> v(static_cast<size_t>(t.n_elements()));
  std::memcpy(v.data(), t.data, v.size() * sizeof(float));
  return v;
}

ImportanceMatrix load_gguf(const std::string& path) {
  GGUFFile f(path);
  ImportanceMatrix m;
  if (const GGUFValue* d = f.find("imatrix.datasets"); d && d->type == GGUFValueType::ARRAY)
    for (const auto& item : d->as_array().items)
      if (item.type == GGUFValueType::STRING) m.datasets.push_back(item.as_string());
  m.chunk_count = static_cast<uint32_t>(f.get_int("imatrix.chunk_count", 0));
  m.chunk_size = static_cast<uint32_t>(f.get_int("imatrix.chunk_size", 0));
  struct Parts {
    const GGUFTensor* sum2 = nullptr;
    const GGUFTensor* sum = nullptr;
    const GGUFTensor* counts = nullptr;
  };
  std::map<std::string, Parts> parts;
  for (const auto& t : f.tensors()) {
    std::string name = t.name;
    if (strip_suffix(name, kSum2Suffix)) parts[name].sum2 = &t;
    else if (strip_suffix(name, kCountsSuffix)) parts[name].counts = &t;
    else if (strip_suffix(name, kSumSuffix)) parts[name].sum = &t;
  }
  if (parts.empty()) throw Error(path, "not an imatrix file (no *.in_sum2 tensors)");
  for (const auto& [name, p] : parts) {
    if (!p.sum2 || !p.counts) throw Error(path, "imatrix entry '" + name + "' lacks its sums or counts");
    const auto sum2 = tensor_f32(f, *p.sum2);
    const auto counts = tensor_f32(f, *p.counts);
    if (counts.empty() || sum2.size() % counts.size() != 0)
      throw Error(path, "imatrix entry '" + name + "': " + std::to_string(sum2.size()) +
                            " sums do not divide into " + std::to_string(counts.size()) + " matrices");
    ImatrixEntry e;
    e.sum2.assign(sum2.begin(), sum2.end());
    for (float c : counts) {
      if (!std::isfinite(c) || c < 0) throw Error(path, "imatrix entry '" + name + "' has a bad count");
      e.counts.push_back(std::lround(c));
    }
    if (p.sum) {
      const auto sum = tensor_f32(f, *p.sum);
      if (sum.size() == sum2.size()) e.sum.assign(sum.begin(), sum.end());
    }
    m.entries.emplace(name, std::move(e));
  }
  return m;
}

// A bounds-checked reader over the legacy file.
struct LegacyCursor {
  const std::string& path;
  const uint8_t* p;
  size_t n, pos = 0;
  int32_t i32(const char* what) {
    if (n - pos < 4) throw Error(path, std::string("truncated imatrix file while reading ") + what);
    int32_t x;
    std::memcpy(&x, p + pos, 4);
    pos += 4;
    return x;
  }
  std::string str(int32_t len, const char* what) {
    if (len < 0 || static_cast<size_t>(len) > n - pos)
      throw Error(path, std::string("corrupt imatrix file: bad ") + what + " length");
    std::string s(reinterpret_cast<const char*>(p + pos), static_cast<size_t>(len));
    pos += static_cast<size_t>(len);
    return s;
  }
};

ImportanceMatrix load_legacy(const std::string& path) {
  MappedFile map(path);
  LegacyCursor c{path, map.data(), map.size()};
  const int32_t n_entries = c.i32("entry count");
  if (n_entries < 1 || static_cast<size_t>(n_entries) > map.size() / 12)
    throw Error(path, "not an imatrix file (entry count " + std::to_string(n_entries) + ")");
  ImportanceMatrix m;
  for (int32_t i = 0; i < n_entries; ++i) {
    const std::string name = c.str(c.i32("name length"), "name");
    const int32_t ncall = c.i32("call count");
    const int32_t nval = c.i32("value count");
    if (nval < 0 || static_cast<size_t>(nval) > (c.n - c.pos) / 4)
      throw Error(path, "corrupt imatrix file: entry '" + name + "' value count exceeds the file");
    ImatrixEntry e;
    e.sum2.resize(static_cast<size_t>(nval));
    for (int32_t j = 0; j < nval; ++j) {
      float v;
      std::memcpy(&v, c.p + c.pos + 4 * static_cast<size_t>(j), 4);
      e.sum2[static_cast<size_t>(j)] = v;
    }
    c.pos += 4 * static_cast<size_t>(nval);
    // Legacy values are mean(x²) × ncall; llama-quantize divides by ncall again.
    // (ncall <= 0: llama-quantize leaves the values undivided, as a count of 1 does.)
    e.counts = {std::max<int64_t>(ncall, 1)};
    m.entries.emplace(name, std::move(e));
  }
  if (c.n - c.pos >= 4) {
    m.chunk_count = static_cast<uint32_t>(std::max(0, c.i32("chunk count")));
    if (c.n - c.pos >= 4) {
      const int32_t len = c.i32("dataset name length");
      if (len > 0 && static_cast<size_t>(len) <= c.n - c.pos) m.datasets.push_back(c.str(len, "dataset name"));
    }
  }
  return m;
}

}  // namespace

ImportanceMatrix ImportanceMatrix::load(const std::string& path) {
  MappedFile probe(path);
  const bool is_gguf = probe.size() >= 4 && std::memcmp(probe.data(), "GGUF", 4) == 0;
  if (is_gguf) return load_gguf(path);
  return load_legacy(path);
}

void ImportanceMatrix::save_gguf(const std::string& path, bool overwrite) const {
  GGUFWriter w;
  w.set("general.type", gguf_str("imatrix"));
  std::vector<GGUFValue> ds;
  for (const auto& d : datasets) ds.push_back(gguf_str(d));
  w.set("imatrix.datasets", gguf_array(GGUFValueType::STRING, std::move(ds)));
  w.set("imatrix.chunk_count", gguf_u32(chunk_count));
  w.set("imatrix.chunk_size", gguf_u32(chunk_size));
  std::vector<std::vector<float>> data;  // kept alive until written
  for (const auto& [name, e] : entries) {  // std::map: sorted names, as llama.cpp writes them
    if (e.n_mat() == 0 || e.sum2.empty()) continue;
    const int64_t cols = e.n_cols(), mats = e.n_mat();
    w.add_tensor(name + kSum2Suffix, GGMLType::F32, {cols, mats});
    data.emplace_back(e.sum2.begin(), e.sum2.end());
    w.add_tensor(name + kCountsSuffix, GGMLType::F32, {1, mats});
    data.emplace_back(e.counts.begin(), e.counts.end());
    if (e.sum.size() == e.sum2.size()) {
      w.add_tensor(name + kSumSuffix, GGMLType::F32, {cols, mats});
      data.emplace_back(e.sum.begin(), e.sum.end());
    }
  }
  std::vector<const void*> ptrs;
  for (const auto& d : data) ptrs.push_back(d.data());
  w.write_file(path, overwrite, ptrs);
}

void ImportanceMatrix::save_legacy(const std::string& path, bool overwrite) const {
  AtomicFile out(path, overwrite);
  auto put_i32 = [&](int32_t x) { out.write(&x, 4); };
  const int32_t chunk = chunk_size > 0 ? static_cast<int32_t>(chunk_size) : 1;
  int32_t n = 0;
  for (const auto& [name, e] : entries) n += e.n_mat() > 0 ? 1 : 0;
  put_i32(n);
  for (const auto& [name, e] : entries) {
    if (e.n_mat() == 0) continue;
    put_i32(static_cast<int32_t>(name.size()));
    out.write(name.data(), name.size());
    int64_t max_count = 0;
    for (int64_t c : e.counts) max_count = std::max(max_count, c);
    const int32_t ncall = static_cast<int32_t>((max_count + chunk - 1) / chunk);
    put_i32(ncall);
    put_i32(static_cast<int32_t>(e.sum2.size()));
    const size_t per = static_cast<size_t>(e.n_cols());
    for (size_t j = 0; j < e.sum2.size(); ++j) {
      const double count = static_cast<double>(e.counts[j / per]);
      const float v = count == 0 ? static_cast<float>(ncall)
                                 : static_cast<float>(e.sum2[j] / count * ncall);
      out.write(&v, 4);
    }
  }
  put_i32(static_cast<int32_t>(chunk_count));
  const std::string ds = datasets.empty() ? std::string() : datasets.back();
  put_i32(static_cast<int32_t>(ds.size()));
  out.write(ds.data(), ds.size());
  out.commit();
}

void ImportanceMatrix::accumulate(const std::string& tensor, const float* x, int64_t n_rows,
                                  int64_t n_cols) {
  ImatrixEntry& e = entries[tensor];
  if (e.counts.empty()) {
    e.sum2.assign(static_cast<size_t>(n_cols), 0.0);
    e.sum.assign(static_cast<size_t>(n_cols), 0.0);
    e.counts = {0};
  } else if (e.n_mat() != 1 || e.n_cols() != n_cols) {
    throw Error("", "imatrix: inconsistent input width for '" + tensor + "'");
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* row = x + r * n_cols;
    for (int64_t j = 0; j < n_cols; ++j) {
      const double v = row[j];
      e.sum2[static_cast<size_t>(j)] += v * v;
      if (!e.sum.empty()) e.sum[static_cast<size_t>(j)] += v;
    }
  }
  e.counts[0] += n_rows;
}

void ImportanceMatrix::accumulate_expert(const std::string& tensor, int64_t expert, int64_t n_experts,
                                         const float* x, int64_t n_rows, int64_t n_cols) {
  ImatrixEntry& e = entries[tensor];
  if (e.counts.empty()) {
    e.sum2.assign(static_cast<size_t>(n_experts * n_cols), 0.0);
    e.sum.assign(static_cast<size_t>(n_experts * n_cols), 0.0);
    e.counts.assign(static_cast<size_t>(n_experts), 0);
  } else if (e.n_mat() != n_experts || e.n_cols() != n_cols) {
    throw Error("", "imatrix: inconsistent experts or input width for '" + tensor + "'");
  }
  if (expert < 0 || expert >= n_experts) throw Error("", "imatrix: expert out of range for '" + tensor + "'");
  const size_t base = static_cast<size_t>(expert * n_cols);
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* row = x + r * n_cols;
    for (int64_t j = 0; j < n_cols; ++j) {
      const double v = row[j];
      e.sum2[base + static_cast<size_t>(j)] += v * v;
      if (!e.sum.empty()) e.sum[base + static_cast<size_t>(j)] += v;
    }
  }
  e.counts[static_cast<size_t>(expert)] += n_rows;
}

std::vector<float> ImportanceMatrix::importance(const std::string& tensor) const {
  auto it = entries.find(tensor);
  if (it == entries.end() || it->second.n_mat() == 0) return {};
  const ImatrixEntry& e = it->second;
  const size_t per = static_cast<size_t>(e.n_cols());
  std::vector<float> out(e.sum2.size());
  for (size_t j = 0; j < e.sum2.size(); ++j) {
    const int64_t c = e.counts[j / per];
    // Single-precision division, as llama-quantize computes it from the stored floats.
    out[j] = c > 0 ? static_cast<float>(e.sum2[j]) / static_cast<float>(c) : 1.0f;
  }
  return out;
}

}  // namespace squish
