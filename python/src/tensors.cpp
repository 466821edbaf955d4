// squish._squish.tensors: every tensor of a GGUF file or a SafeTensors checkpoint as a read-only
// numpy array over the file's memory map (no copy); the arrays keep the mapping alive.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_reader.h"
#include "squish/io/safetensors.h"

namespace squish::python {
namespace {

using ReadOnlyArray = nb::ndarray<nb::numpy, nb::ro>;
// (name, type name, shape of the elements in numpy order, the array)
using TensorEntry = std::tuple<std::string, std::string, std::vector<int64_t>, ReadOnlyArray>;

nb::dlpack::dtype dtype_of(nb::dlpack::dtype_code code, int bits) {
  return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(bits), 1};
}
nb::dlpack::dtype float_dtype(int bits) { return dtype_of(nb::dlpack::dtype_code::Float, bits); }
nb::dlpack::dtype int_dtype(int bits) { return dtype_of(nb::dlpack::dtype_code::Int, bits); }
nb::dlpack::dtype uint_dtype(int bits) { return dtype_of(nb::dlpack::dtype_code::UInt, bits); }

// An array of `shape` over `data` (never null: numpy wants an address even for no elements),
// keeping `owner` alive.
ReadOnlyArray view(const uint8_t* data, const std::vector<int64_t>& shape, nb::dlpack::dtype dtype, nb::handle owner) {
  static const uint8_t nothing = 0;
  std::vector<size_t> dims(shape.begin(), shape.end());
  return ReadOnlyArray(const_cast<uint8_t*>(data ? data : &nothing), dims.size(), dims.data(), owner, nullptr, dtype);
}

// Keeps an opened file (its mapping) alive as long as a Python object refers to the capsule.
template <class T>
nb::capsule keep_alive(std::shared_ptr<T> file) {
  return nb::capsule(new std::shared_ptr<T>(std::move(file)),
                     [](void* p) noexcept { delete static_cast<std::shared_ptr<T>*>(p); });
}

// GGUF: plain types as their numpy dtype (BF16 as uint16), block types as the raw bytes of each row
// (uint8, the last dimension the row's bytes), as gguf-py's reader lays them out.
std::vector<TensorEntry> gguf_tensors(const std::string& path) {
  auto file = std::make_shared<GGUFFile>(path);
  const nb::capsule owner = keep_alive(file);
  std::vector<TensorEntry> out;
  for (const GGUFTensor& t : file->tensors()) {
    const std::vector<int64_t> shape(t.shape.rbegin(), t.shape.rend());  // numpy order
    nb::dlpack::dtype dtype = uint_dtype(8);
    std::vector<int64_t> array_shape = shape;
    switch (t.type) {
      case GGMLType::F32: dtype = float_dtype(32); break;
      case GGMLType::F16: dtype = float_dtype(16); break;
      case GGMLType::F64: dtype = float_dtype(64); break;
      case GGMLType::BF16: dtype = uint_dtype(16); break;
      case GGMLType::I8: dtype = int_dtype(8); break;
      case GGMLType::I16: dtype = int_dtype(16); break;
      case GGMLType::I32: dtype = int_dtype(32); break;
      case GGMLType::I64: dtype = int_dtype(64); break;
      default:
        if (array_shape.empty()) array_shape.push_back(1);
        array_shape.back() = static_cast<int64_t>(row_bytes(t.type, t.row_length()));
    }
    out.emplace_back(t.name, type_name(t.type), shape, view(t.data, array_shape, dtype, owner));
  }
  return out;
}

// SafeTensors (a file, an index or a directory): every dtype as numpy holds it; BF16 as uint16 and
// the FP8 types as uint8 (numpy has neither).
std::vector<TensorEntry> safetensors_tensors(const std::string& path) {
  auto set = std::make_shared<SafeTensorsSet>(SafeTensorsSet::open(path));
  const nb::capsule owner = keep_alive(set);
  std::vector<TensorEntry> out;
  for (const SafeTensor* t : set->tensors()) {
    nb::dlpack::dtype dtype = uint_dtype(8);
    switch (t->dtype) {
      case STDType::F32: dtype = float_dtype(32); break;
      case STDType::F16: dtype = float_dtype(16); break;
      case STDType::BF16: dtype = uint_dtype(16); break;
      case STDType::F8_E4M3:
      case STDType::F8_E5M2:
      case STDType::U8: dtype = uint_dtype(8); break;
      case STDType::I8: dtype = int_dtype(8); break;
      case STDType::I32: dtype = int_dtype(32); break;
      case STDType::I64: dtype = int_dtype(64); break;
    }
    out.emplace_back(t->name, st_dtype_name(t->dtype), t->shape, view(t->data, t->shape, dtype, owner));
  }
  return out;
}

bool starts_with_gguf_magic(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  char magic[4] = {};
  std::ifstream f(path, std::ios::binary);
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

void bind_tensors(nb::module_& m) {
  m.def(
      "tensors",
      [](const std::string& path) {
        return starts_with_gguf_magic(path) ? gguf_tensors(path) : safetensors_tensors(path);
      },
      nb::arg("path"),
      "Every tensor of a GGUF file or SafeTensors checkpoint as (name, type, shape, read-only array over "
      "the file's mapping).");
}

}  // namespace squish::python
