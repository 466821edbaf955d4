// SafeTensors single-file reader: header parsing and strict validation, element conversion.
#include "squish/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/formats/half.h"
#include "squish/formats/number_formats.h"

namespace squish {

namespace {

// The reference implementation refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// At most this many dimensions per tensor.
constexpr size_t kMaxRank = 16;

struct DTypeInfo {
  STDType type;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {STDType::F32, "F32", 4},         {STDType::F16, "F16", 2},
    {STDType::BF16, "BF16", 2},       {STDType::F8_E4M3, "F8_E4M3", 1},
    {STDType::F8_E5M2, "F8_E5M2", 1}, {STDType::I8, "I8", 1},
    {STDType::U8, "U8", 1},           {STDType::I32, "I32", 4},
    {STDType::I64, "I64", 8},
};

// OCP FP8 E4M3 ("fn"): bias 7, no infinities, S.1111.111 is NaN.
float fp8_e4m3_to_f32(uint8_t v) {
  const float sign = (v & 0x80) ? -1.f : 1.f;
  const int exp = (v >> 3) & 0xf;
  const int mant = v & 0x7;
  if (exp == 0xf && mant == 0x7) return std::nanf("");
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), -9);  // mant/8 * 2^-6
  return sign * std::ldexp(static_cast<float>(8 + mant), exp - 7 - 3);
}

// OCP FP8 E5M2: IEEE-like, bias 15, exponent 31 holds inf / NaN.
float fp8_e5m2_to_f32(uint8_t v) {
  const float sign = (v & 0x80) ? -1.f : 1.f;
  const int exp = (v >> 2) & 0x1f;
  const int mant = v & 0x3;
  if (exp == 0x1f) return mant ? std::nanf("") : sign * INFINITY;
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), -16);  // mant/4 * 2^-14
  return sign * std::ldexp(static_cast<float>(4 + mant), exp - 15 - 2);
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reads a non-negative integer from JSON; nullopt when it is not one.
std::optional<uint64_t> as_u64(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

}  // namespace

const char* st_dtype_name(STDType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.name;
  return "?";
}

std::optional<STDType> parse_st_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return d.type;
  return std::nullopt;
}

size_t st_dtype_size(STDType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.size;
  return 0;
}

float st_round(float v, STDType t) {
  if (t == STDType::BF16) return bf16_to_fp32(fp32_to_bf16(v));
  if (t == STDType::F16) return fp16_to_fp32(fp32_to_fp16(v));
  return v;
}

void round_scales(QuantizedMatrix& q, STDType dtype) {
  for (float& s : q.scales) s = st_round(s, dtype);
}

void st_convert_to_f32(STDType t, const uint8_t* src, float* dst, size_t n) {
  if (n == 0) return;  // an empty tensor's buffer may be null (memcpy must not see it)
  switch (t) {
    case STDType::F32:
      std::memcpy(dst, src, n * 4);
      break;
    case STDType::F16:
      for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load<uint16_t>(src + 2 * i));
      break;
    case STDType::BF16:
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load<uint16_t>(src + 2 * i));
      break;
    case STDType::F8_E4M3:
      for (size_t i = 0; i < n; ++i) dst[i] = fp8_e4m3_to_f32(src[i]);
      break;
    case STDType::F8_E5M2:
      for (size_t i = 0; i < n; ++i) dst[i] = fp8_e5m2_to_f32(src[i]);
      break;
    case STDType::I8:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(src[i]));
      break;
    case STDType::U8:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      break;
    case STDType::I32:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int32_t>(src + 4 * i));
      break;
    case STDType::I64:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int64_t>(src + 8 * i));
      break;
  }
}

int64_t SafeTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> SafeTensor::to_f32() const {
  std::vector<float> out(static_cast<size_t>(n_elements()));
  to_f32(out.data());
  return out;
}

void SafeTensor::to_f32(float* dst) const {
  const int64_t n = n_elements();
  const size_t esize = st_dtype_size(dtype);
  if (n < (1 << 16)) {
    st_convert_to_f32(dtype, data, dst, static_cast<size_t>(n));
    return;
  }
  parallel_for(n, [&](int64_t b, int64_t e) {
    st_convert_to_f32(dtype, data + b * esize, dst + b, static_cast<size_t>(e - b));
  }, 4096);
}

SafeTensorsFile::SafeTensorsFile(const std::string& path) : map_(path) {
  const size_t fsize = map_.size();
  if (fsize < 8)
    throw Error(path, "truncated: " + std::to_string(fsize) +
                          " bytes, too small for a SafeTensors header length");
  header_size_ = load<uint64_t>(map_.data());
  if (header_size_ > fsize - 8)
    throw Error(path, "header length " + std::to_string(header_size_) + " exceeds the file (" +
                          std::to_string(fsize) + " bytes); truncated or not a SafeTensors file");
  if (header_size_ > kMaxHeaderBytes)
    throw Error(path, "header length " + std::to_string(header_size_) + " is absurd (limit " +
                          std::to_string(kMaxHeaderBytes) + ")");
  if (header_size_ < 2) throw Error(path, "header length " + std::to_string(header_size_) +
                                              " is too small for a JSON object");
  const char* hbegin = reinterpret_cast<const char*>(map_.data() + 8);
  if (hbegin[0] != '{')
    throw Error(path, "header does not start with '{': not a SafeTensors file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hbegin, hbegin + header_size_);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw Error(path, "header is not valid JSON: " + what);
  }
  if (!header.is_object()) throw Error(path, "header is not a JSON object");

  const uint64_t data_start = 8 + header_size_;
  const uint64_t data_size = fsize - data_start;
  const uint8_t* data = map_.data() + data_start;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(path, "__metadata__ is not a JSON object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw Error(path, "__metadata__ value of '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!v.is_object()) throw Error(path, where + "entry is not a JSON object");
    const auto dt = v.find("dtype");
    const auto sh = v.find("shape");
    const auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) throw Error(path, where + "missing or non-string dtype");
    if (sh == v.end() || !sh->is_array()) throw Error(path, where + "missing or non-array shape");
    if (off == v.end() || !off->is_array() || off->size() != 2)
      throw Error(path, where + "data_offsets must be an array of two integers");
    SafeTensor t;
    t.name = name;
    t.file = path;
    const auto type = parse_st_dtype(dt->get<std::string>());
    if (!type) throw Error(path, where + "unsupported dtype '" + dt->get<std::string>() + "'");
    t.dtype = *type;
    if (sh->size() > kMaxRank)
      throw Error(path, where + "rank " + std::to_string(sh->size()) + " is absurd");
    uint64_t n_bytes = st_dtype_size(t.dtype);
    for (const auto& d : *sh) {
      const auto dim = as_u64(d);
      if (!dim) throw Error(path, where + "shape holds a non-integer or negative dimension");
      if (*dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(n_bytes, *dim, &n_bytes))
        throw Error(path, where + "shape is absurd (size overflows)");
      t.shape.push_back(static_cast<int64_t>(*dim));
    }
    const auto b = as_u64((*off)[0]);
    const auto e = as_u64((*off)[1]);
    if (!b || !e) throw Error(path, where + "data_offsets must be non-negative integers");
    if (*b > *e)
      throw Error(path, where + "data_offsets [" + std::to_string(*b) + ", " + std::to_string(*e) +
                            "] are reversed");
    if (*e > data_size)
      throw Error(path, where + "data_offsets [" + std::to_string(*b) + ", " + std::to_string(*e) +
                            "] run beyond the data section (" + std::to_string(data_size) +
                            " bytes); file truncated?");
    if (*e - *b != n_bytes)
      throw Error(path, where + "holds " + std::to_string(*e - *b) + " bytes but dtype " +
                            st_dtype_name(t.dtype) + " x shape needs " + std::to_string(n_bytes));
    t.begin = *b;
    t.nbytes = static_cast<size_t>(n_bytes);
    t.data = data + *b;
    tensors_.push_back(std::move(t));
  }

  // Tensors must tile the data section exactly: no overlaps, no holes (as the format requires).
  std::sort(tensors_.begin(), tensors_.end(), [](const SafeTensor& a, const SafeTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.nbytes < b.nbytes;
  });
  uint64_t pos = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const SafeTensor& t = tensors_[i];
    if (t.begin < pos)
      throw Error(path, "tensor '" + t.name + "' overlaps tensor '" + tensors_[i - 1].name + "'");
    if (t.begin > pos)
      throw Error(path, "hole of " + std::to_string(t.begin - pos) + " bytes before tensor '" +
                            t.name + "' in the data section");
    pos = t.begin + t.nbytes;
  }
  if (pos != data_size)
    throw Error(path, "data section holds " + std::to_string(data_size) + " bytes but tensors cover " +
                          std::to_string(pos));
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

const SafeTensor* SafeTensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace squish
