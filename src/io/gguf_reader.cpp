#include "squish/io/gguf_reader.h"

#include "squish/common/shape.h"

#include <cstring>
#include <limits>

#include "squish/common/error.h"

namespace squish {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;
// Sane maxima, whatever the file's size (each element of a metadata array takes ~48 bytes in
// memory against 1-8 in the file): all arrays together hold at most 4M elements (Gemma 3's
// 262k-token vocabulary with its scores and types takes 0.8M), at most 65536 keys and 1M tensors.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 22;
constexpr uint64_t kMaxKeys = uint64_t{1} << 16;
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;

// A bounds-checked little-endian cursor over the mapped header.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, size_t size)
      : path_(path), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T x;
    std::memcpy(&x, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return x;
  }

  std::string read_string(const char* what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining())
      throw Error(path_, std::string("truncated or corrupt header: ") + what + " length " +
                             std::to_string(n) + " exceeds the file");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

  void need(size_t n, const char* what) const {
    if (n > remaining())
      throw Error(path_, std::string("truncated file while reading ") + what);
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Smallest number of header bytes one element of a type can occupy (for count sanity checks).
size_t min_encoded_size(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8: case GGUFValueType::INT8: case GGUFValueType::BOOL: return 1;
    case GGUFValueType::UINT16: case GGUFValueType::INT16: return 2;
    case GGUFValueType::UINT32: case GGUFValueType::INT32: case GGUFValueType::FLOAT32: return 4;
    case GGUFValueType::UINT64: case GGUFValueType::INT64: case GGUFValueType::FLOAT64:
    case GGUFValueType::STRING: return 8;
    case GGUFValueType::ARRAY: return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= 12; }

// Reads one value; `elements_left` is what remains of the file's kMaxArrayElements budget.
GGUFValue read_value(Cursor& c, GGUFValueType type, const std::string& path,
                     const std::string& key, int depth, uint64_t& elements_left) {
  GGUFValue out;
  out.type = type;
  switch (type) {
    case GGUFValueType::UINT8: out.v = uint64_t{c.read<uint8_t>("metadata value")}; break;
    case GGUFValueType::INT8: out.v = int64_t{c.read<int8_t>("metadata value")}; break;
    case GGUFValueType::UINT16: out.v = uint64_t{c.read<uint16_t>("metadata value")}; break;
    case GGUFValueType::INT16: out.v = int64_t{c.read<int16_t>("metadata value")}; break;
    case GGUFValueType::UINT32: out.v = uint64_t{c.read<uint32_t>("metadata value")}; break;
    case GGUFValueType::INT32: out.v = int64_t{c.read<int32_t>("metadata value")}; break;
    case GGUFValueType::UINT64: out.v = c.read<uint64_t>("metadata value"); break;
    case GGUFValueType::INT64: out.v = c.read<int64_t>("metadata value"); break;
    case GGUFValueType::FLOAT32: out.v = double{c.read<float>("metadata value")}; break;
    case GGUFValueType::FLOAT64: out.v = c.read<double>("metadata value"); break;
    case GGUFValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>("metadata value");
      if (b > 1) throw Error(path, "corrupt header: bool value " + std::to_string(b) + " for key '" + key + "'");
      out.v = b != 0;
      break;
    }
    case GGUFValueType::STRING: out.v = c.read_string("metadata string"); break;
    case GGUFValueType::ARRAY: {
      if (depth >= kMaxArrayDepth)
        throw Error(path, "corrupt header: arrays nested too deeply at key '" + key + "'");
      const uint32_t et = c.read<uint32_t>("array type");
      if (!valid_value_type(et))
        throw Error(path, "corrupt header: unknown array element type " + std::to_string(et) +
                              " for key '" + key + "'");
      const uint64_t n = c.read<uint64_t>("array length");
      const auto elem = static_cast<GGUFValueType>(et);
      if (n > c.remaining() / min_encoded_size(elem))
        throw Error(path, "corrupt header: array length " + std::to_string(n) + " for key '" +
                              key + "' exceeds the file");
      if (n > elements_left)
        throw Error(path, "corrupt header: array length " + std::to_string(n) + " for key '" + key +
                              "' exceeds the " + std::to_string(kMaxArrayElements) + " array elements a file may hold");
      elements_left -= n;
      GGUFArray arr;
      arr.elem_type = elem;
      arr.items.reserve(n);
      for (uint64_t i = 0; i < n; ++i) arr.items.push_back(read_value(c, elem, path, key, depth + 1, elements_left));
      out.v = std::move(arr);
      break;
    }
  }
  return out;
}

}  // namespace

int64_t GGUFTensor::n_elements() const { return shape_elements(shape); }

int64_t GGUFTensor::n_rows() const { return shape_rows(shape); }

GGUFFile::GGUFFile(const std::string& path) : map_(path) {
  Cursor c(path, map_.data(), map_.size());
  if (map_.size() < 4) throw Error(path, "not a GGUF file (file too small)");
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) throw Error(path, "not a GGUF file (bad magic)");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    throw Error(path, "unsupported GGUF version " + std::to_string(version_) + " (expected 2 or 3)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each tensor info takes at least 8+1+4+8+4+8 bytes; each key/value at least 8+4+1.
  if (n_tensors > c.remaining() / 25)
    throw Error(path, "corrupt header: tensor count " + std::to_string(n_tensors) + " exceeds the file");
  if (n_kv > c.remaining() / 13)
    throw Error(path, "corrupt header: metadata count " + std::to_string(n_kv) + " exceeds the file");
  if (n_tensors > kMaxTensors)
    throw Error(path, "corrupt header: tensor count " + std::to_string(n_tensors) + " exceeds " + std::to_string(kMaxTensors));
  if (n_kv > kMaxKeys)
    throw Error(path, "corrupt header: metadata count " + std::to_string(n_kv) + " exceeds " + std::to_string(kMaxKeys));
  uint64_t elements_left = kMaxArrayElements;

  kv_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key");
    const uint32_t t = c.read<uint32_t>("metadata type");
    if (!valid_value_type(t))
      throw Error(path, "corrupt header: unknown metadata type " + std::to_string(t) + " for key '" + key + "'");
    GGUFValue v = read_value(c, static_cast<GGUFValueType>(t), path, key, 0, elements_left);
    if (kv_index_.count(key)) throw Error(path, "corrupt header: duplicate metadata key '" + key + "'");
    kv_index_[key] = kv_.size();
    kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const GGUFValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->as_int() <= 0 || (a->as_int() & (a->as_int() - 1)) != 0 || a->as_int() > (1 << 20))
      throw Error(path, "corrupt header: general.alignment must be a power of two");
    alignment_ = static_cast<uint64_t>(a->as_int());
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GGUFTensor t;
    t.name = c.read_string("tensor name");
    const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      throw Error(path, "corrupt header: tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions");
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>("tensor shape");
      if (dim == 0 || dim > (uint64_t{1} << 40) ||
          static_cast<uint64_t>(n) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)
        throw Error(path, "corrupt header: tensor '" + t.name + "' has an impossible shape");
      n *= static_cast<int64_t>(dim);
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type_id = c.read<uint32_t>("tensor type");
    auto traits = find_type_traits(type_id);
    if (!traits)
      throw Error(path, "tensor '" + t.name + "' has unknown type id " + std::to_string(type_id));
    t.type = static_cast<GGMLType>(type_id);
    if (t.shape[0] % traits->block_size != 0)
      throw Error(path, "corrupt header: tensor '" + t.name + "' row length " + std::to_string(t.shape[0]) +
                            " is not a multiple of the " + traits->name + " block size");
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0)
      throw Error(path, "corrupt header: tensor '" + t.name + "' offset is not aligned");
    // Saturate instead of wrapping, so the end-of-file check below rejects absurd shapes.
    const uint64_t blocks = static_cast<uint64_t>(n / traits->block_size);
    t.nbytes = blocks > std::numeric_limits<size_t>::max() / traits->type_size
                   ? std::numeric_limits<size_t>::max()
                   : static_cast<size_t>(blocks * traits->type_size);
    if (tensor_index_.count(t.name)) throw Error(path, "corrupt header: duplicate tensor '" + t.name + "'");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > map_.size() && !tensors_.empty())
    throw Error(path, "truncated file: tensor data section missing");
  const uint64_t data_size = map_.size() >= data_offset_ ? map_.size() - data_offset_ : 0;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw Error(path, "tensor '" + t.name + "' data (offset " + std::to_string(t.offset) + ", " +
                            std::to_string(t.nbytes) + " bytes) extends beyond the end of the file");
    t.data = map_.data() + data_offset_ + t.offset;
  }
}

const GGUFValue* GGUFFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {
template <typename F>
auto typed(const GGUFFile& f, const std::string& key, F&& get) {
  const GGUFValue* v = f.find(key);
  if (!v) throw Error(f.path(), "missing metadata key '" + key + "'");
  try {
    return get(*v);
  } catch (const std::invalid_argument& e) {
    throw Error(f.path(), "metadata key '" + key + "': " + e.what());
  }
}
}  // namespace

int64_t GGUFFile::get_int(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_int(); });
}
int64_t GGUFFile::get_int(const std::string& key, int64_t fallback) const {
  return find(key) ? get_int(key) : fallback;
}
double GGUFFile::get_float(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_double(); });
}
double GGUFFile::get_float(const std::string& key, double fallback) const {
  return find(key) ? get_float(key) : fallback;
}
bool GGUFFile::get_bool(const std::string& key, bool fallback) const {
  return find(key) ? typed(*this, key, [](const GGUFValue& v) { return v.as_bool(); }) : fallback;
}
std::string GGUFFile::get_string(const std::string& key) const {
  return typed(*this, key, [](const GGUFValue& v) { return v.as_string(); });
}
std::string GGUFFile::get_string(const std::string& key, const std::string& fallback) const {
  return find(key) ? get_string(key) : fallback;
}
const GGUFArray& GGUFFile::get_array(const std::string& key) const {
  return *typed(*this, key, [](const GGUFValue& v) { return &v.as_array(); });
}

const GGUFTensor* GGUFFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GGUFTensor& GGUFFile::tensor(const std::string& name) const {
  const GGUFTensor* t = find_tensor(name);
  if (!t) throw Error(path(), "missing tensor '" + name + "'");
  return *t;
}

std::vector<float> GGUFFile::dequantize(const GGUFTensor& t) const {
  if (!can_dequantize(t.type))
    throw Error(path(), "tensor '" + t.name + "' has type " + type_name(t.type) + " which squish cannot dequantize");
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const int64_t rows = t.n_rows(), cols = t.row_length();
  const size_t rb = row_bytes(t.type, cols);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t.type, t.data + r * rb, out.data() + r * cols, cols);
  return out;
}

}  // namespace squish
