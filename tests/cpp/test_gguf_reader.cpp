// GGUF reader: parsing of valid files (built byte by byte here, and the real models) and rejection
// of every kind of malformed header with a squish::Error naming the file — never a crash, never a
// huge allocation. Build this test with -fsanitize=address to check memory safety on the same cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "test_support.h"

namespace squish {
namespace {

// Writes GGUF bytes field by field and remembers where the interesting fields are, so tests can
// corrupt exactly one of them.
class GGUFBytes {
 public:
  std::string b;
  size_t at_version = 0, at_n_tensors = 0, at_n_kv = 0;
  std::vector<size_t> at_key_len, at_value;          // per key/value: key length, value start
  std::vector<size_t> at_tensor_name_len, at_n_dims, at_dims, at_type, at_offset;  // per tensor

  void u8(uint8_t x) { b.push_back(static_cast<char>(x)); }
  void u32(uint32_t x) { b.append(reinterpret_cast<const char*>(&x), 4); }
  void u64(uint64_t x) { b.append(reinterpret_cast<const char*>(&x), 8); }
  void f32(float x) { b.append(reinterpret_cast<const char*>(&x), 4); }
  void str(const std::string& s) { u64(s.size()); b += s; }

  void header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b += "GGUF";
    at_version = b.size();
    u32(version);
    at_n_tensors = b.size();
    u64(n_tensors);
    at_n_kv = b.size();
    u64(n_kv);
  }
  void key(const std::string& k, GGUFValueType t) {
    at_key_len.push_back(b.size());
    str(k);
    u32(static_cast<uint32_t>(t));
    at_value.push_back(b.size());
  }
  void tensor_info(const std::string& name, std::vector<uint64_t> dims, GGMLType type, uint64_t offset) {
    at_tensor_name_len.push_back(b.size());
    str(name);
    at_n_dims.push_back(b.size());
    u32(static_cast<uint32_t>(dims.size()));
    at_dims.push_back(b.size());
    for (uint64_t d : dims) u64(d);
    at_type.push_back(b.size());
    u32(static_cast<uint32_t>(type));
    at_offset.push_back(b.size());
    u64(offset);
  }
  void align(size_t a) {
    while (b.size() % a) u8(0);
  }
  template <typename T>
  void patch(size_t pos, T x) {
    std::memcpy(b.data() + pos, &x, sizeof(T));
  }
};

// A small valid model-like file: every scalar type, a string array, a nested array, two tensors
// (F32 [3 x 2] and Q8_0 [32 x 2]) with their data.
GGUFBytes valid_file(uint32_t version = 3) {
  GGUFBytes g;
  g.header(version, 2, 8);
  g.key("general.architecture", GGUFValueType::STRING);
  g.str("llama");
  g.key("test.u8", GGUFValueType::UINT8);
  g.u8(200);
  g.key("test.i32", GGUFValueType::INT32);
  g.u32(static_cast<uint32_t>(-7));
  g.key("test.f32", GGUFValueType::FLOAT32);
  g.f32(0.5f);
  g.key("test.bool", GGUFValueType::BOOL);
  g.u8(1);
  g.key("test.u64", GGUFValueType::UINT64);
  g.u64(uint64_t{1} << 40);
  g.key("test.strings", GGUFValueType::ARRAY);
  g.u32(static_cast<uint32_t>(GGUFValueType::STRING));
  g.u64(3);
  g.str("a");
  g.str("bc");
  g.str("");
  g.key("test.nested", GGUFValueType::ARRAY);
  g.u32(static_cast<uint32_t>(GGUFValueType::ARRAY));
  g.u64(2);
  for (int i = 0; i < 2; ++i) {
    g.u32(static_cast<uint32_t>(GGUFValueType::INT16));
    g.u64(2);
    g.b.append("\x01\x00\x02\x00", 4);
  }
  g.tensor_info("a.weight", {3, 2}, GGMLType::F32, 0);
  g.tensor_info("b.weight", {32, 2}, GGMLType::Q8_0, 32);
  g.align(32);
  for (int i = 0; i < 6; ++i) g.f32(static_cast<float>(i) - 2.5f);
  g.align(32);
  for (int blk = 0; blk < 2; ++blk) {
    g.b.append("\x00\x3c", 2);  // fp16 scale 1.0
    for (int i = 0; i < 32; ++i) g.u8(static_cast<uint8_t>(static_cast<int8_t>(i - 16 + blk)));
  }
  return g;
}

std::string write_temp(const std::string& bytes, const std::string& name = "t.gguf") {
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Opens the bytes and expects a squish::Error naming the file whose problem contains `needle`.
void expect_error(const std::string& bytes, const std::string& needle) {
  const std::string path = write_temp(bytes);
  try {
    GGUFFile f(path);
    FAIL() << "accepted a corrupt file; expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "error spans lines: " << e.what();
  }
}

TEST(GGUFReader, ParsesEveryValueTypeAndTensor) {
  const std::string path = write_temp(valid_file().b);
  GGUFFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.get_int("test.u8"), 200);
  EXPECT_EQ(f.get_int("test.i32"), -7);
  EXPECT_DOUBLE_EQ(f.get_float("test.f32"), 0.5);
  EXPECT_TRUE(f.get_bool("test.bool", false));
  EXPECT_EQ(f.get_int("test.u64"), int64_t{1} << 40);
  const GGUFArray& s = f.get_array("test.strings");
  ASSERT_EQ(s.items.size(), 3u);
  EXPECT_EQ(s.items[1].as_string(), "bc");
  EXPECT_EQ(s.items[2].as_string(), "");
  const GGUFArray& n = f.get_array("test.nested");
  ASSERT_EQ(n.items.size(), 2u);
  EXPECT_EQ(n.items[1].as_array().items[1].as_int(), 2);
  EXPECT_EQ(f.metadata().size(), 8u);
  EXPECT_EQ(f.metadata()[3].first, "test.f32");

  ASSERT_EQ(f.tensors().size(), 2u);
  const GGUFTensor& a = f.tensor("a.weight");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(a.nbytes, 24u);
  EXPECT_EQ(a.n_rows(), 2);
  const std::vector<float> av = f.dequantize(a);
  ASSERT_EQ(av.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(av[i], i - 2.5f);
  const GGUFTensor& q = f.tensor("b.weight");
  EXPECT_EQ(q.nbytes, 68u);
  EXPECT_EQ(q.data - a.data, 32);
  const std::vector<float> qv = f.dequantize(q);
  EXPECT_EQ(qv[0], -16.f);
  EXPECT_EQ(qv[63], 16.f);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
  EXPECT_THROW(f.tensor("nope"), Error);
  EXPECT_THROW(f.get_string("test.u8"), Error);  // wrong kind names the key
  EXPECT_THROW(f.get_int("missing.key"), Error);
}

TEST(GGUFReader, ParsesVersion2) {
  GGUFFile f(write_temp(valid_file(2).b));
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST(GGUFReader, RejectsWrongMagic) {
  GGUFBytes g = valid_file();
  g.b[0] = 'X';
  expect_error(g.b, "bad magic");
  expect_error("", "not a GGUF file");
  expect_error("GG", "not a GGUF file");
}

TEST(GGUFReader, RejectsUnsupportedVersion) {
  GGUFBytes g = valid_file();
  g.patch<uint32_t>(g.at_version, 99);
  expect_error(g.b, "unsupported GGUF version 99");
}

TEST(GGUFReader, RejectsEveryTruncation) {
  const std::string full = valid_file().b;
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string path = write_temp(full.substr(0, n));
    EXPECT_THROW(GGUFFile{path}, Error) << "truncated to " << n << " bytes";
  }
}

TEST(GGUFReader, SurvivesEveryHeaderBitFlip) {
  // Each flipped bit either still parses or gives a squish::Error; never anything else.
  const GGUFBytes g = valid_file();
  const size_t header_end = g.at_offset.back() + 8;
  int rejected = 0;
  for (size_t byte = 0; byte < header_end; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = g.b;
      b[byte] = static_cast<char>(b[byte] ^ (1 << bit));
      const std::string path = write_temp(b);
      try {
        GGUFFile f(path);
        for (const GGUFTensor& t : f.tensors())
          if (can_dequantize(t.type)) f.dequantize(t);
      } catch (const Error& e) {
        ++rejected;
        EXPECT_EQ(e.file(), path);
      }
    }
  }
  EXPECT_GT(rejected, static_cast<int>(header_end));  // most flips must be caught
}

TEST(GGUFReader, RejectsAbsurdTensorCount) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_n_tensors, uint64_t{1} << 60);
  expect_error(g.b, "tensor count");
}

TEST(GGUFReader, RejectsAbsurdMetadataCount) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_n_kv, ~uint64_t{0});
  expect_error(g.b, "metadata count");
}

TEST(GGUFReader, RejectsAbsurdKeyLength) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_key_len[1], uint64_t{1} << 62);
  expect_error(g.b, "exceeds the file");
}

TEST(GGUFReader, RejectsAbsurdStringValueLength) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_value[0], ~uint64_t{0} - 3);
  expect_error(g.b, "exceeds the file");
}

TEST(GGUFReader, RejectsAbsurdArrayLength) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_value[6] + 4, uint64_t{1} << 58);  // after the element type
  expect_error(g.b, "array length");
}

TEST(GGUFReader, RejectsUnknownValueType) {
  GGUFBytes g = valid_file();
  g.patch<uint32_t>(g.at_value[1] - 4, 77);
  expect_error(g.b, "unknown metadata type 77");
}

TEST(GGUFReader, RejectsAbsurdDimensionCount) {
  GGUFBytes g = valid_file();
  g.patch<uint32_t>(g.at_n_dims[0], 0x7fffffff);
  expect_error(g.b, "dimensions");
  g = valid_file();
  g.patch<uint32_t>(g.at_n_dims[0], 0);
  expect_error(g.b, "dimensions");
}

TEST(GGUFReader, RejectsAbsurdDimensions) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_dims[0], ~uint64_t{0});
  expect_error(g.b, "impossible shape");
  g = valid_file();
  g.patch<uint64_t>(g.at_dims[0], 0);
  expect_error(g.b, "impossible shape");
}

TEST(GGUFReader, RejectsShapesWhoseByteSizeOverflows) {
  // 2^40 x 2^22 F32 elements: 2^62 elements fit int64, but 2^64 bytes wrap a 64-bit size to 0.
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_dims[0], uint64_t{1} << 40);
  g.patch<uint64_t>(g.at_dims[0] + 8, uint64_t{1} << 22);
  expect_error(g.b, "beyond the end of the file");
}

TEST(GGUFReader, RejectsTensorOffsetBeyondEnd) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_offset[1], 1024 * 1024);
  expect_error(g.b, "beyond the end of the file");
  g = valid_file();
  g.patch<uint64_t>(g.at_offset[1], ~uint64_t{0} - 31);  // aligned, and offset + size wraps
  expect_error(g.b, "beyond the end of the file");
}

TEST(GGUFReader, RejectsTensorSizeBeyondEnd) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_dims[1] + 8, 3);  // b.weight becomes 32 x 3: one block more than stored
  expect_error(g.b, "beyond the end of the file");
}

TEST(GGUFReader, RejectsUnknownTensorType) {
  GGUFBytes g = valid_file();
  g.patch<uint32_t>(g.at_type[0], 1000);
  expect_error(g.b, "unknown type id 1000");
}

TEST(GGUFReader, RejectsMisalignedOffsetAndBadBlockRow) {
  GGUFBytes g = valid_file();
  g.patch<uint64_t>(g.at_offset[1], 33);
  expect_error(g.b, "not aligned");
  g = valid_file();
  g.patch<uint64_t>(g.at_dims[1], 31);  // Q8_0 rows must be multiples of 32
  expect_error(g.b, "block size");
}

TEST(GGUFReader, RejectsDuplicateKeysAndTensors) {
  GGUFBytes g = valid_file();
  std::memcpy(g.b.data() + g.at_key_len[2] + 8, "test.f32", 8);  // "test.i32" -> "test.f32"
  expect_error(g.b, "duplicate metadata key 'test.f32'");
  GGUFBytes d = valid_file();
  std::memcpy(d.b.data() + d.at_tensor_name_len[1] + 8, "a", 1);  // "b.weight" -> "a.weight"
  expect_error(d.b, "duplicate tensor 'a.weight'");
}

TEST(GGUFReader, ReadsTheDefaultModels) {
  for (const auto& [path, arch, n] :
       {std::tuple{test::smollm2_path(), "llama", 272}, std::tuple{test::gemma3_path(), "gemma3", 236}}) {
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not fetched: " << path;
    GGUFFile f(path);
    EXPECT_EQ(f.architecture(), arch);
    EXPECT_EQ(static_cast<int>(f.tensors().size()), n);
    uint64_t end = 0;
    for (const GGUFTensor& t : f.tensors()) end = std::max<uint64_t>(end, f.data_offset() + t.offset + t.nbytes);
    EXPECT_LE(end, f.file_size());
    EXPECT_GT(end + f.alignment(), f.file_size());  // the last tensor ends the file
  }
}

}  // namespace
}  // namespace squish
