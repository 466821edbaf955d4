// SafeTensors writer (see safetensors_writer.h).
#include "squish/io/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

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

// values[0, n) converted to dtype's bytes at out.
void convert_f32(const std::string& name, STDType dtype, const float* values, size_t n, uint8_t* out) {
  if (dtype == STDType::F32) {
    std::memcpy(out, values, n * 4);
  } else if (dtype == STDType::BF16 || dtype == STDType::F16) {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = dtype == STDType::BF16 ? fp32_to_bf16(values[i]) : fp32_to_fp16(values[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
  } else {
    throw Error(name, std::string("cannot convert F32 to ") + st_dtype_name(dtype));
  }
}

// Rows per slice of add_f32_rows: about 4 MiB of F32.
int64_t slice_rows(int64_t cols) { return std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, cols)); }

}  // namespace

SafeTensorsWriter::SafeTensorsWriter(std::string spool_dir, uint64_t shard_bytes)
    : spool_dir_(std::move(spool_dir)), spool_shard_bytes_(shard_bytes) {}

SafeTensorsWriter::~SafeTensorsWriter() {
  if (spool_) std::fclose(spool_);
  for (size_t s = 0; s < n_spools_; ++s) std::remove(spool_path(s).c_str());
}

std::string SafeTensorsWriter::spool_path(size_t shard) const {
  return spool_dir_ + "/.spool-" + std::to_string(shard);
}

SafeTensorsWriter::Entry& SafeTensorsWriter::begin(const std::string& name, STDType dtype,
                                                   std::vector<int64_t> shape, uint64_t size) {
  if (size != n_elements(shape) * st_dtype_size(dtype))
    throw Error(name, "tensor byte count does not match its dtype and shape");
  for (const auto& o : tensors_)
    if (o.name == name) throw Error(name, "tensor written twice");
  Entry e{name, dtype, std::move(shape), size, 0, {}};
  if (!spool_dir_.empty()) {
    // The greedy split of write(): a new shard when this tensor would push the current one past the limit.
    if (!spool_ || (shard_fill_ > 0 && shard_fill_ + size > spool_shard_bytes_)) {
      if (spool_ && std::fclose(spool_) != 0) throw Error(spool_path(n_spools_ - 1), "cannot write spool");
      spool_ = std::fopen(spool_path(n_spools_).c_str(), "wb");
      if (!spool_) throw Error(spool_path(n_spools_), std::string("cannot create: ") + std::strerror(errno));
      ++n_spools_;
      shard_fill_ = 0;
    }
    e.shard = n_spools_ - 1;
    shard_fill_ += size;
  }
  total_ += size;
  tensors_.push_back(std::move(e));
  return tensors_.back();
}

void SafeTensorsWriter::spool_write(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, spool_) != n)
    throw Error(spool_path(n_spools_ - 1), std::string("cannot write spool: ") + std::strerror(errno));
}

void SafeTensorsWriter::add(STOutTensor t) {
  Entry& e = begin(t.name, t.dtype, t.shape, t.data.size());
  if (spool_dir_.empty()) e.data = std::move(t.data);
  else spool_write(t.data.data(), t.data.size());
}

void SafeTensorsWriter::add_f32(const std::string& name, STDType dtype, std::vector<int64_t> shape,
                                const float* values) {
  const size_t n = n_elements(shape);
  STOutTensor t{name, dtype, std::move(shape), {}};
  t.data.resize(n * st_dtype_size(dtype));
  convert_f32(name, dtype, values, n, t.data.data());
  add(std::move(t));
}

void SafeTensorsWriter::add_f32_rows(const std::string& name, STDType dtype, std::vector<int64_t> shape,
                                     int64_t rows, int64_t cols, const RowReader& read) {
  if (static_cast<uint64_t>(rows * cols) != n_elements(shape))
    throw Error(name, "rows × cols does not match the tensor's shape");
  const size_t es = st_dtype_size(dtype);
  Entry& e = begin(name, dtype, std::move(shape), static_cast<uint64_t>(rows * cols) * es);
  const bool spooling = !spool_dir_.empty();
  const int64_t step = slice_rows(cols);
  std::vector<float> f(static_cast<size_t>(std::min(step, rows) * cols));
  std::vector<uint8_t> slice(spooling ? f.size() * es : 0);  // spooling: one slice's bytes
  if (!spooling) e.data.resize(e.size);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t n = std::min(step, rows - r0);
    const size_t count = static_cast<size_t>(n * cols);
    read(r0, n, f.data());
    uint8_t* dst = spooling ? slice.data() : e.data.data() + static_cast<size_t>(r0 * cols) * es;
    convert_f32(name, dtype, f.data(), count, dst);
    if (spooling) spool_write(dst, count * es);
  }
}

std::vector<std::string> SafeTensorsWriter::write(const std::string& dir, uint64_t shard_bytes) {
  const bool spooled = !spool_dir_.empty();
  if (spooled && shard_bytes != spool_shard_bytes_)
    throw Error(dir, "spooled tensors were split for a different shard size");
  if (spool_) {
    if (std::fclose(spool_) != 0) throw Error(spool_path(n_spools_ - 1), "cannot write spool");
    spool_ = nullptr;
  }
  // Greedy split: a new shard starts when the next tensor would push the current past the limit.
  std::vector<size_t> starts = {0};
  uint64_t cur = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (cur > 0 && cur + tensors_[i].size > shard_bytes) {
      starts.push_back(i);
      cur = 0;
    }
    cur += tensors_[i].size;
  }
  starts.push_back(tensors_.size());
  const size_t n_shards = starts.size() - 1;

  // One shard file: header, then the tensors' bytes (from memory or copied from its spool).
  auto write_shard = [&](const std::string& path, size_t s) {
    json header = json::object();
    header["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (size_t i = starts[s]; i < starts[s + 1]; ++i) {
      const Entry& t = tensors_[i];
      if (spooled && t.shard != s) throw Error(path, "spool does not match the shard split");
      header[t.name] = {{"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.size}}};
      off += t.size;
    }
    std::string h = header.dump();
    while (h.size() % 8) h.push_back(' ');
    AtomicFile f(path, true);
    const uint64_t hn = h.size();
    uint8_t le[8];
    for (int b = 0; b < 8; ++b) le[b] = static_cast<uint8_t>(hn >> (8 * b));
    f.write(le, 8);
    f.write(h.data(), h.size());
    if (!spooled) {
      for (size_t i = starts[s]; i < starts[s + 1]; ++i) f.write(tensors_[i].data.data(), tensors_[i].size);
    } else if (starts[s] < starts[s + 1]) {
      const std::string sp = spool_path(s);
      std::FILE* in = std::fopen(sp.c_str(), "rb");
      if (!in) throw Error(sp, "cannot read spool");
      std::vector<char> buf(4 << 20);
      uint64_t copied = 0;
      for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), in)) > 0; copied += n) f.write(buf.data(), n);
      std::fclose(in);
      if (copied != off) throw Error(sp, "spool is short");
      std::remove(sp.c_str());  // frees its disk space before the next shard is copied
    }
    f.commit();
  };

  std::vector<std::string> names;
  if (n_shards == 1) {
    names.push_back("model.safetensors");
    write_shard(dir + "/" + names[0], 0);
    return names;
  }
  json index = json::object();
  index["metadata"] = {{"total_size", total_}};
  json weight_map = json::object();
  for (size_t s = 0; s < n_shards; ++s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, n_shards);
    names.push_back(buf);
    write_shard(dir + "/" + buf, s);
    for (size_t i = starts[s]; i < starts[s + 1]; ++i) weight_map[tensors_[i].name] = buf;
  }
  index["weight_map"] = weight_map;
  write_file_atomic(dir + "/model.safetensors.index.json", index.dump(2), true);
  names.push_back("model.safetensors.index.json");
  return names;
}

}  // namespace squish
