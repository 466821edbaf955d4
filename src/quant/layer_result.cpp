// LayerResult: merge and a small tagged binary format for resume files.
#include "squish/quant/layer_result.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"

namespace squish {

namespace {

constexpr char kMagic[8] = {'S', 'Q', 'L', 'A', 'Y', 'E', 'R', '2'};

class Out {
 public:
  template <class T>
  void pod(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    buf.insert(buf.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    buf.insert(buf.end(), s.begin(), s.end());
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    pod<uint64_t>(v.size());
    const char* p = reinterpret_cast<const char*>(v.data());
    buf.insert(buf.end(), p, p + v.size() * sizeof(T));
  }
  std::string buf;
};

class In {
 public:
  In(std::string data, std::string path) : d_(std::move(data)), path_(std::move(path)) {}
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, d_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = pod<uint64_t>();
    need(n);
    std::string s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    const uint64_t n = pod<uint64_t>();
    if (n > d_.size()) damaged();
    need(n * sizeof(T));
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), d_.data() + pos_, n * sizeof(T));  // an empty vector's data() may be null
    pos_ += n * sizeof(T);
    return v;
  }
  bool done() const { return pos_ == d_.size(); }
  [[noreturn]] void damaged() const { throw Error(path_, "damaged layer result file"); }

 private:
  void need(uint64_t n) const {
    if (n > d_.size() - pos_) damaged();
  }
  std::string d_, path_;
  size_t pos_ = 0;
};

void put_spec(Out& o, const QuantSpec& s) {
  o.pod(static_cast<int32_t>(s.format));
  o.pod(static_cast<int32_t>(s.bits));
  o.pod(static_cast<int32_t>(s.symmetric));
  o.pod(static_cast<int32_t>(s.granularity));
  o.pod(static_cast<int64_t>(s.group_size));
  o.pod(static_cast<int32_t>(s.method));
  o.pod(static_cast<int32_t>(s.scale_bits));
  o.pod(static_cast<int32_t>(s.double_quant));
}

QuantSpec get_spec(In& in) {
  QuantSpec s;
  s.format = static_cast<ElementFormat>(in.pod<int32_t>());
  s.bits = in.pod<int32_t>();
  s.symmetric = in.pod<int32_t>() != 0;
  s.granularity = static_cast<Granularity>(in.pod<int32_t>());
  s.group_size = in.pod<int64_t>();
  s.method = static_cast<ScaleMethod>(in.pod<int32_t>());
  s.scale_bits = in.pod<int32_t>();
  s.double_quant = in.pod<int32_t>() != 0;
  return s;
}

}  // namespace

void LayerResult::merge(LayerResult&& o) {
  for (auto& [k, v] : o.matrices) matrices.insert_or_assign(k, std::move(v));
  for (auto& [k, v] : o.blocks) blocks.insert_or_assign(k, std::move(v));
  for (auto& [k, v] : o.replaced) replaced.insert_or_assign(k, std::move(v));
  for (auto& [k, v] : o.input_scales) input_scales.insert_or_assign(k, v);
  for (auto& [k, v] : o.kv_absmax) kv_absmax.insert_or_assign(k, v);
  reports.insert(reports.end(), std::make_move_iterator(o.reports.begin()),
                 std::make_move_iterator(o.reports.end()));
}

void LayerResult::save(const std::string& path) const {
  Out o;
  o.buf.assign(kMagic, kMagic + 8);
  o.pod<uint64_t>(matrices.size());
  for (const auto& [name, q] : matrices) {
    o.str(name);
    put_spec(o, q.spec);
    o.pod<int64_t>(q.rows), o.pod<int64_t>(q.cols), o.pod<int64_t>(q.group);
    o.vec(q.codes), o.vec(q.scales), o.vec(q.zeros), o.vec(q.g_idx);
    o.vec(q.scale_codes), o.vec(q.scale_block_scales), o.pod(q.scale_offset);
  }
  o.pod<uint64_t>(blocks.size());
  for (const auto& [name, b] : blocks) {
    o.str(name);
    o.pod<uint32_t>(static_cast<uint32_t>(b.type));
    o.vec(b.bytes);
  }
  o.pod<uint64_t>(replaced.size());
  for (const auto& [name, v] : replaced) o.str(name), o.vec(v);
  o.pod<uint64_t>(input_scales.size());
  for (const auto& [name, s] : input_scales) o.str(name), o.pod(s);
  o.pod<uint64_t>(reports.size());
  for (const auto& r : reports) o.str(r.tensor), o.str(r.method), o.pod(r.rel_error), o.pod(r.rel_error_rtn);
  o.pod<uint64_t>(kv_absmax.size());
  for (const auto& [name, a] : kv_absmax) o.str(name), o.pod(a);
  write_file_atomic(path, o.buf, true);
}

LayerResult LayerResult::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot open layer result file");
  In in(std::string(std::istreambuf_iterator<char>(f), {}), path);
  for (char c : kMagic)
    if (in.pod<char>() != c) in.damaged();
  LayerResult r;
  for (uint64_t n = in.pod<uint64_t>(); n--;) {
    const std::string name = in.str();
    QuantizedMatrix q;
    q.spec = get_spec(in);
    q.rows = in.pod<int64_t>(), q.cols = in.pod<int64_t>(), q.group = in.pod<int64_t>();
    q.codes = in.vec<int16_t>(), q.scales = in.vec<float>(), q.zeros = in.vec<float>();
    q.g_idx = in.vec<int32_t>(), q.scale_codes = in.vec<int8_t>();
    q.scale_block_scales = in.vec<float>(), q.scale_offset = in.pod<float>();
    r.matrices.emplace(name, std::move(q));
  }
  for (uint64_t n = in.pod<uint64_t>(); n--;) {
    const std::string name = in.str();
    EncodedTensor b;
    b.type = static_cast<GGMLType>(in.pod<uint32_t>());
    b.bytes = in.vec<uint8_t>();
    r.blocks.emplace(name, std::move(b));
  }
  for (uint64_t n = in.pod<uint64_t>(); n--;) {
    const std::string name = in.str();
    r.replaced.emplace(name, in.vec<float>());
  }
  for (uint64_t n = in.pod<uint64_t>(); n--;) {
    const std::string name = in.str();
    r.input_scales.emplace(name, in.pod<float>());
  }
  for (uint64_t n = in.pod<uint64_t>(); n--;) {
    LinearReport rep;
    rep.tensor = in.str(), rep.method = in.str();
    rep.rel_error = in.pod<double>(), rep.rel_error_rtn = in.pod<double>();
    r.reports.push_back(std::move(rep));
  }
  for (uint64_t n = in.pod<uint64_t>(); n--;) {
    const std::string name = in.str();
    r.kv_absmax.emplace(name, in.pod<float>());
  }
  if (!in.done()) in.damaged();
  return r;
}

LayerResultFiles::LayerResultFiles(std::vector<std::string> files) : files_(std::move(files)) {
  for (size_t i = 0; i < files_.size(); ++i) {
    LayerResult r = LayerResult::load(files_[i]);
    for (auto& [name, q] : r.matrices) {
      matrix_file_[name] = i;
      QuantizedMatrix shell;
      shell.spec = q.spec, shell.rows = q.rows, shell.cols = q.cols, shell.group = q.group;
      shell.g_idx = std::move(q.g_idx);
      shapes_.insert_or_assign(name, std::move(shell));
    }
    for (const auto& [name, b] : r.blocks) block_file_[name] = i;
    r.matrices.clear(), r.blocks.clear();
    summary_.merge(std::move(r));
  }
}

const LayerResult& LayerResultFiles::layer(size_t file) const {
  if (cached_ != file) {
    cache_ = LayerResult{};  // release the previous layer before reading the next
    cache_ = LayerResult::load(files_[file]);
    cached_ = file;
  }
  return cache_;
}

namespace {

// Entry `name` of the map `field` in the layer file `index` names for it (read by `layer`), or null.
template <class T, class ReadLayer>
const T* lookup(const std::map<std::string, size_t>& index, const std::string& name, const ReadLayer& layer,
                std::map<std::string, T> LayerResult::*field) {
  const auto it = index.find(name);
  if (it == index.end()) return nullptr;
  const auto& m = layer(it->second).*field;
  const auto e = m.find(name);
  return e == m.end() ? nullptr : &e->second;
}

}  // namespace

const QuantizedMatrix* LayerResultFiles::matrix(const std::string& name) const {
  return lookup(matrix_file_, name, [this](size_t f) -> const LayerResult& { return layer(f); }, &LayerResult::matrices);
}

const EncodedTensor* LayerResultFiles::block(const std::string& name) const {
  return lookup(block_file_, name, [this](size_t f) -> const LayerResult& { return layer(f); }, &LayerResult::blocks);
}

}  // namespace squish
