#include "squish/io/gguf_writer.h"

#include <cstring>
#include <limits>
#include <stdexcept>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"

namespace squish {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;

// Serialises header bytes into a buffer (the header is small; tensor data is streamed).
class HeaderBuffer {
 public:
  template <typename T>
  void put(T x) {
    const size_t at = buf_.size();
    buf_.resize(at + sizeof(T));
    std::memcpy(buf_.data() + at, &x, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  const std::vector<uint8_t>& bytes() const { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

// Integer value of v checked against [lo, hi]; throws Error naming the key when out of range.
int64_t checked_int(const GGUFValue& v, const std::string& key, int64_t lo, int64_t hi) {
  int64_t x;
  try {
    x = v.as_int();
  } catch (const std::invalid_argument& e) {
    throw Error("", "metadata key '" + key + "': " + e.what());
  }
  if (x < lo || x > hi)
    throw Error("", "metadata key '" + key + "': value " + std::to_string(x) + " does not fit " +
                        value_type_name(v.type));
  return x;
}

double checked_double(const GGUFValue& v, const std::string& key) {
  try {
    return v.as_double();
  } catch (const std::invalid_argument& e) {
    throw Error("", "metadata key '" + key + "': " + e.what());
  }
}

// Writes the payload of one value of type `t` (no leading type id).
void put_value(HeaderBuffer& h, GGUFValueType t, const GGUFValue& v, const std::string& key,
               int depth) {
  if (v.type != t)
    throw Error("", "metadata key '" + key + "': array element of type " + value_type_name(v.type) +
                        " in an array of " + value_type_name(t));
  switch (t) {
    case GGUFValueType::UINT8: h.put<uint8_t>(static_cast<uint8_t>(checked_int(v, key, 0, 0xff))); break;
    case GGUFValueType::INT8: h.put<int8_t>(static_cast<int8_t>(checked_int(v, key, -128, 127))); break;
    case GGUFValueType::UINT16: h.put<uint16_t>(static_cast<uint16_t>(checked_int(v, key, 0, 0xffff))); break;
    case GGUFValueType::INT16: h.put<int16_t>(static_cast<int16_t>(checked_int(v, key, -32768, 32767))); break;
    case GGUFValueType::UINT32:
      h.put<uint32_t>(static_cast<uint32_t>(checked_int(v, key, 0, 0xffffffffLL)));
      break;
    case GGUFValueType::INT32:
      h.put<int32_t>(static_cast<int32_t>(checked_int(v, key, std::numeric_limits<int32_t>::min(),
                                                      std::numeric_limits<int32_t>::max())));
      break;
    case GGUFValueType::UINT64:
      if (auto* u = std::get_if<uint64_t>(&v.v)) h.put<uint64_t>(*u);
      else h.put<uint64_t>(static_cast<uint64_t>(checked_int(v, key, 0, std::numeric_limits<int64_t>::max())));
      break;
    case GGUFValueType::INT64:
      h.put<int64_t>(checked_int(v, key, std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max()));
      break;
    case GGUFValueType::FLOAT32: h.put<float>(static_cast<float>(checked_double(v, key))); break;
    case GGUFValueType::FLOAT64: h.put<double>(checked_double(v, key)); break;
    case GGUFValueType::BOOL: {
      bool b;
      try {
        b = v.as_bool();
      } catch (const std::invalid_argument& e) {
        throw Error("", "metadata key '" + key + "': " + e.what());
      }
      h.put<uint8_t>(b ? 1 : 0);
      break;
    }
    case GGUFValueType::STRING: {
      const auto* s = std::get_if<std::string>(&v.v);
      if (!s) throw Error("", "metadata key '" + key + "': string value expected");
      h.put_string(*s);
      break;
    }
    case GGUFValueType::ARRAY: {
      const auto* a = std::get_if<GGUFArray>(&v.v);
      if (!a) throw Error("", "metadata key '" + key + "': array value expected");
      if (depth >= 8) throw Error("", "metadata key '" + key + "': arrays nested too deeply");
      h.put<uint32_t>(static_cast<uint32_t>(a->elem_type));
      h.put<uint64_t>(a->items.size());
      for (const auto& item : a->items) put_value(h, a->elem_type, item, key, depth + 1);
      break;
    }
    default:
      throw Error("", "metadata key '" + key + "': unknown value type");
  }
}

}  // namespace

uint64_t GGUFTensorInfo::nbytes() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const auto& tr = type_traits(type);
  return static_cast<uint64_t>(n / tr.block_size) * tr.type_size;
}

GGUFWriter::GGUFWriter() = default;
GGUFWriter::~GGUFWriter() = default;

void GGUFWriter::set(const std::string& key, GGUFValue value) {
  for (auto& [k, v] : kv_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

void GGUFWriter::remove(const std::string& key) {
  for (auto it = kv_.begin(); it != kv_.end(); ++it)
    if (it->first == key) {
      kv_.erase(it);
      return;
    }
}

const GGUFValue* GGUFWriter::find(const std::string& key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

uint64_t GGUFWriter::alignment() const {
  const GGUFValue* a = find("general.alignment");
  if (!a) return kDefaultAlignment;
  const int64_t x = a->is_integer() ? a->as_int() : 0;
  if (x <= 0 || (x & (x - 1)) != 0 || x > (1 << 20))
    throw Error("", "general.alignment must be a power of two, got " + a->to_display());
  return static_cast<uint64_t>(x);
}

void GGUFWriter::add_tensor(const std::string& name, GGMLType type, std::vector<int64_t> shape) {
  if (name.empty()) throw Error("", "tensor with an empty name");
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("", "duplicate tensor '" + name + "'");
  if (shape.empty() || shape.size() > 4)
    throw Error("", "tensor '" + name + "' must have 1 to 4 dimensions");
  for (int64_t d : shape)
    if (d <= 0) throw Error("", "tensor '" + name + "' has a non-positive dimension");
  const auto tr = find_type_traits(static_cast<uint32_t>(type));
  if (!tr) throw Error("", "tensor '" + name + "' has an unknown type");
  if (shape[0] % tr->block_size != 0)
    throw Error("", "tensor '" + name + "' row length " + std::to_string(shape[0]) +
                        " is not a multiple of the " + tr->name + " block size " +
                        std::to_string(tr->block_size));
  tensors_.push_back({name, type, std::move(shape)});
}

void GGUFWriter::begin(const std::string& path, bool overwrite) {
  const uint64_t align = alignment();
  HeaderBuffer h;
  h.put<uint32_t>(kMagic);
  h.put<uint32_t>(kVersion);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(kv_.size());
  for (const auto& [key, v] : kv_) {
    h.put_string(key);
    h.put<uint32_t>(static_cast<uint32_t>(v.type));
    put_value(h, v.type, v, key, 0);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    h.put_string(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) h.put<uint64_t>(static_cast<uint64_t>(d));
    h.put<uint32_t>(static_cast<uint32_t>(t.type));
    h.put<uint64_t>(offset);
    offset += (t.nbytes() + align - 1) / align * align;
  }
  out_ = std::make_unique<AtomicFile>(path, overwrite);
  out_->write(h.bytes().data(), h.bytes().size());
  out_->pad_to(align);
  data_start_ = out_->size();
  cur_ = 0;
  cur_written_ = 0;
  close_tensor_if_complete();
}

void GGUFWriter::close_tensor_if_complete() {
  // Skips past tensors whose data is complete, padding after each.
  while (cur_ < tensors_.size() && cur_written_ == tensors_[cur_].nbytes()) {
    out_->pad_to(alignment());
    ++cur_;
    cur_written_ = 0;
  }
}

void GGUFWriter::write_data(const void* data, size_t n) {
  if (!out_) throw std::logic_error("GGUFWriter::write_data before begin");
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    if (cur_ >= tensors_.size())
      throw Error(out_->path(), "more tensor data than the header describes");
    const uint64_t want = tensors_[cur_].nbytes() - cur_written_;
    const size_t k = static_cast<size_t>(std::min<uint64_t>(want, n));
    out_->write(p, k);
    p += k;
    n -= k;
    cur_written_ += k;
    close_tensor_if_complete();
  }
}

void GGUFWriter::finish() {
  if (!out_) throw std::logic_error("GGUFWriter::finish before begin");
  if (cur_ != tensors_.size())
    throw Error(out_->path(), "tensor '" + tensors_[cur_].name + "' is missing data");
  out_->commit();
  out_.reset();
}

void GGUFWriter::write_file(const std::string& path, bool overwrite,
                            const std::vector<const void*>& data) {
  if (data.size() != tensors_.size())
    throw std::logic_error("GGUFWriter::write_file: data count differs from tensor count");
  begin(path, overwrite);
  for (size_t i = 0; i < data.size(); ++i) write_data(data[i], tensors_[i].nbytes());
  finish();
}

}  // namespace squish
