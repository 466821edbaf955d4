// SafeTensors writer (see safetensors_writer.h).
#include "squish/io/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/formats/half.h"

namespace squish {

namespace {

using json = nlohmann::ordered_json;

uint64_t n_elements(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

// Writes one .safetensors file holding tensors [begin, end).
void write_file(const std::string& path, const std::vector<STOutTensor>& ts, size_t begin,
                size_t end) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t off = 0;
  for (size_t i = begin; i < end; ++i) {
    const auto& t = ts[i];
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  AtomicFile f(path, true);
  const uint64_t hn = h.size();
  uint8_t le[8];
  for (int b = 0; b < 8; ++b) le[b] = static_cast<uint8_t>(hn >> (8 * b));
  f.write(le, 8);
  f.write(h.data(), h.size());
  for (size_t i = begin; i < end; ++i) f.write(ts[i].data.data(), ts[i].data.size());
  f.commit();
}

}  // namespace

void SafeTensorsWriter::add(STOutTensor t) {
  if (t.data.size() != n_elements(t.shape) * st_dtype_size(t.dtype))
    throw Error(t.name, "tensor byte count does not match its dtype and shape");
  for (const auto& o : tensors_)
    if (o.name == t.name) throw Error(t.name, "tensor written twice");
  total_ += t.data.size();
  tensors_.push_back(std::move(t));
}

void SafeTensorsWriter::add_f32(const std::string& name, STDType dtype, std::vector<int64_t> shape,
                                const float* values) {
  STOutTensor t;
  t.name = name;
  t.dtype = dtype;
  const size_t n = n_elements(shape);
  t.shape = std::move(shape);
  t.data.resize(n * st_dtype_size(dtype));
  if (dtype == STDType::F32) {
    std::memcpy(t.data.data(), values, n * 4);
  } else if (dtype == STDType::BF16 || dtype == STDType::F16) {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = dtype == STDType::BF16 ? fp32_to_bf16(values[i]) : fp32_to_fp16(values[i]);
      std::memcpy(t.data.data() + 2 * i, &h, 2);
    }
  } else {
    throw Error(name, std::string("cannot convert F32 to ") + st_dtype_name(dtype));
  }
  add(std::move(t));
}

std::vector<std::string> SafeTensorsWriter::write(const std::string& dir, uint64_t shard_bytes) const {
  // Greedy split: a new shard starts when the next tensor would push the current past the limit.
  std::vector<size_t> starts = {0};
  uint64_t cur = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (cur > 0 && cur + tensors_[i].data.size() > shard_bytes) {
      starts.push_back(i);
      cur = 0;
    }
    cur += tensors_[i].data.size();
  }
  starts.push_back(tensors_.size());
  const size_t n_shards = starts.size() - 1;
  std::vector<std::string> names;
  if (n_shards == 1) {
    names.push_back("model.safetensors");
    write_file(dir + "/" + names[0], tensors_, 0, tensors_.size());
    return names;
  }
  json index = json::object();
  index["metadata"] = {{"total_size", total_}};
  json weight_map = json::object();
  for (size_t s = 0; s < n_shards; ++s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, n_shards);
    names.push_back(buf);
    write_file(dir + "/" + buf, tensors_, starts[s], starts[s + 1]);
    for (size_t i = starts[s]; i < starts[s + 1]; ++i) weight_map[tensors_[i].name] = buf;
  }
  index["weight_map"] = weight_map;
  write_file_atomic(dir + "/model.safetensors.index.json", index.dump(2), true);
  names.push_back("model.safetensors.index.json");
  return names;
}

}  // namespace squish
