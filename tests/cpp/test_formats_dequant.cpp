// squish::dequantize_row against the gguf package's dequantizers (goldens written by
// tests/oracle/formats_goldens.py): every float must match bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "test_support.h"

namespace squish {
namespace {

struct Record {
  uint32_t type;
  uint64_t n;
  std::vector<uint8_t> bytes;
  std::vector<float> expected;
};

std::vector<Record> load_records(const std::string& name) {
  const std::string data =
      test::read_file(test::source_dir() + "/tests/goldens/formats/" + name);
  std::vector<Record> out;
  size_t pos = 0;
  while (pos < data.size()) {
    EXPECT_EQ(data.compare(pos, 4, "SQDQ"), 0) << "bad record magic at " << pos;
    if (data.compare(pos, 4, "SQDQ") != 0) break;
    Record r;
    uint64_t nbytes;
    std::memcpy(&r.type, data.data() + pos + 4, 4);
    std::memcpy(&r.n, data.data() + pos + 8, 8);
    std::memcpy(&nbytes, data.data() + pos + 16, 8);
    pos += 24;
    r.bytes.assign(data.begin() + pos, data.begin() + pos + nbytes);
    pos += nbytes;
    r.expected.resize(r.n);
    std::memcpy(r.expected.data(), data.data() + pos, r.n * 4);
    pos += r.n * 4;
    out.push_back(std::move(r));
  }
  return out;
}

// Dequantizes every record and counts the floats whose bits differ from the oracle.
void check_records(const std::vector<Record>& recs, std::map<std::string, int>& per_type) {
  for (const auto& r : recs) {
    const auto t = static_cast<GGMLType>(r.type);
    ASSERT_TRUE(can_dequantize(t)) << type_name(t);
    ASSERT_EQ(row_bytes(t, static_cast<int64_t>(r.n)), r.bytes.size()) << type_name(t);
    std::vector<float> got(r.n, -12345.0f);
    dequantize_row(t, r.bytes.data(), got.data(), static_cast<int64_t>(r.n));
    size_t bad = 0, first = r.n;
    for (size_t i = 0; i < r.n; ++i)
      if (std::memcmp(&got[i], &r.expected[i], 4) != 0) {
        if (first == r.n) first = i;
        ++bad;
      }
    EXPECT_EQ(bad, 0u) << type_name(t) << ": " << bad << " of " << r.n << " differ; first at "
                       << first << " got " << (first < r.n ? got[first] : 0.f) << " want "
                       << (first < r.n ? r.expected[first] : 0.f);
    per_type[type_name(t)]++;
  }
}

TEST(FormatsDequant, RandomBlocksBitExact) {
  const auto recs = load_records("dequant_random.bin");
  std::map<std::string, int> per_type;
  check_records(recs, per_type);
  for (const char* name : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                           "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS",
                           "TQ1_0", "TQ2_0"})
    EXPECT_GE(per_type[name], 1) << "no golden for " << name;
}

TEST(FormatsDequant, ModelRowsBitExact) {
  const auto recs = load_records("dequant_models.bin");
  std::map<std::string, int> per_type;
  check_records(recs, per_type);
  for (const char* name : {"Q4_1", "Q8_0", "Q5_0", "Q4_K", "Q6_K"})
    EXPECT_GE(per_type[name], 1) << "no model golden for " << name;
}

TEST(FormatsDequant, SupportedTypes) {
  EXPECT_TRUE(can_dequantize(GGMLType::Q4_K));
  EXPECT_FALSE(can_dequantize(GGMLType::IQ2_XXS));
  std::vector<float> out(256);
  std::vector<uint8_t> in(256);
  EXPECT_THROW(dequantize_row(GGMLType::IQ2_XXS, in.data(), out.data(), 256), std::exception);
  EXPECT_THROW(dequantize_row(GGMLType::Q4_0, in.data(), out.data(), 31), std::exception);
}

}  // namespace
}  // namespace squish
