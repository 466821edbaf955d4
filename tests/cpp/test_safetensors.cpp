// SafeTensors reader: every dtype against numpy/ml_dtypes values (goldens written by
// tests/oracle/safetensors_fixtures.py with the safetensors package), sharding, and bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "squish/common/error.h"
#include "squish/io/safetensors.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using squish::SafeTensor;
using squish::SafeTensorsFile;
using squish::SafeTensorsSet;

namespace {

std::string golden(const std::string& rel) {
  return squish::test::source_dir() + "/tests/goldens/safetensors/dtypes/" + rel;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A SafeTensors file from a header string and raw data bytes.
std::string make_st(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// Expects opening `path` as a SafeTensors file to throw squish::Error mentioning `needle`,
// formatted as one line that starts with the file.
void expect_error(const std::string& path, const std::string& needle) {
  try {
    SafeTensorsSet::open(path);
    FAIL() << "no error for " << path << " (expected: " << needle << ")";
  } catch (const squish::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_FALSE(e.file().empty()) << what;
    EXPECT_EQ(what.rfind(e.file(), 0), 0u) << what;
  }
}

// Writes a file holding `header` (+ data) and expects it to be rejected with `needle`.
void expect_bad(const std::string& header, const std::string& data, const std::string& needle) {
  const std::string p = squish::test::temp_dir() + "/bad.safetensors";
  write_bytes(p, make_st(header, data));
  expect_error(p, needle);
}

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Checks every tensor of a checkpoint against the numpy values.
void check_against_numpy(const SafeTensorsSet& set) {
  const json manifest = json::parse(squish::test::read_file(golden("expected.json")));
  const std::string raw = squish::test::read_file(golden("expected.f32"));
  std::vector<float> expected(raw.size() / 4);
  std::memcpy(expected.data(), raw.data(), raw.size());
  ASSERT_EQ(set.tensors().size(), manifest.size());
  size_t checked = 0;
  for (auto it = manifest.begin(); it != manifest.end(); ++it) {
    const SafeTensor* t = set.find(it.key());
    ASSERT_NE(t, nullptr) << it.key();
    EXPECT_EQ(squish::st_dtype_name(t->dtype), it.value()["dtype"].get<std::string>()) << it.key();
    EXPECT_EQ(t->shape, it.value()["shape"].get<std::vector<int64_t>>()) << it.key();
    const size_t off = it.value()["offset"], count = it.value()["count"];
    ASSERT_EQ(static_cast<size_t>(t->n_elements()), count) << it.key();
    EXPECT_EQ(t->nbytes, count * squish::st_dtype_size(t->dtype)) << it.key();
    const std::vector<float> got = t->to_f32();
    for (size_t i = 0; i < count; ++i) {
      ASSERT_TRUE(same_float(got[i], expected[off + i]))
          << it.key() << "[" << i << "]: " << got[i] << " vs numpy " << expected[off + i];
      ++checked;
    }
  }
  EXPECT_EQ(checked, raw.size() / 4);  // every value of every tensor
}

}  // namespace

TEST(SafeTensors, SingleFileEveryDTypeEqualsNumpy) {
  const auto set = SafeTensorsSet::open(golden("single/model.safetensors"));
  EXPECT_EQ(set.files().size(), 1u);
  EXPECT_TRUE(set.index_path().empty());
  check_against_numpy(set);
  EXPECT_EQ(set.metadata().at("format"), "pt");
  EXPECT_EQ(set.metadata().at("producer"), "squish oracle");
}

TEST(SafeTensors, DirectoryWithSingleFile) {
  const auto set = SafeTensorsSet::open(golden("single"));
  check_against_numpy(set);
}

TEST(SafeTensors, ShardedViaIndexEqualsNumpy) {
  for (const std::string& p : {golden("sharded"), golden("sharded/model.safetensors.index.json")}) {
    const auto set = SafeTensorsSet::open(p);
    EXPECT_EQ(set.files().size(), 3u);
    EXPECT_FALSE(set.index_path().empty());
    check_against_numpy(set);
    const auto single = SafeTensorsSet::open(golden("single"));
    EXPECT_EQ(set.metadata().at("total_size"), std::to_string(single.total_bytes()));
  }
}

TEST(SafeTensors, ZeroCopy) {
  const SafeTensorsFile f(golden("single/model.safetensors"));
  const std::string bytes = squish::test::read_file(golden("single/model.safetensors"));
  for (const auto& t : f.tensors()) {
    if (t.nbytes == 0) continue;
    const size_t off = 8 + f.header_size() + t.begin;
    EXPECT_EQ(std::memcmp(t.data, bytes.data() + off, t.nbytes), 0) << t.name;
  }
}

TEST(SafeTensors, Fp8AllPatterns) {
  // Independent of the goldens: spot values of the OCP formats.
  const uint8_t e4m3[] = {0x38, 0x7E, 0x01, 0x7F, 0xFF, 0xC0};  // 1, 448, 2^-9, NaN, NaN, -2
  float out[6];
  squish::st_convert_to_f32(squish::STDType::F8_E4M3, e4m3, out, 6);
  EXPECT_EQ(out[0], 1.f);
  EXPECT_EQ(out[1], 448.f);
  EXPECT_EQ(out[2], std::ldexp(1.f, -9));
  EXPECT_TRUE(std::isnan(out[3]));
  EXPECT_TRUE(std::isnan(out[4]));
  EXPECT_EQ(out[5], -2.f);
  const uint8_t e5m2[] = {0x3C, 0x7B, 0x7C, 0xFC, 0x7D, 0x01};  // 1, 57344, inf, -inf, NaN, 2^-16
  squish::st_convert_to_f32(squish::STDType::F8_E5M2, e5m2, out, 6);
  EXPECT_EQ(out[0], 1.f);
  EXPECT_EQ(out[1], 57344.f);
  EXPECT_EQ(out[2], INFINITY);
  EXPECT_EQ(out[3], -INFINITY);
  EXPECT_TRUE(std::isnan(out[4]));
  EXPECT_EQ(out[5], std::ldexp(1.f, -16));
}

TEST(SafeTensorsBadInput, TruncatedFiles) {
  const std::string good = squish::test::read_file(golden("single/model.safetensors"));
  const std::string dir = squish::test::temp_dir();
  write_bytes(dir + "/tiny.safetensors", good.substr(0, 5));
  expect_error(dir + "/tiny.safetensors", "truncated");
  write_bytes(dir + "/empty.safetensors", "");
  expect_error(dir + "/empty.safetensors", "truncated");
  write_bytes(dir + "/header.safetensors", good.substr(0, 100));
  expect_error(dir + "/header.safetensors", "exceeds the file");
  write_bytes(dir + "/data.safetensors", good.substr(0, good.size() - 10));
  expect_error(dir + "/data.safetensors", "beyond the data section");
}

TEST(SafeTensorsBadInput, HeaderLengthBeyondFileOrAbsurd) {
  std::string bytes = squish::test::read_file(golden("single/model.safetensors"));
  const uint64_t huge = ~0ull;
  std::memcpy(bytes.data(), &huge, 8);
  const std::string p = squish::test::temp_dir() + "/len.safetensors";
  write_bytes(p, bytes);
  expect_error(p, "exceeds the file");
}

TEST(SafeTensorsBadInput, BadJson) {
  expect_bad("{\"a\": {\"dtype\": \"F32\", ", "", "not valid JSON");
  expect_bad("{\"a\": 1}}", "", "not valid JSON");
  expect_bad("[1, 2]", "", "does not start with '{'");
  expect_bad("{\"a\": 5}", "", "not a JSON object");
  expect_bad("{\"__metadata__\": {\"k\": 3}}", "", "__metadata__");
}

TEST(SafeTensorsBadInput, OffsetsAndShapes) {
  const std::string data(16, '\0');
  expect_bad(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}})", data, "beyond the data section");
  expect_bad(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data, "needs 12");
  expect_bad(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,16]}})", data, "needs 8");
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data, "reversed");
  expect_bad(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data, "negative");
  expect_bad(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", data, "data_offsets");
  expect_bad(R"({"a":{"dtype":"F32","shape":"4","data_offsets":[0,16]}})", data, "shape");
  expect_bad(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", data, "unsupported dtype 'F64'");
  expect_bad(R"({"a":{"shape":[2],"data_offsets":[0,16]}})", data, "dtype");
  expect_bad(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})",
             data, "absurd");
  expect_bad(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},
                 "b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data, "overlaps");
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                 "b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", data, "hole");
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data, "tensors cover 8");
  // A valid hand-made file opens.
  const std::string p = squish::test::temp_dir() + "/ok.safetensors";
  write_bytes(p, make_st(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})",
                         std::string("\x01\0\0\0\xff\xff\xff\xff\0\0\0\x80\x07\0\0\0", 16)));
  const SafeTensorsFile f(p);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].to_f32(), (std::vector<float>{1.f, -1.f, -2147483648.f, 7.f}));
}

TEST(SafeTensorsBadInput, Shards) {
  const std::string dir = squish::test::temp_dir();
  for (const auto& e : fs::directory_iterator(golden("sharded")))
    fs::copy_file(e.path(), dir + "/" + e.path().filename().string());
  fs::remove(dir + "/model-00002-of-00003.safetensors");
  expect_error(dir, "missing shard");

  const std::string dir2 = squish::test::temp_dir();
  fs::copy_file(golden("sharded/model-00001-of-00003.safetensors"), dir2 + "/a.safetensors");
  write_bytes(dir2 + "/model.safetensors.index.json",
              R"({"weight_map": {"no.such.tensor": "a.safetensors"}})");
  expect_error(dir2, "listed in the index is not in this shard");
  write_bytes(dir2 + "/model.safetensors.index.json", R"({"weight_map": {"x": "../a.safetensors"}})");
  expect_error(dir2, "outside the directory");
  write_bytes(dir2 + "/model.safetensors.index.json", R"({"weight_map": )");
  expect_error(dir2, "not valid JSON");
  write_bytes(dir2 + "/model.safetensors.index.json", R"({"metadata": {}})");
  expect_error(dir2, "weight_map");

  const std::string dir3 = squish::test::temp_dir();
  expect_error(dir3, "no .safetensors file");
  fs::copy_file(golden("sharded/model-00001-of-00003.safetensors"), dir3 + "/a.safetensors");
  fs::copy_file(golden("sharded/model-00002-of-00003.safetensors"), dir3 + "/b.safetensors");
  expect_error(dir3, "no model.safetensors.index.json");
  expect_error(dir3 + "/missing.safetensors", "cannot open");
}

TEST(SafeTensorsBadInput, BitFlippedHeaderNeverCrashes) {
  const std::string good = squish::test::read_file(golden("single/model.safetensors"));
  uint64_t hlen;
  std::memcpy(&hlen, good.data(), 8);
  const std::string p = squish::test::temp_dir() + "/flip.safetensors";
  int rejected = 0, accepted = 0;
  for (size_t pos = 0; pos < 8 + hlen; pos += 3) {
    std::string bytes = good;
    bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << (pos % 8)));
    write_bytes(p, bytes);
    try {
      const auto set = SafeTensorsSet::open(p);
      for (const auto* t : set.tensors()) (void)t->to_f32();
      ++accepted;
    } catch (const squish::Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(accepted, 0);  // flips inside names or metadata strings stay valid
}

// Fuzz finding: an empty F32 tensor ([0, 4]) converted through a null buffer (memcpy of 0 bytes
// from or to null is undefined; UBSan in scripts/sanitize.sh and the fuzz build reports it).
TEST(SafeTensors, EmptyTensorsConvertToNothing) {
  const std::string dir = squish::test::temp_dir();
  for (const char* dtype : {"F32", "F16", "BF16", "I8"}) {
    const std::string path = dir + "/empty_" + dtype + ".safetensors";
    write_bytes(path, make_st(std::string(R"({"e":{"dtype":")") + dtype + R"(","shape":[0,4],"data_offsets":[0,0]}})", ""));
    const auto set = SafeTensorsSet::open(path);
    const SafeTensor* t = set.find("e");
    ASSERT_NE(t, nullptr) << dtype;
    EXPECT_TRUE(t->to_f32().empty()) << dtype;
    t->to_f32(nullptr);
  }
}
